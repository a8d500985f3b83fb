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
from opaa.celery import app
from tests.conftest import named_file

GUIDE = (
    "# Travel guide\n\n## Trains\n\nSecond class on trains up to four hours; first class "
    "beyond.\n\n## Mileage\n\nPrivate cars are reimbursed at 30 cents per kilometre.\n"
)


def _written(alice_api, django_capture_on_commit_callbacks, name: str, text: str) -> int:
    """Upload ``name`` and write its text only (the embedding task is never sent)."""
    with django_capture_on_commit_callbacks(execute=False):
        created = alice_api.post(
            "/api/v1/documents", {"file": named_file(name, text.encode())}, format="multipart"
        )
    assert created.status_code in {200, 201}, created.content  # 200: a new version
    document_id = created.json()["id"]
    # As on a worker: the embedding task is sent once the text commits, not run here.
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        with django_capture_on_commit_callbacks(execute=False) as sent:
            indexing.document_index(document_id=document_id)
    finally:
        app.conf.task_always_eager = eager
    assert embedding_queue.embedding_send in sent
    return document_id


def _vectors_match_texts(document_id: int) -> None:
    from ingestion.embedding import active_model

    for chunk in Chunk.objects.filter(document_id=document_id, embedding__isnull=False):
        text = embedding_text(chunk.document.title, chunk.heading_path, chunk.text)
        [expected] = embed_with(active_model(), [text])
        assert list(chunk.embedding) == pytest.approx(expected, abs=1e-4)


def test_searchable_then_indexed_by_batches_across_documents(
    acme, alice_api, django_capture_on_commit_callbacks
):
    first = _written(alice_api, django_capture_on_commit_callbacks, "guide.md", GUIDE)
    second = _written(
        alice_api, django_capture_on_commit_callbacks, "hours.md", "# Hours\n\nOpen 8 to 6.\n"
    )
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


def test_a_new_version_never_keeps_the_vectors_of_its_old_text(
    acme, alice_api, django_capture_on_commit_callbacks
):
    document_id = _written(alice_api, django_capture_on_commit_callbacks, "guide.md", GUIDE)
    assert embedding_queue.embedding_run() is False
    unchanged = set(
        Chunk.objects.filter(document_id=document_id, text__contains="Second class").values_list(
            "content_sha256", flat=True
        )
    )

    # A new version of the same file, one section changed: the same document.
    assert (
        _written(
            alice_api, django_capture_on_commit_callbacks, "guide.md", GUIDE.replace("30", "42")
        )
        == document_id
    )
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
    acme, alice_api, django_capture_on_commit_callbacks
):
    document_id = _written(alice_api, django_capture_on_commit_callbacks, "guide.md", GUIDE)
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/api/v1/documents/{document_id}").status_code == 204
    assert embedding_queue.embedding_run() is False
    assert not Document.objects.filter(pk=document_id).exists()
    assert not Chunk.objects.filter(document_id=document_id).exists()


def test_readers_changed_while_waiting_stay_the_documents(
    acme, alice_api, django_capture_on_commit_callbacks
):
    document_id = _written(alice_api, django_capture_on_commit_callbacks, "guide.md", GUIDE)
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
