"""The answer cache: the same question is answered from Redis until the index changes."""

from __future__ import annotations

from django.test import override_settings

from search.models import Question
from tests.fakes.openai_server import FakeOpenAIServer

GUIDE = b"# Office guide\n\n## Parking\n\nVisitors park on level -1 of the north garage.\n"


def test_repeated_question_is_served_from_cache_until_the_index_changes(
    acme, alice_api, upload_indexed, django_capture_on_commit_callbacks
):
    upload_indexed(alice_api, "guide.md", GUIDE)
    with (
        FakeOpenAIServer() as server,
        override_settings(LLM_API_BASE=server.base_url, LLM_MODEL="m1"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = alice_api.post("/api/v1/ask", {"question": "Where do visitors park?"}).json()
        again = alice_api.post("/api/v1/ask", {"question": "  where do VISITORS park? "}).json()
        assert len(server.chat_requests()) == 1  # the second came from the cache
        assert again["answer"] == first["answer"]
        assert again["citations"] == first["citations"]
        # Both are in the query log; the cached one spent no tokens.
        assert Question.objects.get(pk=again["id"]).prompt_tokens == 0

        # A new document changes the index: the next ask goes to the model again.
        upload_indexed(alice_api, "more.md", b"# Visitors\n\nVisitors sign in at reception.\n")
        alice_api.post("/api/v1/ask", {"question": "Where do visitors park?"})
        assert len(server.chat_requests()) == 2

        # "regenerate" skips the cache on purpose.
        body = {"question": "Where do visitors park?", "regenerate": True}
        assert alice_api.post("/api/v1/ask", body, format="json").status_code == 200
        assert len(server.chat_requests()) == 3


def test_llm_failure_fallback_is_not_cached(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "guide.md", GUIDE)
    with FakeOpenAIServer() as server, override_settings(LLM_API_BASE=server.base_url):
        server.fail_status = 500
        first = alice_api.post("/api/v1/ask", {"question": "Where do visitors park?"}).json()
        assert first["mode"] == "extractive"
        server.fail_status = None
        second = alice_api.post("/api/v1/ask", {"question": "Where do visitors park?"}).json()
    assert second["mode"] == "llm"


def test_an_answer_written_while_its_document_was_restricted_is_never_served(
    acme, alice_api, bob_api, upload_indexed, django_capture_on_commit_callbacks, monkeypatch
):
    """The passages were read before the restriction, the answer stored after the index
    version moved on: it must be stored under the version it was read at, not served to
    bob (outside the new readers) as the current answer (issue 11, finding 1)."""
    from accounts.audit import AuditContext
    from ingestion.models import Document
    from ingestion.readers import document_readers_set
    from search import services

    document_id = upload_indexed(bob_api, "guide.md", GUIDE, workspace="sales")["id"]
    llm_answer = services._llm_answer

    def restrict_while_answering(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            document_readers_set(
                document=Document.objects.get(pk=document_id),
                readers=["group:finance"],
                audit=AuditContext(),
            )
        return llm_answer(*args, **kwargs)

    question = {"question": "Where do visitors park?", "workspace": "sales"}
    with (
        FakeOpenAIServer() as server,
        override_settings(LLM_API_BASE=server.base_url, LLM_MODEL="m1"),
    ):
        monkeypatch.setattr(services, "_llm_answer", restrict_while_answering)
        first = bob_api.post("/api/v1/ask", question).json()
        assert document_id in {c["document_id"] for c in first["citations"]}  # read before
        monkeypatch.setattr(services, "_llm_answer", llm_answer)
        again = bob_api.post("/api/v1/ask", question)
        assert again.status_code == 200
        assert document_id not in {c["document_id"] for c in again.json()["citations"]}
        assert "level -1" not in again.content.decode()


def test_a_cached_answer_is_not_served_once_a_cited_document_is_restricted_even_unbumped(
    acme, bob_api, upload_indexed
):
    """The index version lives in Redis and a bump can be missed (Redis down as the
    change commits, the key evicted): a cached answer is still checked against what the
    asker may read now, so it is not served."""
    from accounts.audit import AuditContext
    from ingestion.models import Document
    from ingestion.readers import document_readers_set

    document_id = upload_indexed(bob_api, "guide.md", GUIDE, workspace="sales")["id"]
    question = {"question": "Where do visitors park?", "workspace": "sales"}
    with (
        FakeOpenAIServer() as server,
        override_settings(LLM_API_BASE=server.base_url, LLM_MODEL="m1"),
    ):
        first = bob_api.post("/api/v1/ask", question).json()
        assert document_id in {c["document_id"] for c in first["citations"]}
        bob_api.post("/api/v1/ask", question)
        assert len(server.chat_requests()) == 1  # cached
        # Restricted; the cache's on-commit bump never runs in this test's transaction.
        document_readers_set(
            document=Document.objects.get(pk=document_id),
            readers=["group:finance"],
            audit=AuditContext(),
        )
        again = bob_api.post("/api/v1/ask", question)
        assert again.status_code == 200
        assert document_id not in {c["document_id"] for c in again.json()["citations"]}
        assert "level -1" not in again.content.decode()
