"""A document that takes too long to index is stopped and fails with the reason.

Runs a real worker with the prefork pool (the pool that enforces Celery's time limits)
and a 15-second limit, then uploads a text long enough that embedding it takes longer.
"""

from __future__ import annotations

import base64
import io
import time
import uuid

import pytest

from tests.conftest import PASSWORD, WorkerProcess

pytestmark = pytest.mark.worker


@pytest.fixture
def slow_worker(worker, settings):
    """The session's worker paused; a prefork worker with INDEX_TIME_LIMIT_S=15 instead.

    The limits travel in the task message, so the sending side (this process, as the
    web process in production) gets the same limit.
    """
    settings.INDEX_TIME_LIMIT_S = 15
    worker.stop()
    limited = WorkerProcess(
        {**worker.env, "INDEX_TIME_LIMIT_S": "15"}, worker.log_path, pool="prefork"
    )
    limited.start()
    try:
        yield limited
    finally:
        limited.stop()
        worker.start()


def _status(client, document_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/documents/{document_id}").json()
        if body["status"] in {"indexed", "failed"}:
            return body
        time.sleep(0.5)
    raise AssertionError(f"document {document_id} still {body['status']}")


def test_indexing_past_the_time_limit_fails_with_the_reason(slow_worker, committed_org, settings):
    from rest_framework.test import APIClient

    org = committed_org("slowco", "sam@slowco.example")
    client = APIClient(HTTP_HOST=org.domain)
    token = base64.b64encode(f"sam@slowco.example:{PASSWORD}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")

    # 126,000 distinct paragraphs (15 MB, about 18,000 chunks): their text alone (parsing,
    # chunking, a language per paragraph, words and postings), before any embedding,
    # takes far past the limit (about 2 ms of CPU a chunk on the 2-core reference
    # machine). A third of it, 6,000 chunks, finished its text within the limit on a
    # faster CI machine once vectors came after the text (ingestion.embedding_queue) and
    # the document stayed "searchable" while its vectors were made. The tests' 2 MB
    # upload limit is raised for it.
    settings.MAX_UPLOAD_BYTES = 24 * 1024 * 1024
    text = "\n\n".join(
        f"Paragraph {n}: the quarterly figures for region {n % 97} rose by {n % 13} percent "
        f"after the {n % 7}th review of supplier contract {n}."
        for n in range(126000)
    )
    slow = io.BytesIO(text.encode())
    slow.name = "figures.txt"
    small = io.BytesIO(b"# Canteen\n\nLunch is served from 11:30 to 14:00.\n")
    small.name = "canteen.md"

    def upload(handle) -> int:
        response = client.post("/api/v1/documents", {"file": handle}, format="multipart")
        assert response.status_code == 201, response.content
        return response.json()["id"]

    # A small document first: the worker loads the embedding model within its limit.
    assert _status(client, upload(small))["status"] == "indexed"
    failed = _status(client, upload(slow))
    assert failed["status"] == "failed"
    assert "longer than 15 seconds" in failed["error_message"]
    # The worker goes on with the next document.
    again = io.BytesIO(b"# Parking\n\nVisitors park on level -1.\n")
    again.name = "parking.md"
    assert _status(client, upload(again))["status"] == "indexed"


def test_a_document_whose_indexing_keeps_killing_workers_is_given_up(
    acme, alice_api, upload_indexed
):
    """Acks-late tasks come back when their worker dies; the same message (same task id
    and retry number) started a third time fails the document instead of running again.
    Each ``apply`` with one task id stands for one delivery of that message."""
    from ingestion.models import Document
    from ingestion.tasks import index_document

    document_id = upload_indexed(alice_api, "canteen.md", b"# Canteen\n\nLunch at noon.\n")["id"]
    task_id = f"redelivered-{uuid.uuid4().hex}"
    for _ in range(2):  # first delivery, then one after the worker died
        index_document.apply(args=[document_id], task_id=task_id).get()
        assert Document.objects.get(pk=document_id).status == "indexed"
    index_document.apply(args=[document_id], task_id=task_id).get()
    document = Document.objects.get(pk=document_id)
    assert document.status == "failed"
    assert "interrupted 2 times" in document.error_message
    # Another message for the same document (e.g. a re-index) is a first delivery again.
    index_document.apply(args=[document_id]).get()
    assert Document.objects.get(pk=document_id).status == "indexed"
