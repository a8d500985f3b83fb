"""Members: a pending invitation is marked and can be sent again or withdrawn."""

from __future__ import annotations

import re

from tests.portal.conftest import OWNER, PHONE, axe_violations


def test_a_pending_invitation_is_marked_resent_and_withdrawn(sign_in, portal, shoot):
    page = sign_in(OWNER)
    page.goto(portal.url(f"/accounts/members/?workspace={portal.workspace}"))
    page.get_by_label("Email").fill("newcomer@portal.example")
    page.get_by_role("button", name="Add", exact=True).click()
    page.wait_for_url(re.compile(r"/accounts/members/"))
    row = page.locator("tr", has_text="newcomer@portal.example")
    assert row.get_by_text("Invitation pending").is_visible()
    # People who accepted long ago are not marked.
    assert (
        page.locator("tr", has_text="vera@portal.example").get_by_text("Invitation pending").count()
        == 0
    )
    assert axe_violations(page) == []
    shoot(page, "members-pending")

    row.get_by_role("button", name="Resend the invitation to newcomer@portal.example").click()
    page.wait_for_url(re.compile(r"/accounts/members/"))
    assert (
        "Sent the invitation to newcomer@portal.example again"
        in page.locator(".messages").inner_text()
    )

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Withdraw the invitation of newcomer@portal.example").click()
    page.wait_for_url(re.compile(r"/accounts/members/"))
    assert (
        "Withdrew the invitation of newcomer@portal.example"
        in page.locator(".messages").inner_text()
    )
    assert page.locator("tr", has_text="newcomer@portal.example").count() == 0

    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []
