"""After an upload from the drop zone the documents list catches up by itself: the new
document is in the table (and the count) once it is indexed, without a reload."""

from __future__ import annotations

import re

from tests.portal.conftest import OWNER, SLOW_MS, db_in_thread

FILENAME = "bicycle-shed-rules.md"
NOTE = b"# Bicycle shed rules\n\nBicycles are locked to the racks in the courtyard shed.\n"


def _count(page) -> int:
    return int(re.search(r"\d+", page.locator(".doc-count").inner_text())[0])


def _erase(schema: str) -> None:
    """The test's document leaves the portal's organization (other tests count theirs)."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from ingestion.erasure import documents_erase
    from ingestion.models import Document
    from workspaces.rls import organization_scope

    try:
        with schema_context(schema), organization_scope():
            documents_erase(documents=Document.objects.filter(original_filename=FILENAME))
    finally:
        connection.close()


def test_the_documents_table_shows_an_upload_once_indexed_without_a_reload(
    sign_in, portal, portal_org, django_db_blocker, tmp_path, shoot
):
    try:
        page = sign_in(OWNER)
        page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
        before = _count(page)
        titles = page.locator("table.documents tbody td.doc-title > a")
        assert "Bicycle shed rules" not in titles.all_inner_texts()
        page.evaluate("window.notReloaded = true")  # gone if the page were loaded again
        page.get_by_label("Search titles and text").fill("typed, not sent")

        path = tmp_path / FILENAME
        path.write_bytes(NOTE)
        page.set_input_files("#files", str(path))
        page.locator(".upload-results").get_by_text("Indexed").wait_for(timeout=SLOW_MS)

        row = page.locator("table.documents tbody tr", has_text="Bicycle shed rules")
        row.wait_for(timeout=15_000)
        assert row.locator("[data-doc-status]").inner_text() == "Indexed"
        assert _count(page) == before + 1
        # Its times are the reader's, like the rows the server rendered (time.js).
        assert not row.locator("time").first.inner_text().endswith("UTC")
        # The same page: the upload's result and what was typed in the search stay.
        assert page.evaluate("window.notReloaded === true")
        assert page.locator(".upload-results").get_by_text(FILENAME).is_visible()
        assert page.get_by_label("Search titles and text").input_value() == "typed, not sent"
        shoot(page, "documents-after-upload")
    finally:
        db_in_thread(django_db_blocker, _erase, portal_org[0].schema)
