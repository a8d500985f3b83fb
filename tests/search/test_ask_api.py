"""Asking through the API and the portal: extractive answers, the LLM path, bad input."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from search.answering import NO_ANSWER_TEXT
from search.models import Question
from tests.fakes.openai_server import FakeOpenAIServer

TRAVEL = b"""# Travel policy

## Meals

The daily meal allowance for domestic trips is 45 EUR. Receipts are not needed for meals.

## Hotels

Book hotels through the travel desk at least ten days ahead. The nightly hotel limit is 160 EUR.
"""
SECURITY = b"""# Security policy

## Passwords

Passwords must be at least 14 characters long and are changed after a suspected leak.
"""


@pytest.fixture
def indexed(acme, alice_api, upload_indexed):
    return {
        "travel": upload_indexed(alice_api, "travel.md", TRAVEL)["id"],
        "security": upload_indexed(alice_api, "security.md", SECURITY)["id"],
    }


def test_extractive_answer_cites_the_right_passage(indexed, alice_api):
    response = alice_api.post("/api/v1/ask", {"question": "What is the meal allowance per day?"})
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "extractive"
    assert "45 EUR" in body["answer"]
    assert "[1]" in body["answer"]
    first = body["citations"][0]
    assert first["number"] == 1
    assert first["document_id"] == indexed["travel"]
    assert first["heading_path"] == ["Travel policy", "Meals"]
    assert first["url"] == f"/documents/{indexed['travel']}/#chunk-{first['chunk_id']}"
    # The question and its answer are logged for analytics.
    record = Question.objects.get(pk=body["id"])
    assert record.answer == body["answer"]
    assert record.latency_ms >= record.retrieval_ms


def test_search_returns_ranked_passages(indexed, alice_api):
    response = alice_api.get("/api/v1/search", {"q": "password length", "k": 2})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 2
    assert results[0]["document_id"] == indexed["security"]
    assert results[0]["score"] >= results[1]["score"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"q": ""}, "question"), ({"q": "x", "k": "many"}, "k"), ({"q": "x", "k": 0}, "k")],
)
def test_search_bad_input_is_400(acme, alice_api, params, field):
    response = alice_api.get("/api/v1/search", params)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("payload", [{}, {"question": "   "}, {"question": "x" * 2001}])
def test_ask_bad_input_is_400(acme, alice_api, payload):
    response = alice_api.post("/api/v1/ask", payload, format="json")
    assert response.status_code == 400
    assert "question" in response.json()


def test_question_with_no_matching_passage_says_so(indexed, alice_api):
    body = alice_api.post("/api/v1/ask", {"question": "Who won the football cup in 1954?"}).json()
    assert body["mode"] == "no_answer"
    assert body["citations"] == []
    assert "do not answer" in body["answer"]


NO_ANSWER_DE = "Die Ihnen zugänglichen Dokumente beantworten diese Frage nicht."


def test_no_answer_sentence_is_shown_in_the_askers_language(indexed, alice_api, alice_portal):
    question = "Who won the football cup in 1954?"
    page = alice_portal.post(
        "/ask/", {"question": question}, follow=True, HTTP_ACCEPT_LANGUAGE="de-DE"
    ).content.decode()
    assert NO_ANSWER_DE in page
    assert NO_ANSWER_TEXT not in page
    # Stored (and compared: analytics, the LLM's reply) in English whatever the language.
    assert Question.objects.get().answer == NO_ANSWER_TEXT

    # The portal's streamed answer: its deltas and its final text.
    stream = alice_portal.post("/ask/stream", {"question": question}, HTTP_ACCEPT_LANGUAGE="de-DE")
    body = b"".join(stream.streaming_content).decode()
    assert NO_ANSWER_TEXT not in body
    done = json.loads(body.split("event: done\ndata: ", 1)[1].split("\n", 1)[0])
    assert done["mode"] == "no_answer"
    assert done["answer"] == NO_ANSWER_DE

    # The API follows the caller's Accept-Language; without one it stays English.
    german = alice_api.post("/api/v1/ask", {"question": question}, HTTP_ACCEPT_LANGUAGE="de")
    assert german.json()["answer"] == NO_ANSWER_DE
    assert alice_api.post("/api/v1/ask", {"question": question}).json()["answer"] == NO_ANSWER_TEXT


def test_llm_writes_the_answer_with_validated_citations(indexed, alice_api):
    def reply(messages):
        # Cites passage 1 and a passage that does not exist; the latter must be dropped.
        return "Meals are covered up to 45 EUR a day [1]. Hotels are free [9]."

    with (
        FakeOpenAIServer(api_key="sk-test", reply=reply) as server,
        override_settings(LLM_API_BASE=server.base_url, LLM_API_KEY="sk-test", LLM_MODEL="m1"),
    ):
        body = alice_api.post("/api/v1/ask", {"question": "What is the meal allowance?"}).json()
        request = server.chat_requests()[-1]
    assert body["mode"] == "llm"
    assert "[9]" not in body["answer"]
    assert "45 EUR a day [1]" in body["answer"]
    assert [c["number"] for c in body["citations"]] == [1]
    assert body["citations"][0]["document_id"] == indexed["travel"]
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "m1"
    assert "45 EUR" in json.dumps(request.body["messages"])
    record = Question.objects.get(pk=body["id"])
    assert record.model == "m1"
    assert record.prompt_tokens > 0
    assert record.completion_tokens > 0


def test_llm_failure_falls_back_to_the_extractive_answer(indexed, alice_api, caplog):
    with FakeOpenAIServer(api_key="sk-secret-key") as server:
        server.fail_status = 500
        with override_settings(LLM_API_BASE=server.base_url, LLM_API_KEY="sk-secret-key"):
            body = alice_api.post("/api/v1/ask", {"question": "What is the meal allowance?"}).json()
    assert body["mode"] == "extractive"
    assert "45 EUR" in body["answer"]
    assert "LLM failed" in caplog.text
    assert "sk-secret-key" not in caplog.text


def test_portal_ask_page_shows_answer_and_linked_sources(indexed, alice_portal):
    page = alice_portal.get("/ask/")
    assert page.status_code == 200
    assert b"Ask General" in page.content
    response = alice_portal.post("/ask/", {"question": "How long must passwords be?"}, follow=True)
    assert response.status_code == 200
    # The question opened a conversation named after it.
    assert "conversation=" in response.redirect_chain[-1][0]
    html = response.content.decode()
    assert "<h1>How long must passwords be?</h1>" in html
    assert "14 characters" in html
    assert f'href="/documents/{indexed["security"]}/#chunk-' in html
    empty = alice_portal.post("/ask/", {"question": ""})
    assert empty.status_code == 400
    assert "the text is empty" in empty.content.decode()
