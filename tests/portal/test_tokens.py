"""API tokens in the portal: created once, shown once, copied with a button."""

from __future__ import annotations

from tests.portal.conftest import EDITOR


def test_reloading_after_creating_a_token_does_not_create_another(sign_in, portal, shoot):
    """Issue 16: the form answered the POST itself, so a reload posted it again and made
    a second live token."""
    page = sign_in(EDITOR)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=portal.base_url)
    page.goto(portal.url("/accounts/tokens/"))
    page.fill("#token-name", "reload check")
    page.get_by_label("Ask questions").check()
    page.get_by_label("General").check()
    page.get_by_role("button", name="Create token").click()
    page.get_by_role("heading", name="Your new token").wait_for()
    secret = page.locator("#new-token").inner_text().strip()
    assert len(secret) > 20
    shoot(page, "token-created")

    page.get_by_role("button", name="Copy token").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    page.reload()
    assert page.get_by_role("heading", name="Your new token").count() == 0
    assert secret not in page.content()
    rows = page.locator("table tbody tr").filter(has_text="reload check")
    assert rows.count() == 1
