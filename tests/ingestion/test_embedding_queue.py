"""The embedding queue's guarantees, step by step (``ingestion.embedding_queue``).

Indexing writes text, words and readers first ("searchable"); the queue's batches add
the vectors and make documents "indexed". Here the steps are called one at a time:
a new version never keeps vectors of its old text, a document erased while its vectors
wait is neither an error nor brought back, readers changed meanwhile stay the
document's, and batches span documents.
"""

from __future__ import annotations

import pytest

from accounts.audit import AuditContext
from ingestion import embedding_queue, indexing
from ingestion.embedding import embed_with
from ingestion.embedding_index import embedding_text
from ingestion.models import Chunk, Document, DocumentStatus
from ingestion.readers import document_readers_set
from tests.conftest import named_file

GUIDE = (
    "# Travel guide\n\n## Trains\n\nSecond class on trains up to four hours; first class "
    "beyond.\n\n## Mileage\n\nPrivate cars are reimbursed at 30 cents per kilometre.\n"
)


@pytest.fixture
def written(alice_api, upload_written):
    """Upload ``name`` as alice and write its text only (the embedding task is sent once
    the text commits, never run here)."""
    return lambda name, text: upload_written(alice_api, name, text.encode())


def _vectors_match_texts(document_id: int) -> None:
    from ingestion.embedding import active_model

    for chunk in Chunk.objects.filter(document_id=document_id, embedding__isnull=False):
        text = embedding_text(chunk.document.title, chunk.heading_path, chunk.text)
        [expected] = embed_with(active_model(), [text])
        assert list(chunk.embedding) == pytest.approx(expected, abs=1e-4)


def test_searchable_then_indexed_by_batches_across_documents(acme, written):
    first = written("guide.md", GUIDE)
    second = written("hours.md", "# Hours\n\nOpen 8 to 6.\n")
    assert set(Document.objects.values_list("status", flat=True)) == {DocumentStatus.SEARCHABLE}
    waiting = Chunk.objects.filter(embedding__isnull=True).count()
    assert waiting == Chunk.objects.count() >= 3
    assert embedding_queue.embedding_backlog() == waiting

    # One batch takes chunks of both documents.
    assert embedding_queue.embedding_batch(size=waiting) == waiting
    assert set(Document.objects.values_list("status", flat=True)) == {DocumentStatus.INDEXED}
    assert Document.objects.get(pk=first).indexed_at is not None
    for document_id in (first, second):
        _vectors_match_texts(document_id)
    assert embedding_queue.embedding_batch() == 0


def test_a_new_version_never_keeps_the_vectors_of_its_old_text(acme, written):
    document_id = written("guide.md", GUIDE)
    assert embedding_queue.embedding_run() is False
    unchanged = set(
        Chunk.objects.filter(document_id=document_id, text__contains="Second class").values_list(
            "content_sha256", flat=True
        )
    )

    # A new version of the same file, one section changed: the same document.
    assert written("guide.md", GUIDE.replace("30", "42")) == document_id
    document = Document.objects.get(pk=document_id)
    assert document.status == DocumentStatus.SEARCHABLE
    chunks = Chunk.objects.filter(document_id=document_id)
    # The unchanged section kept its vector (looked up by the hash of its exact text);
    # the changed one has none until the queue makes it, never the old text's.
    for chunk in chunks:
        if chunk.content_sha256 in unchanged:
            assert chunk.embedding is not None
        if "42 cents" in chunk.text:
            assert chunk.embedding is None
    assert chunks.filter(embedding__isnull=True).exists()
    _vectors_match_texts(document_id)

    assert embedding_queue.embedding_run() is False
    document.refresh_from_db()
    assert document.status == DocumentStatus.INDEXED
    _vectors_match_texts(document_id)


def test_erased_while_waiting_for_vectors_is_neither_an_error_nor_brought_back(
    acme, alice_api, django_capture_on_commit_callbacks, written
):
    document_id = written("guide.md", GUIDE)
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/api/v1/documents/{document_id}").status_code == 204
    assert embedding_queue.embedding_run() is False
    assert not Document.objects.filter(pk=document_id).exists()
    assert not Chunk.objects.filter(document_id=document_id).exists()


def test_readers_changed_while_waiting_stay_the_documents(acme, written):
    document_id = written("guide.md", GUIDE)
    document_readers_set(
        document=Document.objects.get(pk=document_id),
        readers=["group:finance"],
        audit=AuditContext(),
    )
    assert embedding_queue.embedding_run() is False
    chunks = Chunk.objects.filter(document_id=document_id)
    assert {tuple(chunk.readers) for chunk in chunks} == {("group:finance",)}
    assert not chunks.filter(embedding__isnull=True).exists()


def test_inline_embedding_indexes_at_once(
    acme, alice_api, django_capture_on_commit_callbacks, settings
):
    settings.INDEX_EMBED_INLINE = True
    with django_capture_on_commit_callbacks(execute=False):
        created = alice_api.post(
            "/api/v1/documents",
            {"file": named_file("guide.md", GUIDE.encode())},
            format="multipart",
        )
    document_id = created.json()["id"]
    with django_capture_on_commit_callbacks(execute=False) as sent:
        document = indexing.document_index(document_id=document_id)
    assert document.status == DocumentStatus.INDEXED
    assert embedding_queue.embedding_send not in sent
    assert not Chunk.objects.filter(document_id=document_id, embedding__isnull=True).exists()


def _interrupted(document_id: int) -> None:
    """A batch of the document that started and never ended (its worker killed): its
    count, left in Redis."""
    from django_redis import get_redis_connection

    get_redis_connection("default").hincrby(embedding_queue._interruptions_key(), document_id, 1)


def test_progress_shown_and_a_document_that_keeps_killing_its_batch_given_up(
    acme, alice_api, alice_portal, django_capture_on_commit_callbacks, written
):
    guide = written("guide.md", GUIDE)
    hours = written("hours.md", "# Hours\n\nOpen 8 to 6.\n")
    total = Chunk.objects.filter(document_id=guide).count()
    assert total >= 2
    assert embedding_queue.embedding_batch(size=1) == 1  # the guide's first passage

    # "n of m passages embedded": the API, the list's poller, the lists and the page.
    expected = {"embedded": 1, "total": total}
    assert alice_api.get(f"/api/v1/documents/{guide}").json()["passages"] == expected
    listed = {d["id"]: d for d in alice_api.get("/api/v1/documents").json()["results"]}
    assert listed[guide]["passages"] == expected
    polled = {d["id"]: d for d in alice_portal.get("/documents/status").json()["documents"]}
    assert polled[guide]["passages"] == expected
    assert polled[hours]["passages"] == {"embedded": 0, "total": 1}
    assert f"1 of {total} passages embedded" in alice_portal.get("/documents/").content.decode()
    page = alice_portal.get(f"/documents/{guide}/").content.decode()
    assert f"1 of {total} passages embedded" in page
    german = alice_portal.get(f"/documents/{guide}/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert f"1 von {total} Passagen eingebettet" in german

    # Two batches of the guide died with their worker: the guide is embedded alone, so
    # the hours' passage (in those batches too) goes on; the guide is given up.
    _interrupted(guide)
    _interrupted(hours)
    # The lowest suspect alone: the rest of the guide.
    assert embedding_queue.embedding_batch() == total - 1
    assert Document.objects.get(pk=guide).status == DocumentStatus.INDEXED
    assert embedding_queue.embedding_interruptions([guide, hours]) == {hours: 1}
    _interrupted(hours)  # and its batch alone died again: given up
    assert embedding_queue.embedding_batch() == 1
    given_up = Document.objects.get(pk=hours)
    assert given_up.status == DocumentStatus.SEARCHABLE  # keyword search finds it still
    assert "given up" in given_up.error_message
    assert embedding_queue.embedding_backlog() == 0  # the queue leaves it alone
    assert embedding_queue.embedding_batch() == 0
    assert embedding_queue.documents_embedded_mark() == 0
    assert Chunk.objects.filter(document_id=hours, embedding__isnull=True).count() == 1

    # The admin sees why, on the document page and the sources page, with Retry.
    page = alice_portal.get(f"/documents/{hours}/").content.decode()
    assert "given up" in page
    assert f"/sources/documents/{hours}/retry" in page
    assert "passages embedded" not in page
    german = alice_portal.get(f"/documents/{hours}/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "wurde aufgegeben" in german
    assert "given up" in alice_portal.get("/sources/").content.decode()
    api = alice_api.get(f"/api/v1/documents/{hours}").json()
    assert api["status"] == "searchable"
    assert "given up" in api["error_message"]

    # Retry: indexed again, the count starts afresh, the vectors are made.
    with django_capture_on_commit_callbacks(execute=True):
        alice_portal.post(f"/sources/documents/{hours}/retry")
    assert embedding_queue.embedding_interruptions([hours]) == {}
    assert Document.objects.get(pk=hours).status == DocumentStatus.INDEXED
    assert Document.objects.get(pk=hours).error_message == ""
    assert alice_api.get(f"/api/v1/documents/{hours}").json()["passages"] is None
