"""Workspaces in the portal (they were in the Django admin only): create, rename,
archive and restore, with members one click away; viewers never see the controls."""

from __future__ import annotations

import re

from tests.portal.conftest import OWNER, PHONE, VIEWER, axe_violations


def test_the_owner_creates_renames_archives_and_restores_a_workspace(sign_in, portal, shoot):
    page = sign_in(OWNER)
    page.locator("header nav summary", has_text="Admin").click()
    page.locator("header nav").get_by_role("link", name="Workspaces", exact=True).click()
    page.wait_for_url(re.compile(r"/workspaces/$"))
    assert page.get_by_role("heading", name="Workspaces", level=1).is_visible()

    page.get_by_label("Name", exact=True).fill("Legal")
    page.get_by_role("button", name="Create workspace").click()
    row = page.locator("#workspace-legal")
    row.wait_for()
    assert "Created Legal" in page.locator(".messages").inner_text()
    assert row.get_by_role("link", name="0 members").get_attribute("href") == (
        "/accounts/members/?workspace=legal"
    )

    row.get_by_label("New name of Legal").fill("Legal and compliance")
    row.get_by_role("button", name="Rename").click()
    page.wait_for_url(re.compile(r"/workspaces/"))
    assert "Renamed the workspace to Legal and compliance" in page.locator(".messages").inner_text()
    assert axe_violations(page) == []
    shoot(page, "workspaces")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#workspace-legal").get_by_role(
        "button", name="Archive Legal and compliance"
    ).click()
    page.wait_for_url(re.compile(r"/workspaces/$"))
    archived = page.locator("table.archived #workspace-legal")
    assert archived.is_visible()
    # Out of use: the workspace switcher no longer offers it, its pages answer 404.
    assert page.locator("#ws option[value=legal]").count() == 0
    assert page.goto(portal.url("/documents/?workspace=legal")).status == 404
    page.goto(portal.url("/workspaces/"))
    assert axe_violations(page) == []
    shoot(page, "workspaces-archived")

    page.locator("table.archived").get_by_role(
        "button", name="Restore Legal and compliance"
    ).click()
    page.wait_for_url(re.compile(r"/workspaces/"))
    assert page.locator("table.archived #workspace-legal").count() == 0
    assert page.goto(portal.url("/documents/?workspace=legal")).status == 200

    # Deleting is for good: archived first, then the name typed to confirm.
    page.goto(portal.url("/workspaces/"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#workspace-legal").get_by_role(
        "button", name="Archive Legal and compliance"
    ).click()
    page.wait_for_url(re.compile(r"/workspaces/$"))
    archived = page.locator("table.archived #workspace-legal")
    archived.locator("summary", has_text="Delete").click()
    archived.get_by_label("Type Legal and compliance to confirm").fill("Legal")
    archived.get_by_role("button", name="Delete Legal and compliance for good").click()
    page.wait_for_url(re.compile(r"/workspaces/"))
    assert "to delete it" in page.locator("main").inner_text()
    archived = page.locator("table.archived #workspace-legal")
    archived.locator("summary", has_text="Delete").click()
    archived.get_by_label("Type Legal and compliance to confirm").fill("Legal and compliance")
    shoot(page, "workspaces-delete")
    archived.get_by_role("button", name="Delete Legal and compliance for good").click()
    page.wait_for_url(re.compile(r"/workspaces/$"))
    assert (
        "Deleted Legal and compliance and its 0 documents."
        in page.locator(".messages").inner_text()
    )
    assert page.locator("#workspace-legal").count() == 0
    assert page.goto(portal.url("/documents/?workspace=legal")).status == 404

    page.set_viewport_size(PHONE)
    page.goto(portal.url("/workspaces/"))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []


def test_a_viewer_gets_no_workspace_controls(sign_in, portal):
    page = sign_in(VIEWER)
    assert page.locator("header nav").get_by_role("link", name="Workspaces").count() == 0
    response = page.goto(portal.url("/workspaces/"))
    assert response.status == 403
    assert "needs the admin role" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="Create workspace").count() == 0
