"""Each person is offered only what their role allows; a refusal says why."""

from __future__ import annotations

import re

from tests.portal.conftest import EDITOR, VIEWER


def _document_page(page, portal) -> None:
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    page.get_by_role("link", name="Travel policy").click()
    page.wait_for_url(re.compile(r"/documents/\d+/$"))


def test_a_viewer_is_not_offered_upload_delete_or_sources(sign_in, portal, indexed_document, shoot):
    """Issue 16: viewers were offered Upload, Delete and Sources, then got a bare 403."""
    page = sign_in(VIEWER)
    nav = page.locator("header nav")
    assert nav.get_by_role("link", name="Documents").count() == 1
    assert nav.get_by_role("link", name="Sources").count() == 0

    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    assert page.locator("input[type=file]").count() == 0
    assert page.get_by_role("button", name="Upload").count() == 0
    assert "needs the editor role" in page.locator(".role-note").inner_text()
    shoot(page, "documents-viewer")

    _document_page(page, portal)
    assert page.get_by_role("button", name="Delete").count() == 0
    assert page.get_by_role("link", name="Download original").count() == 1


def test_an_editor_may_upload_and_delete_but_not_manage_sources(sign_in, portal, indexed_document):
    page = sign_in(EDITOR)
    assert page.locator("header nav").get_by_role("link", name="Sources").count() == 0
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    assert page.locator("input[type=file]").count() == 1
    _document_page(page, portal)
    assert page.get_by_role("button", name="Delete").count() == 1


def test_a_refusal_says_why_and_links_back(sign_in, portal, shoot):
    page = sign_in(VIEWER)
    response = page.goto(portal.url(f"/sources/?workspace={portal.workspace}"))
    assert response.status == 403
    assert page.get_by_role("heading", name="You cannot do this here").is_visible()
    assert "needs the admin role" in page.locator("main").inner_text().lower()
    # The page keeps the portal's top bar and leads back.
    assert page.locator("header nav").get_by_role("link", name="Ask").is_visible()
    shoot(page, "forbidden-viewer")
    page.get_by_role("link", name="Back to the start page").click()
    page.wait_for_url(re.compile(r"/ask/"))
