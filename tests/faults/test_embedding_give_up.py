"""A document whose embedding keeps killing its worker (out of memory, SIGKILL) is given
up by the embedding queue, without holding up the organization's other documents.

The worker embeds through an OpenAI-compatible endpoint on loopback
(``tests/fakes/openai_server.py``) that never answers a batch holding the poisoned
page's text: the test SIGKILLs the worker each time such a batch arrives, as the
out-of-memory killer would, and starts it again. Each killed batch leaves its count in
Redis; the first time the poisoned page is embedded alone, the second time it is given
up (``ingestion.embedding_queue.MAX_INTERRUPTIONS``). It stays searchable by keyword
with the reason; the other pages, some of them in the first batch that died, end
indexed with every vector; Retry (a re-index) starts afresh and, with the endpoint
healed, ends indexed.
"""

from __future__ import annotations

import io

import pytest
from django_tenants.utils import schema_context

from tests.fakes.openai_server import FakeOpenAIServer, _Handler

pytestmark = [pytest.mark.faults, pytest.mark.worker]

POISON = "Quarantined"
# (title, sections, a word in each section): the second page is the poisoned one.
PAGES = (("Canteen", 3, ""), ("Parking", 4, POISON), ("Lockers", 3, ""))


class _PoisonHandler(_Handler):
    """Answers every embedding batch except one holding the poisoned page's text: that
    one hangs (until the server stops) while the test kills the worker."""

    def _embeddings(self, body) -> None:
        inputs = body.get("input") if isinstance(body, dict) else None
        if self.fake.poisoned and any(POISON in text for text in inputs or []):
            self.fake._stopping.wait(120)
            return
        super()._embeddings(body)


def _page(name: str, sections: int, word: str = "") -> io.BytesIO:
    text = "\n\n".join(
        f"## {name} part {n}\n\n{word} The {name} checklist item {n} is {name}-{n * 7919:06d}."
        for n in range(sections)
    )
    handle = io.BytesIO(f"# {name}\n\n{text}\n".encode())
    handle.name = f"{name.lower()}.md"
    return handle


def test_a_document_whose_embedding_keeps_killing_workers_is_given_up(
    fault_worker, fault_org, eventually
):
    from ingestion.embedding_queue import MAX_INTERRUPTIONS
    from ingestion.enqueue import document_reindex
    from ingestion.models import Chunk, Document, DocumentStatus

    embeddings = FakeOpenAIServer(embedding_dimensions=384)
    embeddings.handler_class = _PoisonHandler
    embeddings.poisoned = True
    with embeddings:
        worker = fault_worker(
            EMBEDDING_PROVIDER="openai",
            EMBEDDING_API_BASE=embeddings.base_url,
            EMBEDDING_MODEL="fake-embedding",
        )
        owner = fault_org("poisonco")
        ids = {}
        for name, sections, word in PAGES:
            response = owner.client.post(
                "/api/v1/documents", {"file": _page(name, sections, word)}, format="multipart"
            )
            assert response.status_code == 201, response.content
            ids[name] = response.json()["id"]

        def poisoned_batches() -> int:
            return sum(
                r.path == "/v1/embeddings"
                and any(POISON in text for text in (r.body or {}).get("input", []))
                for r in list(embeddings.requests)
            )

        def status(name: str) -> dict:
            return owner.client.get(f"/api/v1/documents/{ids[name]}").json()

        kills = 0
        while True:
            seen = kills

            def poisoned_batch_or_given_up(seen=seen):
                """the worker to send a poisoned batch, or the page to be given up"""
                return poisoned_batches() > seen or status("Parking")["error_message"]

            eventually(poisoned_batch_or_given_up, timeout=120, every=0.1)
            if poisoned_batches() == seen:
                break  # given up, no batch sent
            worker.kill()  # what the out-of-memory killer does mid-batch
            kills += 1
            assert kills <= MAX_INTERRUPTIONS, "the page was not given up"
            worker.start()
        assert kills == MAX_INTERRUPTIONS

        def settled():
            """the other pages to be indexed"""
            return all(status(name)["status"] == "indexed" for name in ("Canteen", "Lockers"))

        eventually(settled, timeout=120, every=0.5)
        parking = status("Parking")
        # Still found by keyword: its text and words were written before its vectors.
        assert parking["status"] == "searchable", parking
        assert "given up" in parking["error_message"]
        assert "Retry" in parking["error_message"]
        with schema_context(owner.org.schema):
            assert Chunk.objects.filter(document_id=ids["Parking"]).count() == 4
            assert not Chunk.objects.filter(
                document_id__in=[ids["Canteen"], ids["Lockers"]], embedding__isnull=True
            ).exists()
        assert poisoned_batches() == MAX_INTERRUPTIONS  # not tried a third time
        # The organization's admins find it in the audit log, with no actor: the queue.
        response = owner.client.get("/api/v1/audit?action=document.embedding_given_up")
        assert response.status_code == 200, response.content
        events = response.json()["results"]
        assert [(e["target_type"], str(e["target_id"])) for e in events] == [
            ("document", str(ids["Parking"]))
        ], events
        assert events[0]["extra"]["interrupted_batches"] == MAX_INTERRUPTIONS
        assert events[0]["actor_email"] == ""

        # Retry (the portal's Retry re-indexes it): a fresh count; the endpoint healed.
        embeddings.poisoned = False
        with schema_context(owner.org.schema):
            document_reindex(document=Document.objects.get(pk=ids["Parking"]))

        def retried():
            """the retried page to be indexed"""
            body = status("Parking")
            return body if body["status"] == "indexed" else None

        body = eventually(retried, timeout=120, every=0.5)
        assert body["error_message"] == ""
        with schema_context(owner.org.schema):
            assert not Chunk.objects.filter(embedding__isnull=True).exists()
            assert Document.objects.filter(status=DocumentStatus.INDEXED).count() == 3
