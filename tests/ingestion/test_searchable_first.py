"""A document is found by keyword before its vectors exist (issue 17, item 3).

Indexing writes text, words, postings and readers first: the document is "searchable"
at once; its vectors come from the ``embed`` queue (``ingestion.embedding_queue``).
With real workers: one that consumes every queue indexes a first document whole; then
one that does not consume ``embed`` (``WORKER_EMBED_WITH_INGEST=false``, a deployment
whose embedding workers are down or far behind) indexes a second one, which must be
found by keyword and by hybrid search (with the first one's vectors), show
"Searchable, improving" in the API, the status poller and the portal, and have no
vector yet; then a worker that embeds makes it "indexed", found by the vector side too.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tests.conftest import WorkerProcess, api_client, named_file, portal_client, queues_purge
from workspaces.rls import organization_scope

pytestmark = pytest.mark.worker

OWNER = "olga@quickco.example"
PARKING = (
    b"# Parking\n\nThe visitor car park behind building C opens at 07:00. Parking permits "
    b"are issued by reception against the licence plate.\n"
)
ZEPPELIN = (
    b"# Airship hangar\n\nThe zeppelin hangar inspection is due every quarter; the "
    b"inspector signs the logbook kept by the hangar warden.\n"
    + b"\n".join(
        f"## Bay {n}\n\nBay {n} of the hangar holds mooring mast {n * 7}.\n".encode()
        for n in range(12)
    )
)


@pytest.fixture
def own_worker(worker):
    """The session's worker paused; ``own_worker(**env)`` starts one of ours (stopping
    the previous one). The session's worker comes back afterwards."""
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        for process in started:
            process.stop()
        process = WorkerProcess({**worker.env, **env}, worker.log_path)
        process.start()
        started.append(process)
        return process

    worker.stop()
    try:
        yield start
    finally:
        for process in started:
            process.stop()
        queues_purge()
        worker.start()


def _status(client, document_id: int, wanted: set[str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/api/v1/documents/{document_id}").json()
        if body["status"] in wanted | {"failed"}:
            assert body["status"] in wanted, body
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"document {document_id} still {body['status']}")
        time.sleep(0.25)


def _upload(client, name: str, data: bytes) -> int:
    response = client.post(
        "/api/v1/documents", {"file": named_file(name, data)}, format="multipart"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _found(client, question: str) -> set[int]:
    response = client.get("/api/v1/search", {"q": question, "k": 5})
    assert response.status_code == 200, response.content
    return {result["document_id"] for result in response.json()["results"]}


def _rankings(org, question: str) -> tuple[set[int], set[int], int, int]:
    """(documents by BM25, documents by vector, chunks with a vector, chunks without)."""
    from ingestion.embedding import embed_texts
    from ingestion.index import bm25_ranking, vector_ranking
    from ingestion.models import Chunk
    from workspaces.models import Workspace
    from workspaces.readers import ReaderScope

    with schema_context(org.schema), organization_scope():
        workspace = Workspace.objects.get(is_default=True)
        ids = [workspace.pk]
        everyone = ReaderScope.everything(ids)
        keyword = bm25_ranking(question, workspace_ids=ids, readers=everyone, limit=10)
        vector = vector_ranking(
            embed_texts([question])[0], workspace_ids=ids, readers=everyone, limit=10
        )

        def documents(ranked) -> set[int]:
            chunk_ids = [r.chunk_id for r in ranked]
            return set(Chunk.objects.filter(pk__in=chunk_ids).values_list("document_id", flat=True))

        result = (
            documents(keyword),
            documents(vector),
            Chunk.objects.filter(embedding__isnull=False).count(),
            Chunk.objects.filter(embedding__isnull=True).count(),
        )
    connection.set_schema_to_public()
    return result


def test_found_by_keyword_before_its_vectors_then_indexed(own_worker, committed_org):
    org = committed_org("quickco", OWNER)
    client = api_client(org, OWNER)

    own_worker()  # every queue
    parking = _upload(client, "parking.md", PARKING)
    _status(client, parking, {"indexed"})

    own_worker(WORKER_EMBED_WITH_INGEST="false")  # nothing makes vectors now
    zeppelin = _upload(client, "zeppelin.md", ZEPPELIN)
    body = _status(client, zeppelin, {"searchable"}, timeout=60)
    assert body["indexed_at"] is None

    # Keyword finds it; the vector side has only the first document's chunks.
    keyword, vector, embedded, waiting = _rankings(org, "zeppelin hangar inspection")
    assert zeppelin in keyword
    assert zeppelin not in vector
    assert vector == {parking}
    assert embedded > 0
    assert waiting > 0
    # Hybrid search uses what there is: the new document by its words, the old one
    # by its words and vector alike.
    assert zeppelin in _found(client, "zeppelin hangar inspection")
    assert parking in _found(client, "Where can visitors leave their cars?")

    # The portal and its status poller say so.
    portal = portal_client(org, OWNER)
    page = portal.get("/documents/")
    assert page.status_code == 200
    assert "Searchable, improving" in page.content.decode()
    polled = portal.get("/documents/status").json()["documents"]
    assert {d["id"]: d["status"] for d in polled}[zeppelin] == "searchable"

    own_worker()  # an embedding worker is back
    body = _status(client, zeppelin, {"indexed"}, timeout=120)
    assert body["indexed_at"] is not None
    keyword, vector, embedded, waiting = _rankings(org, "zeppelin hangar inspection")
    assert zeppelin in keyword
    assert zeppelin in vector
    assert waiting == 0
    assert embedded > 0
