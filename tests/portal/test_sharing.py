"""My Documents and sharing in a real browser (docs/sharing.md): the editor uploads to
My Documents, shares the document into the team's workspace, and a viewer of the team
is told about it and finds it through Ask; unshared, it is gone from the viewer's next
answer."""

from __future__ import annotations

import re

from tests.portal.conftest import EDITOR, SLOW_MS, VIEWER, db_in_thread

# Words no other document of the shared portal workspace uses.
NOTE = b"""# Greenhouse watering rota

The orchids in the greenhouse are watered on Tuesdays by the facilities team.
Cacti need water once a month only.
"""
QUESTION = "On which day are the greenhouse orchids watered?"


def _greenhouse_erase(org_schema: str) -> None:
    """The note leaves the portal organization (its share goes with it)."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from ingestion.erasure import documents_erase
    from ingestion.models import Document
    from workspaces.rls import organization_scope

    try:
        with schema_context(org_schema), organization_scope():
            documents_erase(
                documents=Document.objects.filter(original_filename__startswith="greenhouse-")
            )
    finally:
        connection.close()


def test_an_editor_shares_from_my_documents_and_a_viewer_finds_it_through_ask(
    sign_in, portal, portal_org, django_db_blocker, tmp_path, shoot
):
    try:
        _shared_and_found(sign_in, portal, tmp_path, shoot)
    finally:
        db_in_thread(django_db_blocker, _greenhouse_erase, portal_org[0].schema)


def _ask(page, portal, question: str):
    page.goto(portal.url(f"/ask/?workspace={portal.workspace}"))
    page.fill("#question", question)
    page.click("form.ask button[type=submit]")
    page.wait_for_url(re.compile(r"conversation=\d+"), timeout=SLOW_MS)
    card = page.locator("section.answer[id^=question-]").last
    card.locator("form.feedback").wait_for(timeout=SLOW_MS)
    return card


def _shared_and_found(sign_in, portal, tmp_path, shoot) -> None:
    path = tmp_path / "greenhouse-rota.md"
    path.write_bytes(NOTE)
    editor = sign_in(EDITOR)
    editor.goto(portal.url("/documents/"))
    # My Documents is in the picker; the default workspace is still the team's.
    picker = editor.locator("select#ws")
    assert "My Documents" in picker.inner_text()
    mine = editor.locator("select#ws option", has_text="My Documents").get_attribute("value")
    assert mine.startswith("personal-")
    editor.goto(portal.url(f"/documents/?workspace={mine}"))
    editor.set_input_files("#files", str(path))
    editor.locator(".upload-results").get_by_text("Indexed").wait_for(timeout=SLOW_MS)

    editor.goto(portal.url(f"/documents/?workspace={mine}"))
    editor.get_by_role("link", name="Greenhouse watering rota").first.click()
    editor.select_option("#share-workspace", portal.workspace)
    shoot(editor, "document-share-form")
    with editor.expect_navigation():
        editor.get_by_role("button", name="Share", exact=True).click()
    assert "Shared into" in editor.locator("section.sharing").inner_text()
    shoot(editor, "document-shared")

    viewer = sign_in(VIEWER)
    viewer.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    notice = viewer.locator(".shared-notices")
    assert "Greenhouse watering rota" in notice.inner_text()
    row = viewer.locator("tr", has_text="Greenhouse watering rota")
    assert "Shared from My Documents of eddie@portal.example" in row.inner_text()
    shoot(viewer, "documents-shared-notice")
    card = _ask(viewer, portal, QUESTION)
    assert "Greenhouse watering rota" in card.locator("ol.sources").inner_text()
    assert "Tuesdays" in card.inner_text()
    shoot(viewer, "ask-shared-document")
    viewer.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    with viewer.expect_navigation():
        viewer.locator("tr", has_text="Greenhouse watering rota").locator(
            "td.doc-title a"
        ).first.click()
    assert "read-only here" in viewer.locator("main").inner_text()
    assert viewer.get_by_role("button", name="Delete").count() == 0

    # Unshared, it is gone from the viewer's next answer.
    editor.reload()
    with editor.expect_navigation():
        editor.get_by_role("button", name="Unshare").click()
    card = _ask(viewer, portal, QUESTION + " (again)")
    assert "Greenhouse watering rota" not in card.inner_text()
