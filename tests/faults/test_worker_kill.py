"""SIGKILL the worker while it embeds a 200-chunk document: after a restart the document
is indexed exactly once (200 chunks, none duplicated, none missing, every one with its
vector). Since issue 17 the chunks are written (and found by keyword) before they are
embedded: the kill lands in the embedding queue's task, with the document
"searchable", and the redelivered task makes the vectors still missing.

The worker embeds through an OpenAI-compatible endpoint on loopback
(``tests/fakes/openai_server.py``) that answers each batch of 8 passages a little
slowly; the test counts the batches it receives, so the kill provably lands between the
first and the last batch, not before or after embedding.

What brings the task back: it is acknowledged late (``CELERY_TASK_ACKS_LATE``), so the
killed worker never acknowledged it, and Redis hands it out again once its visibility
timeout passes (``BROKER_VISIBILITY_TIMEOUT_S``, 10 s here). The document whose
indexing kills every worker it reaches (failed with the reason after 3 deliveries) is
tested in ``tests/ingestion/test_index_time_limit.py``
(``test_a_document_whose_indexing_keeps_killing_workers_is_given_up``).
"""

from __future__ import annotations

import io

import pytest
from django_tenants.utils import schema_context

from tests.fakes.openai_server import FakeOpenAIServer

pytestmark = [pytest.mark.faults, pytest.mark.worker]

SECTIONS = 200
BATCH = 8  # EMBEDDING_BATCH_SIZE
BATCHES = -(-SECTIONS // BATCH)


def _handbook() -> bytes:
    """200 sections of one short paragraph each: 200 chunks, whatever the chunk size."""
    return "\n\n".join(
        f"## Topic {n}\n\nThe reference code of topic {n} is HB-{n * 7919:07d}."
        for n in range(SECTIONS)
    ).encode()


def test_a_worker_killed_mid_embedding_indexes_the_document_exactly_once(
    fault_worker, fault_org, eventually
):
    from ingestion.models import Chunk, Document, DocumentStatus

    with FakeOpenAIServer(embedding_dimensions=384) as embeddings:
        embeddings.hang_seconds = 0.15  # each batch of 8 takes a moment: about 4 s in all
        worker = fault_worker(
            EMBEDDING_PROVIDER="openai",
            EMBEDDING_API_BASE=embeddings.base_url,
            EMBEDDING_MODEL="fake-embedding",
        )
        owner = fault_org("killco")
        handle = io.BytesIO(_handbook())
        handle.name = "handbook.md"
        response = owner.client.post("/api/v1/documents", {"file": handle}, format="multipart")
        assert response.status_code == 201, response.content
        document_id = response.json()["id"]

        def batches() -> int:
            return sum(r.path == "/v1/embeddings" for r in list(embeddings.requests))

        def embedding_under_way():
            """the worker to have sent a few embedding batches"""
            return batches() >= 3

        eventually(embedding_under_way, timeout=90, every=0.01)
        worker.kill()
        assert 3 <= batches() < BATCHES  # killed in the middle of embedding
        with schema_context(owner.org.schema):
            document = Document.objects.get(pk=document_id)
            # Text first, vectors after (issue 17): the chunks were written and found by
            # keyword before the embedding the worker died in.
            assert document.status == DocumentStatus.SEARCHABLE
            assert Chunk.objects.filter(document_id=document_id).count() == SECTIONS
            assert Chunk.objects.filter(document_id=document_id, embedding__isnull=True).exists()

        worker.start()

        def settled():
            """the redelivered task to index the document"""
            body = owner.client.get(f"/api/v1/documents/{document_id}").json()
            return body if body["status"] in {"indexed", "failed"} else None

        body = eventually(settled, timeout=120, every=0.5)
        assert body["status"] == "indexed", body

    with schema_context(owner.org.schema):
        chunks = Chunk.objects.filter(document_id=document_id)
        assert chunks.count() == SECTIONS
        assert sorted(chunks.values_list("ordinal", flat=True)) == list(range(SECTIONS))
        assert not chunks.filter(embedding__isnull=True).exists()  # every vector made
        texts = set(chunks.values_list("text", flat=True))
        assert len(texts) == SECTIONS  # each section once, none twice
        assert "The reference code of topic 137 is HB-1084903." in texts
        # Nothing else was made or left behind: one document, not processing.
        assert list(Document.objects.values_list("id", "status")) == [
            (document_id, DocumentStatus.INDEXED)
        ]
