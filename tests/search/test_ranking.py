"""After fusion: the recency boost, the reranker step, and what each answer costs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.test import override_settings
from django.utils import timezone

from ingestion.models import Document
from search.models import AnswerSettings, Question
from tests.fakes.openai_server import FakeOpenAIServer

# The old memo matches "staff parking" better (only it names the staff: both rankers
# agree, whatever the fusion); the new one is the current rule.
OLD = (
    b"# Parking memo 2019\n\nParking: staff parking is in lot B. Parking permits for "
    b"parking in lot B come from reception. Parking is free.\n"
)
NEW = b"# Parking memo 2026\n\nParking moved to lot C. Permits come from the facilities desk.\n"


def _titles(client, query: str) -> list[str]:
    response = client.get("/api/v1/search", {"q": query, "k": 5})
    assert response.status_code == 200, response.content
    return [r["document_title"] for r in response.json()["results"]]


def _age(title: str, days: int) -> None:
    Document.objects.filter(title=title).update(indexed_at=timezone.now() - timedelta(days=days))


def test_recency_boost_favours_recently_indexed_documents(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "old.md", OLD)
    upload_indexed(alice_api, "new.md", NEW)
    _age("Parking memo 2019", 2000)
    _age("Parking memo 2026", 3)

    # Off by default: the better keyword match wins.
    assert _titles(alice_api, "where is staff parking")[0] == "Parking memo 2019"

    with override_settings(RECENCY_HALF_LIFE_DAYS=180):
        assert _titles(alice_api, "where is staff parking")[0] == "Parking memo 2026"

    # An organization's own half-life overrides the environment's (here: off again).
    AnswerSettings.objects.create(recency_half_life_days=0)
    with override_settings(RECENCY_HALF_LIFE_DAYS=180):
        assert _titles(alice_api, "where is staff parking")[0] == "Parking memo 2019"


def test_reranker_reorders_and_a_failing_one_changes_nothing(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "old.md", OLD)
    upload_indexed(alice_api, "new.md", NEW)
    fused = _titles(alice_api, "where is staff parking")
    assert fused[0] == "Parking memo 2019"

    def prefers_facilities(query: str, document: str) -> float:
        return 0.9 if "facilities" in document else 0.1

    with (
        FakeOpenAIServer(api_key="rk-secret", relevance=prefers_facilities) as server,
        override_settings(
            RERANK_API_BASE=server.base_url, RERANK_MODEL="rerank-m", RERANK_API_KEY="rk-secret"
        ),
    ):
        response = alice_api.get("/api/v1/search", {"q": "where is staff parking", "k": 5})
        results = response.json()["results"]
        assert results[0]["document_title"] == "Parking memo 2026"
        assert results[0]["score"] == 0.9
        [request] = [r for r in server.requests if r.path == "/v1/rerank"]
        assert request.body["query"] == "where is staff parking"
        assert request.body["model"] == "rerank-m"
        assert request.headers["authorization"] == "Bearer rk-secret"
        assert any("lot C" in text for text in request.body["documents"])

        server.fail_status = 503
        assert _titles(alice_api, "where is staff parking") == fused


def test_each_answer_records_its_tokens_and_cost(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "new.md", NEW)
    with (
        FakeOpenAIServer(reply=lambda messages: "Staff parking is in lot C [1].") as server,
        override_settings(
            LLM_API_BASE=server.base_url,
            LLM_PROMPT_PRICE_PER_MILLION=2.5,
            LLM_COMPLETION_PRICE_PER_MILLION=10.0,
        ),
    ):
        body = alice_api.post("/api/v1/ask", {"question": "Where is staff parking?"}).json()
    assert body["mode"] == "llm"
    assert body["prompt_tokens"] > 0
    assert body["completion_tokens"] > 0
    expected = (
        Decimal(body["prompt_tokens"]) * Decimal("2.5")
        + Decimal(body["completion_tokens"]) * Decimal("10")
    ) / Decimal(1_000_000)
    assert Decimal(body["cost_usd"]) == expected.quantize(Decimal("0.000001"))
    assert Question.objects.get(pk=body["id"]).cost_usd == Decimal(body["cost_usd"])


def test_extractive_answers_cost_nothing(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "new.md", NEW)
    with override_settings(LLM_API_BASE="", LLM_PROMPT_PRICE_PER_MILLION=2.5):
        body = alice_api.post("/api/v1/ask", {"question": "Where is staff parking?"}).json()
    assert body["mode"] == "extractive"
    assert Decimal(body["cost_usd"]) == 0
