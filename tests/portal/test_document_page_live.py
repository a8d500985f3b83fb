"""A document's page while its passages are embedded (issue 17, item 3), in a real browser.

Left open, the page follows the embedding: "0 of N passages embedded" becomes the final
state (Indexed, the time it was indexed) without a reload, in English and in German, and
polling stops then. An embedding provider failing is told to the admin with its reason,
and the notice goes once a batch embeds. A page of a document not waiting for vectors
polls nothing. The document is arranged as in ``test_embedding_progress`` (uploaded,
then its vectors removed and its status set), then let go to the session's real worker.
"""

from __future__ import annotations

from tests.portal.conftest import (
    DESKTOP,
    OWNER,
    PHONE,
    SLOW_MS,
    axe_violations,
    contrast_failures,
    db_in_thread,
)
from tests.portal.test_embedding_progress import (
    FILENAME,
    MANUAL,
    TITLE,
    _embedding_let_go,
    _erase,
    _fits_phone,
    _row,
    _upload,
)

REASON = "embedding endpoint answered HTTP 500 (3 attempts)"


def _waiting(schema: str, filename: str, reason: str, box: list) -> None:
    """The document ``searchable`` with none of its vectors (never indexed yet), and the
    organization's embedding noted as failing with ``reason``; ``box`` gets (document
    id, passages)."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from ingestion.embedding_failure import embedding_failing_set
    from ingestion.models import Chunk, Document, DocumentStatus
    from workspaces.rls import organization_scope

    try:
        with schema_context(schema), organization_scope():
            document = Document.objects.get(original_filename=filename)
            Chunk.objects.filter(document=document).update(embedding=None)
            document.status = DocumentStatus.SEARCHABLE
            document.indexed_at = None
            document.save(update_fields=["status", "indexed_at", "updated_at"])
            embedding_failing_set(reason=reason)
            box.append((document.pk, document.chunks.count()))
    finally:
        connection.close()


def _failing_cleared(schema: str) -> None:
    from django_tenants.utils import schema_context

    from ingestion.embedding_failure import embedding_failing_clear

    with schema_context(schema):
        embedding_failing_clear()


def _status_polls(page) -> list[str]:
    """The status requests ``page`` sends from now on (the list it appends to)."""
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/documents/status" in r.url else None)
    return sent


def test_the_document_page_follows_its_embedding_without_a_reload(
    sign_in, portal, portal_org, worker, django_db_blocker, tmp_path, shoot
):
    schema = portal_org[0].schema
    try:
        _page_followed(sign_in, portal, schema, django_db_blocker, tmp_path, shoot)
    finally:
        db_in_thread(django_db_blocker, _erase, schema, FILENAME)
        db_in_thread(django_db_blocker, _failing_cleared, schema)


def _page_followed(sign_in, portal, schema, django_db_blocker, tmp_path, shoot) -> None:
    path = tmp_path / FILENAME
    path.write_bytes(MANUAL)
    page = sign_in(OWNER)
    _upload(page, portal, path, portal.workspace)

    # An indexed document's page polls nothing.
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    with page.expect_navigation():
        _row(page, TITLE).get_by_role("link", name=TITLE).click()
    url = page.url
    assert page.locator("main [data-doc-status]").inner_text() == "Indexed"
    polls = _status_polls(page)
    page.wait_for_timeout(3_500)
    assert polls == []

    box: list = []
    db_in_thread(django_db_blocker, _waiting, schema, FILENAME, REASON, box)
    _, total = box[0]
    assert total >= 3

    # Waiting for its vectors, with embedding failing: the admin is told why.
    page.goto(url)
    summary = page.locator("main section.card").first
    assert summary.locator("[data-doc-status]").inner_text() == "Searchable, improving"
    assert summary.locator(".passages").inner_text() == f"0 of {total} passages embedded"
    failing = summary.locator(".embedding-failing")
    assert failing.inner_text() == (
        f"Embedding is failing. The embedding service says: “{REASON}”. Keyword search finds "
        "the document meanwhile; its passages are embedded once the service works again."
    )
    assert summary.locator("[data-doc-indexed]").inner_text() == "not yet"
    assert axe_violations(page) == []
    assert contrast_failures(page) == []
    shoot(page, "document-live-waiting")
    _fits_phone(page)
    page.set_viewport_size(DESKTOP)
    polls = _status_polls(page)

    german = sign_in(OWNER, viewport=PHONE, locale="de-DE")
    german.goto(url)
    summary_de = german.locator("main section.card").first
    assert summary_de.locator("[data-doc-status]").inner_text() == "Durchsuchbar, wird verbessert"
    assert summary_de.locator(".passages").inner_text() == (f"0 von {total} Passagen eingebettet")
    assert (
        summary_de.locator(".embedding-failing")
        .inner_text()
        .startswith(f"Das Einbetten schlägt fehl. Der Embedding-Dienst meldet: „{REASON}“.")
    )
    _fits_phone(german)
    shoot(german, "de-document-live-waiting")

    # The list, to the admin: the row's progress, and why it does not move.
    listing = sign_in(OWNER)
    listing.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    row = _row(listing, TITLE)
    assert row.locator("[data-doc-status]").inner_text() == "Searchable, improving"
    assert row.locator(".embedding-failing").inner_text() == f"Embedding is failing: “{REASON}”"
    assert contrast_failures(listing) == []
    shoot(listing, "document-live-failing-list")

    # Let go: the worker embeds every passage (its batch clears the failing note); both
    # open pages show the final state without a reload.
    db_in_thread(django_db_blocker, _embedding_let_go, schema)
    summary.locator("[data-doc-status].status-indexed").wait_for(timeout=SLOW_MS)
    summary_de.locator("[data-doc-status].status-indexed").wait_for(timeout=SLOW_MS)
    assert page.url == url  # the same page, never reloaded
    assert summary.locator("[data-doc-status]").inner_text() == "Indexed"
    assert not summary.locator(".improving").is_visible()
    assert not failing.is_visible()
    assert summary.locator("[data-doc-indexed] time").count() == 1
    assert summary.locator("[data-doc-indexed]").inner_text() != "not yet"
    assert summary_de.locator("[data-doc-status]").inner_text() == "Indexiert"
    assert not summary_de.locator(".improving").is_visible()
    assert summary_de.locator("[data-doc-indexed] time").count() == 1
    # The list open meanwhile: indexed, the note gone.
    row.locator("[data-doc-status].status-indexed").wait_for(timeout=SLOW_MS)
    assert row.locator(".embedding-failing").inner_text() == ""
    assert axe_violations(page) == []
    shoot(page, "document-live-indexed")
    shoot(german, "de-document-live-indexed")

    # Done: the page polls no more.
    assert polls, "the waiting page never polled"
    seen = len(polls)
    page.wait_for_timeout(3_500)
    assert len(polls) == seen
