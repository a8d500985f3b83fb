"""The optional LLM steps before the answer: query rewrite (other queries, translations)
and LLM reranking, against the loopback fake OpenAI server: what is sent (never a
passage the asker may not read), how replies are read, the tokens counted with the
answer, the switches (installation and organization), and that any failure or timeout
leaves today's answer."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.test import override_settings

from accounts.audit import AuditContext
from ingestion.index import Ranked
from ingestion.models import Document
from ingestion.readers import document_readers_set
from search.answering import Passage
from search.llm import LLMConfig, LLMUsage
from search.models import AnswerSettings, Question
from search.prompts import QUERY_REWRITE_PROMPT, RERANK_PROMPT
from search.rerank import LLMReranker, ranking_parse
from search.rewrite import Rewrite, rankings_fuse, rewrites_parse
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    _Handler,
    default_reply,
    error_body,
    system_prompt,
)

# --- replies read robustly (no database) ---------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"ranking": [3, 1, 2]}', [2, 0, 1]),
        ('```json\n{"ranking": [2]}\n```', [1]),
        ('Sure! {"ranking": ["2", "9", "2", 1]} Hope this helps.', [1, 0]),
        ('{"ranking": [{"id": 1, "score": 0.2}, {"id": 3, "score": 0.9}]}', [2, 0]),
        ("[3, 2]", [2, 1]),
        ("3 > 1 > 2", [2, 0, 1]),
        ("None of the passages help.", []),
        ('{"ranking": []}', []),
        ("", []),
    ],
)
def test_rankings_are_read_from_the_shapes_models_write(reply, expected):
    assert ranking_parse(reply, 3) == expected


def test_rewrites_are_read_from_json_only_bounded_and_without_the_question():
    question = "What is the per diem abroad?"
    found = rewrites_parse(
        '{"queries": ["per diem abroad", "daily allowance foreign trips", "x", "y"], '
        '"translations": ["Wie hoch ist die Tagespauschale im Ausland?"]}',
        question,
        alternatives=2,
        translations=1,
    )
    assert found == [
        Rewrite("Wie hoch ist die Tagespauschale im Ausland?", "translation"),
        Rewrite("per diem abroad", "alternative"),
        Rewrite("daily allowance foreign trips", "alternative"),
    ]
    # Anything but the JSON asked for (a refusal, prose) is no query.
    assert (
        rewrites_parse("I cannot help with that.", question, alternatives=2, translations=1) == []
    )
    assert (
        rewrites_parse("1. per diem\n2. allowance", question, alternatives=2, translations=0) == []
    )
    fenced = (
        '```json\n{"queries": ["per diem abroad"], "translations": {"german": "Tagessatz"}}\n```'
    )
    assert [r.text for r in rewrites_parse(fenced, question, alternatives=1, translations=1)] == [
        "Tagessatz",
        "per diem abroad",
    ]
    assert rewrites_parse("", question, alternatives=2, translations=1) == []


def test_rankings_fuse_weighs_each_query_by_how_sure_its_ranking_is():
    flat = [Ranked(i, 1.0 - i / 1000) for i in range(1, 101)]  # nothing stands out
    sharp = [Ranked(500, 1.0)] + [Ranked(i, 0.05) for i in range(1, 20)]
    fused = rankings_fuse([flat, sharp], [1.0, 1.0])
    assert fused[0].chunk_id == 500
    assert all(0.0 <= item.score <= 1.0 for item in fused)
    assert rankings_fuse([flat], [1.0])[0].chunk_id == 1


def _passage(number: int, text: str) -> Passage:
    return Passage(number, number, f"Doc {number}", (), text, 1.0 - number / 100)


def test_the_llm_reranker_orders_named_passages_first_and_keeps_the_rest():
    passages = [
        _passage(1, "Parking is free on weekends."),
        _passage(2, "The per diem abroad is 42 euros."),
        _passage(3, "Nothing here."),
    ]
    usage = LLMUsage()
    with FakeOpenAIServer() as server:
        config = LLMConfig(api_base=server.base_url, model="fake-chat")
        reranked = LLMReranker(config, usage=usage).apply("per diem abroad", passages)
        [request] = server.chat_requests()
    assert [p.chunk_id for p in reranked] == [2, 1, 3]
    assert reranked[0].score == passages[1].score  # the fused score is kept
    assert system_prompt(request.body["messages"]) == RERANK_PROMPT
    assert usage.calls == 1
    assert usage.prompt_tokens > 0


@pytest.mark.parametrize("failure", ["status", "garbage", "timeout"])
def test_the_llm_reranker_keeps_the_order_on_any_failure(failure, settings):
    settings.LLM_STEP_TIMEOUT_S = 0.3
    passages = [_passage(1, "alpha beta"), _passage(2, "per diem abroad")]

    def reply(messages):
        if failure == "timeout":
            time.sleep(1.5)
        return "I would rather not." if failure == "garbage" else default_reply(messages)

    with FakeOpenAIServer(reply=reply) as server:
        if failure == "status":
            server.fail_status = 503
        reranker = LLMReranker.from_settings(LLMConfig(api_base=server.base_url, model="fake-chat"))
        started = time.perf_counter()
        assert reranker.apply("per diem abroad", passages) == passages
        assert time.perf_counter() - started < 1.2  # the step's own timeout, not the answer's


# --- answers with the steps switched on (database, fake LLM) ---------------------------

TRAVEL = b"""# Travel policy

## Per diem

The daily meal allowance for trips abroad is 42 EUR. Receipts are not needed.

## Hotels

Book hotels through the travel desk. The nightly hotel limit is 160 EUR.
"""
SECRET = b"""# Board salaries

## Per diem

Board members receive a confidential daily allowance of 900 EUR abroad.
"""
QUESTION = "What is the daily allowance abroad?"


@pytest.fixture
def documents(acme, alice_api, upload_indexed, django_capture_on_commit_callbacks):
    ids = {
        "travel": upload_indexed(alice_api, "travel.md", TRAVEL, workspace="sales")["id"],
        "secret": upload_indexed(alice_api, "board.md", SECRET, workspace="sales")["id"],
    }
    with django_capture_on_commit_callbacks(execute=True):
        document_readers_set(
            document=Document.objects.get(pk=ids["secret"]),
            readers=["group:board"],
            audit=AuditContext(),
        )
    return ids


def _kinds(server: FakeOpenAIServer) -> list[str]:
    names = {QUERY_REWRITE_PROMPT: "rewrite", RERANK_PROMPT: "rerank"}
    return [names.get(system_prompt(r.body["messages"]), "answer") for r in server.chat_requests()]


def test_rewrite_and_rerank_run_before_the_answer_and_their_tokens_are_counted(documents, bob_api):
    with (
        FakeOpenAIServer() as server,
        override_settings(
            LLM_API_BASE=server.base_url,
            LLM_QUERY_REWRITE=True,
            LLM_RERANK=True,
            LLM_PROMPT_PRICE_PER_MILLION=1000.0,
            LLM_COMPLETION_PRICE_PER_MILLION=0.0,
        ),
    ):
        body = bob_api.post("/api/v1/ask", {"question": QUESTION, "workspace": "sales"}).json()
        requests = server.chat_requests()
    assert _kinds(server) == ["rewrite", "rerank", "answer"], body
    assert body["mode"] == "llm"
    assert "42 EUR" in body["answer"]
    rewrite, rerank, _answer = (r.body["messages"][-1]["content"] for r in requests)
    # The rewrite sees the question and the documents' languages, no document text.
    assert f"Question: {QUESTION}" in rewrite
    assert "Document languages: English" in rewrite
    assert "Travel policy" not in rewrite
    # Bob may not read the board's document: it is never sent to the LLM.
    assert "42 EUR" in rerank
    assert "900 EUR" not in rerank
    assert "Board salaries" not in json.dumps([r.body for r in requests])
    # All three calls' tokens are the answer's, priced like it.
    prompt_tokens = sum(len(m["content"].split()) for r in requests for m in r.body["messages"])
    assert body["prompt_tokens"] == prompt_tokens
    assert Decimal(body["cost_usd"]) == (Decimal(prompt_tokens) * 1000 / 10**6).quantize(
        Decimal("0.000001")
    )
    assert Question.objects.get(pk=body["id"]).prompt_tokens == prompt_tokens


def test_a_translation_finds_the_documents_in_their_language(documents, alice_api):
    german = "Wie hoch ist die Verpflegungspauschale im Ausland?"

    def reply(messages):
        if system_prompt(messages) == QUERY_REWRITE_PROMPT:
            return json.dumps({"queries": [], "translations": [QUESTION]})
        return default_reply(messages)

    with (
        FakeOpenAIServer(reply=reply) as server,
        override_settings(LLM_API_BASE=server.base_url, LLM_QUERY_REWRITE=True),
    ):
        body = alice_api.post("/api/v1/ask", {"question": german, "workspace": "sales"}).json()
    assert _kinds(server) == ["rewrite", "answer"]
    titles = {c["document_title"] for c in body["citations"]}
    assert "Travel policy" in titles


class _StepsFail(_Handler):
    """Answers the rewrite and rerank prompts with HTTP 500, the answer prompt as usual."""

    def _chat_completions(self, body):
        if system_prompt(body["messages"]) in (QUERY_REWRITE_PROMPT, RERANK_PROMPT):
            self._send_json(500, error_body("The server had an error.", "server_error"))
            return
        super()._chat_completions(body)


@pytest.mark.parametrize("failure", ["status", "timeout", "garbage"])
def test_a_failing_step_leaves_the_answer_as_without_it(documents, alice_api, failure):
    def reply(messages):
        if system_prompt(messages) in (QUERY_REWRITE_PROMPT, RERANK_PROMPT):
            if failure == "timeout":
                time.sleep(1.5)
            if failure == "garbage":
                return "I cannot help with that."
        return default_reply(messages)

    with FakeOpenAIServer() as baseline, override_settings(LLM_API_BASE=baseline.base_url):
        expected = alice_api.post(
            "/api/v1/ask", {"question": QUESTION, "workspace": "sales"}
        ).json()
    Question.objects.all().delete()
    server = FakeOpenAIServer(reply=reply)
    if failure == "status":
        server.handler_class = _StepsFail
    with (
        server,
        override_settings(
            LLM_API_BASE=server.base_url,
            LLM_QUERY_REWRITE=True,
            LLM_RERANK=True,
            LLM_STEP_TIMEOUT_S=0.3,
            ANSWER_CACHE_TTL_S=0,
        ),
    ):
        body = alice_api.post("/api/v1/ask", {"question": QUESTION, "workspace": "sales"}).json()
        assert _kinds(server) == ["rewrite", "rerank", "answer"]
    assert body["mode"] == "llm"
    assert body["answer"] == expected["answer"]
    assert [c["chunk_id"] for c in body["citations"]] == [
        c["chunk_id"] for c in expected["citations"]
    ]


def test_the_organization_switches_the_steps_off_and_on(documents, alice_api):
    with (
        FakeOpenAIServer() as server,
        override_settings(LLM_API_BASE=server.base_url, LLM_QUERY_REWRITE=True, LLM_RERANK=True),
    ):
        AnswerSettings.objects.create(llm_query_rewrite=False, llm_rerank=False)
        alice_api.post("/api/v1/ask", {"question": QUESTION, "workspace": "sales"})
        assert _kinds(server) == ["answer"]
    with (
        FakeOpenAIServer() as server,
        override_settings(LLM_API_BASE=server.base_url),  # installation default: off
    ):
        AnswerSettings.objects.update(llm_query_rewrite=None, llm_rerank=True)
        alice_api.post("/api/v1/ask", {"question": QUESTION + " (again)", "workspace": "sales"})
        assert _kinds(server) == ["rerank", "answer"]


def test_without_an_llm_nothing_changes(documents, alice_api):
    with override_settings(LLM_API_BASE="", LLM_QUERY_REWRITE=True, LLM_RERANK=True):
        body = alice_api.post("/api/v1/ask", {"question": QUESTION, "workspace": "sales"}).json()
    assert body["mode"] == "extractive"
    assert body["prompt_tokens"] == 0


def test_the_answer_settings_page_switches_each_step(acme):
    from search.admin import AnswerSettingsForm
    from search.answer_settings import llm_steps

    form = AnswerSettingsForm(data={"llm_query_rewrite": "true", "llm_rerank": "unknown"})
    assert form.is_valid(), form.errors
    form.save()
    with override_settings(LLM_QUERY_REWRITE=False, LLM_RERANK=True):
        assert llm_steps() == (True, True)
    html = str(form["llm_rerank"])
    assert "The installation&#x27;s default" in html
    assert '<option value="false">Off</option>' in html
