"""Documents searchable before their vectors are in (issue 17, item 3), in a real browser.

A document is ``searchable`` ("Searchable, improving") while the embed queue fills its
vectors: the documents list, its page and the sources page say how far ("n of m
passages embedded"), and keyword search finds it meanwhile. One whose embedding was given
up shows the reason and Retry, and Retry indexes it again. The state is arranged through
the models in the portal's organization (its vectors removed, its status set), then let
go to the session's real worker. Every page is looked at at desktop and at 375 px.
"""

from __future__ import annotations

import re

from tests.portal.conftest import (
    DESKTOP,
    EDITOR,
    OWNER,
    PHONE,
    SLOW_MS,
    VIEWER,
    axe_violations,
    contrast_failures,
    db_in_thread,
)

TITLE = "Lighthouse keeping manual"
FILENAME = "lighthouse-manual.md"
# Three sections, three passages. The last one's words ("barnacle", "Thursdays") are in no
# other document of the portal's workspace; its passage is the one left without a vector.
MANUAL = b"""# Lighthouse keeping manual

## The lamp

The lamp is lit half an hour before sunset and put out half an hour after sunrise.
The keeper trims the wick, polishes the lens and winds the clockwork that turns it,
and writes the hours the light burned into the station's log every evening.

## The fog signal

In fog the horn sounds two blasts every thirty seconds until the far buoy is seen
again. The compressor is started ten minutes before it is needed, and its oil is
checked on every watch so that the signal never stops while ships are near.

## The landing stage

The barnacle scraping of the landing stage is done on Thursdays at low tide.
Two keepers go down together, one holds the line while the other scrapes the steps,
and neither goes down when the swell breaks over the lowest step.
"""
QUESTION = "On which day is the barnacle scraping of the landing stage done?"


def _manual_hold(schema: str, filename: str, given_up: bool, box: list) -> None:
    """The document ``searchable`` with only its first passage's vector (given up, with
    the embedding queue's reason, when ``given_up``), synced
    from a source of the workspace (a disabled one: it never runs); ``box`` gets
    (document id, passages embedded, passages)."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from ingestion.embedding_queue import EMBEDDING_GIVEN_UP_REASON
    from ingestion.models import Chunk, Connector, ConnectorKind, Document, DocumentStatus, Source
    from workspaces.rls import organization_scope

    try:
        with schema_context(schema), organization_scope():
            document = Document.objects.get(original_filename=filename)
            connector = Connector.objects.create(kind=ConnectorKind.WEB, name="Lighthouse share")
            source = Source.objects.create(
                connector=connector,
                workspace=document.workspace,
                name="Lighthouse share",
                paths=["http://127.0.0.1:9/lighthouse/"],
                enabled=False,
            )
            chunks = list(document.chunks.order_by("ordinal").values_list("id", flat=True))
            Chunk.objects.filter(id__in=chunks[1:]).update(embedding=None)
            document.status = DocumentStatus.SEARCHABLE
            document.error_message = EMBEDDING_GIVEN_UP_REASON if given_up else ""
            document.synced_from = source
            # New, as if its text had just been written: never indexed yet.
            document.indexed_at = None
            document.save(
                update_fields=["status", "error_message", "synced_from", "indexed_at", "updated_at"]
            )
            box.append((document.pk, min(1, len(chunks)), len(chunks)))
    finally:
        connection.close()


def _shared_hold(schema: str, filename: str, workspace_slug: str, box: list) -> None:
    """The editor's document (in their My Documents) shared into the portal's workspace,
    ``searchable`` with its vectors removed; ``box`` gets its id."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from accounts.models import User
    from ingestion.models import Chunk, Document, DocumentStatus
    from ingestion.sharing import document_share
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    try:
        with schema_context(schema), organization_scope():
            document = Document.objects.get(original_filename=filename)
            document_share(
                document=document,
                workspace=Workspace.objects.get(slug=workspace_slug),
                user=User.objects.get(email=EDITOR),
            )
            Chunk.objects.filter(document=document).update(embedding=None)
            document.status = DocumentStatus.SEARCHABLE
            document.save(update_fields=["status", "updated_at"])
            box.append(document.pk)
    finally:
        connection.close()


def _embedding_let_go(schema: str) -> None:
    """The organization's embedding task sent to the session's worker, as after a write."""
    from django.db import connection
    from django_tenants.utils import schema_context

    import ingestion.tasks  # noqa: F401  (registers the task sent, in this process)
    from ingestion.embedding_queue import embedding_send

    try:
        with schema_context(schema):
            embedding_send()
    finally:
        connection.close()


def _erase(schema: str, *filenames: str) -> None:
    """The test's documents and the source it made leave the portal's organization."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from ingestion.erasure import documents_erase
    from ingestion.models import Connector, Document, Source
    from workspaces.rls import organization_scope

    try:
        with schema_context(schema), organization_scope():
            documents_erase(documents=Document.objects.filter(original_filename__in=filenames))
            Source.objects.filter(name="Lighthouse share").delete()
            Connector.objects.filter(name="Lighthouse share").delete()
    finally:
        connection.close()


def _upload(page, portal, path, workspace: str) -> None:
    page.goto(portal.url(f"/documents/?workspace={workspace}"))
    page.set_input_files("#files", str(path))
    page.locator(".upload-results").get_by_text("Indexed").wait_for(timeout=SLOW_MS)


def _fits_phone(page) -> None:
    """At 375 px the page itself does not scroll sideways (a wide table scrolls in its
    own box)."""
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the phone"


def _in_view(locator) -> None:
    """``locator`` is in the first view of its row, no sideways scroll needed."""
    box = locator.bounding_box()
    width = locator.page.viewport_size["width"]
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width, (box, width)


def _row(page, title: str):
    return page.locator("table.documents tbody tr", has_text=title)


def test_a_searchable_document_shows_its_progress_and_is_found_by_keyword(
    sign_in, portal, portal_org, worker, django_db_blocker, tmp_path, shoot
):
    schema = portal_org[0].schema
    try:
        _searchable_shown(sign_in, portal, schema, django_db_blocker, tmp_path, shoot)
    finally:
        db_in_thread(django_db_blocker, _erase, schema, FILENAME)


def _searchable_shown(sign_in, portal, schema, django_db_blocker, tmp_path, shoot) -> None:
    path = tmp_path / FILENAME
    path.write_bytes(MANUAL)
    page = sign_in(OWNER)
    _upload(page, portal, path, portal.workspace)
    box: list = []
    db_in_thread(django_db_blocker, _manual_hold, schema, FILENAME, False, box)
    _, embedded, total = box[0]
    assert total >= 3, f"the manual was cut into {total} passages, not 3"
    progress = f"{embedded} of {total} passages embedded"

    # The list: the row's status and how far its vectors are.
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    row = _row(page, TITLE)
    assert row.locator("[data-doc-status]").inner_text() == "Searchable, improving"
    assert row.locator(".passages").inner_text() == progress
    assert axe_violations(page) == []
    assert contrast_failures(page) == []
    shoot(page, "embedding-progress-list")
    _fits_phone(page)
    _in_view(row.locator("[data-doc-status]"))
    _in_view(row.locator(".passages"))

    # Keyword search finds it meanwhile: the list's search, and Ask (the passage that
    # answers has no vector yet, so only the keyword side can find it).
    page.set_viewport_size(DESKTOP)
    page.get_by_label("Search titles and text").fill("barnacle")
    with page.expect_navigation():
        page.get_by_label("Search titles and text").press("Enter")
    assert page.locator("table.documents tbody td.doc-title > a").all_inner_texts() == [TITLE]
    assert page.locator("td.doc-title mark").inner_text().lower() == "barnacle"
    page.goto(portal.url(f"/ask/?workspace={portal.workspace}"))
    page.fill("#question", QUESTION)
    page.click("form.ask button[type=submit]")
    page.wait_for_url(re.compile(r"conversation=\d+"), timeout=SLOW_MS)
    card = page.locator("section.answer[id^=question-]").last
    card.locator("form.feedback").wait_for(timeout=SLOW_MS)
    assert TITLE in card.locator("ol.sources").inner_text()
    assert "Thursdays" in card.inner_text()

    # The document's page.
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    with page.expect_navigation():
        _row(page, TITLE).get_by_role("link", name=TITLE).click()
    summary = page.locator("main section.card").first
    assert summary.locator(".status").inner_text() == "Searchable, improving"
    assert "Keyword search finds it already" in summary.inner_text()
    assert summary.locator(".passages").inner_text() == progress
    assert page.get_by_role("button", name="Retry").count() == 0
    assert axe_violations(page) == []
    shoot(page, "embedding-progress-document")
    _fits_phone(page)

    # The sources page: its source's documents still improving, and how far.
    page.set_viewport_size(DESKTOP)
    page.goto(portal.url(f"/sources/?workspace={portal.workspace}"))
    source = page.locator("table.sources-table tbody tr", has_text="Lighthouse share")
    assert source.locator(".embedding").inner_text() == f"1 searchable, improving: {progress}"
    # The page's status JSON says the same.
    polled = page.evaluate(
        "async url => (await fetch(url)).json()", f"/sources/status?workspace={portal.workspace}"
    )
    source_id = int(source.get_attribute("data-id"))
    (state,) = [s for s in polled["sources"] if s["id"] == source_id]
    assert (state["improving"], state["passages"]) == (1, {"embedded": embedded, "total": total})
    assert axe_violations(page) == []
    shoot(page, "embedding-progress-sources")
    _fits_phone(page)

    # In the dark: the badge and the progress stay readable.
    dark = sign_in(OWNER, color_scheme="dark")
    dark.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    assert contrast_failures(dark) == []
    shoot(dark, "dark-embedding-progress-list")

    # In German, at 375 px: the list and the sources page.
    german = sign_in(OWNER, viewport=PHONE, locale="de-DE")
    german.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    row = _row(german, TITLE)
    assert row.locator("[data-doc-status]").inner_text() == "Durchsuchbar, wird verbessert"
    assert row.locator(".passages").inner_text() == f"{embedded} von {total} Passagen eingebettet"
    _fits_phone(german)
    _in_view(row.locator("[data-doc-status]"))
    _in_view(row.locator(".passages"))
    shoot(german, "de-embedding-progress-list")
    german.goto(portal.url(f"/sources/?workspace={portal.workspace}"))
    source = german.locator("table.sources-table tbody tr", has_text="Lighthouse share")
    assert source.locator(".embedding").inner_text() == (
        f"1 durchsuchbar, wird verbessert: {embedded} von {total} Passagen eingebettet"
    )
    _fits_phone(german)
    shoot(german, "de-embedding-progress-sources")

    # Let go: the worker embeds the rest, and the open list says so without a reload.
    page.set_viewport_size(DESKTOP)
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    row = _row(page, TITLE)
    db_in_thread(django_db_blocker, _embedding_let_go, schema)
    row.locator("[data-doc-status].status-indexed").wait_for(timeout=SLOW_MS)
    assert row.locator("[data-doc-status]").inner_text() == "Indexed"
    assert row.locator(".passages").inner_text() == ""


def test_a_given_up_document_shows_why_and_retry_indexes_it_again(
    sign_in, portal, portal_org, worker, django_db_blocker, tmp_path, shoot
):
    schema = portal_org[0].schema
    try:
        _given_up_retried(sign_in, portal, schema, django_db_blocker, tmp_path, shoot)
    finally:
        db_in_thread(django_db_blocker, _erase, schema, FILENAME)


def _given_up_retried(sign_in, portal, schema, django_db_blocker, tmp_path, shoot) -> None:
    path = tmp_path / FILENAME
    path.write_bytes(MANUAL)
    page = sign_in(OWNER)
    _upload(page, portal, path, portal.workspace)
    db_in_thread(django_db_blocker, _manual_hold, schema, FILENAME, True, [])
    reason = "was given up. Retry indexes it again."

    # The list: still searchable, by keyword only, with the reason instead of a progress
    # that stopped.
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    row = _row(page, TITLE)
    assert row.locator("[data-doc-status]").inner_text() == "Searchable by keyword"
    assert reason in row.locator(".error-message").inner_text()
    assert row.locator(".passages").inner_text() == ""
    assert contrast_failures(page) == []
    shoot(page, "embedding-given-up-list")
    _fits_phone(page)
    german = sign_in(OWNER, viewport=PHONE, locale="de-DE")
    german.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    assert _row(german, TITLE).locator("[data-doc-status]").inner_text() == (
        "Per Stichwort durchsuchbar"
    )
    shoot(german, "de-embedding-given-up-list")

    # The sources page lists it among the failed documents, with Retry.
    page.set_viewport_size(DESKTOP)
    page.goto(portal.url(f"/sources/?workspace={portal.workspace}"))
    failed = page.locator("tr", has=page.get_by_role("link", name=TITLE))
    assert reason in failed.inner_text()
    assert failed.get_by_role("button", name="Retry").is_visible()
    shoot(page, "embedding-given-up-sources")
    _fits_phone(page)

    # Its page: the reason and Retry; Retry queues it again.
    page.set_viewport_size(DESKTOP)
    with page.expect_navigation():
        failed.get_by_role("link", name=TITLE).click()
    assert reason in page.locator("main p.error").inner_text()
    assert page.locator("main .status").first.inner_text() == "Searchable by keyword"
    assert "passages embedded" not in page.locator("main").inner_text()
    shoot(page, "embedding-given-up-document")
    _fits_phone(page)
    assert page.get_by_role("button", name="Retry").is_visible()
    page.set_viewport_size(DESKTOP)
    with page.expect_navigation():
        page.get_by_role("button", name="Retry").click()
    assert f"{TITLE} is queued to be indexed again." in page.locator("main").inner_text()
    assert page.locator("tr", has=page.get_by_role("link", name=TITLE)).count() == 0
    shoot(page, "embedding-retried-sources")

    # The status changes for the person looking: indexed again, every passage embedded.
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    row = _row(page, TITLE)
    row.locator("[data-doc-status].status-indexed").wait_for(timeout=SLOW_MS)
    assert row.locator(".error-message").inner_text() == ""
    shoot(page, "embedding-retried-list")
    with page.expect_navigation():
        row.get_by_role("link", name=TITLE).click()
    assert page.locator("main p.error").count() == 0
    assert page.locator("main .status").first.inner_text() == "Indexed"


def test_a_shared_documents_status_changes_live_and_its_shared_from_badge_stays(
    sign_in, portal, portal_org, worker, django_db_blocker, tmp_path, shoot
):
    """A shared document's row has two badges, "Shared from" first: the live update
    changed that one into the status and left the status stale."""
    schema = portal_org[0].schema
    name = "lighthouse-shared.md"
    try:
        _shared_live(sign_in, portal, schema, django_db_blocker, tmp_path, name, shoot)
    finally:
        db_in_thread(django_db_blocker, _erase, schema, name)


def _shared_live(sign_in, portal, schema, django_db_blocker, tmp_path, name, shoot) -> None:
    path = tmp_path / name
    path.write_bytes(MANUAL.replace(b"# Lighthouse keeping manual", b"# Lighthouse rota"))
    editor = sign_in(EDITOR)
    editor.goto(portal.url("/documents/"))
    mine = editor.locator("select#ws option", has_text="My Documents").get_attribute("value")
    _upload(editor, portal, path, mine)
    box: list = []
    db_in_thread(django_db_blocker, _shared_hold, schema, name, portal.workspace, box)

    viewer = sign_in(VIEWER)
    viewer.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    row = _row(viewer, "Lighthouse rota")
    shared = row.locator(".shared-from")
    assert shared.inner_text() == "Shared from My Documents of eddie@portal.example"
    assert row.locator("[data-doc-status]").inner_text() == "Searchable, improving"
    assert re.fullmatch(r"0 of \d+ passages embedded", row.locator(".passages").inner_text())
    # The badge does not widen the title's column: the whole table fits the desktop.
    assert viewer.locator(".table-scroll").evaluate("e => e.scrollWidth <= e.clientWidth")
    shoot(viewer, "embedding-shared-list")

    # The page stays open while the worker embeds it: its status badge changes, the
    # "Shared from" badge stays as it was.
    db_in_thread(django_db_blocker, _embedding_let_go, schema)
    row.locator("[data-doc-status].status-indexed").wait_for(timeout=SLOW_MS)
    assert row.locator("[data-doc-status]").inner_text() == "Indexed"
    assert shared.inner_text() == "Shared from My Documents of eddie@portal.example"
    assert shared.get_attribute("class") == "status shared-from"
    assert row.locator(".passages").inner_text() == ""
    shoot(viewer, "embedding-shared-list-indexed")
    _fits_phone(viewer)
    _in_view(row.locator("[data-doc-status]"))
    _in_view(shared)
