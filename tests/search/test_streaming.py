"""Streamed answers over server-sent events: API (?stream=true) and the portal."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from search.models import Question
from tests.fakes.openai_server import FakeOpenAIServer

POLICY = b"""# Leave policy

## Annual leave

Full-time staff receive 28 days of annual leave per calendar year.

## Sick leave

Report sickness to your manager before 10:00 on the first day.
"""


def events(response) -> list[tuple[str, dict]]:
    body = b"".join(response.streaming_content).decode()
    parsed = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        parsed.append((lines["event"], json.loads(lines["data"])))
    return parsed


@pytest.fixture
def leave(acme, alice_api, upload_indexed):
    return upload_indexed(alice_api, "leave.md", POLICY)["id"]


def test_stream_sends_sources_then_text_then_the_final_answer(leave, alice_api):
    def reply(messages):
        return "You get 28 days of annual leave [1]. Ask HR for more [7]."

    with (
        FakeOpenAIServer(reply=reply) as server,
        override_settings(LLM_API_BASE=server.base_url, LLM_MODEL="m1"),
    ):
        response = alice_api.post(
            "/api/v1/ask?stream=true",
            {"question": "How many days of annual leave do I get?"},
            HTTP_ACCEPT="text/event-stream",
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "text/event-stream"
        stream = events(response)
        request = server.chat_requests()[-1]
    names = [name for name, _ in stream]
    assert names[0] == "sources"
    assert names[-1] == "done"
    assert set(names[1:-1]) == {"delta"}
    assert len(names) > 3  # the text arrived in several pieces
    sources = stream[0][1]["sources"]
    assert sources[0]["document_id"] == leave
    assert sources[0]["url"].startswith(f"/documents/{leave}/#chunk-")
    streamed = "".join(data["text"] for name, data in stream if name == "delta")
    assert streamed == "You get 28 days of annual leave [1]. Ask HR for more [7]."
    done = stream[-1][1]
    assert done["mode"] == "llm"
    assert "[7]" not in done["answer"]  # invalid citation removed in the final answer
    assert [c["number"] for c in done["citations"]] == [1]
    assert request.body["stream"] is True
    assert Question.objects.get(pk=done["id"]).answer == done["answer"]


def test_stream_without_llm_sends_the_extractive_answer(leave, alice_api):
    response = alice_api.post(
        "/api/v1/ask?stream=true", {"question": "How many days of annual leave?"}
    )
    stream = events(response)
    names = [name for name, _ in stream]
    assert (names[0], set(names[1:-1]), names[-1]) == ("sources", {"delta"}, "done")
    streamed = "".join(data["text"] for name, data in stream if name == "delta")
    assert "28 days" in streamed
    assert stream[-1][1]["mode"] == "extractive"
    assert streamed == stream[-1][1]["answer"]


def test_the_extractive_answer_is_sent_a_sentence_at_a_time(leave, alice_api):
    response = alice_api.post(
        "/api/v1/ask?stream=true", {"question": "When do I report sickness to my manager?"}
    )
    stream = events(response)
    deltas = [data["text"] for name, data in stream if name == "delta"]
    answer = stream[-1][1]["answer"]
    assert "".join(deltas) == answer
    assert len(deltas) == answer.count(". ") + 1 > 1


def test_each_event_is_sent_as_soon_as_it_is_ready(leave, alice_api):
    """Issue 16: the answer arrived in one piece. The sources leave before the model is
    asked, and the first words before the answer is finished and recorded."""
    with (
        FakeOpenAIServer(reply=lambda messages: "You get 28 days of annual leave [1].") as server,
        override_settings(LLM_API_BASE=server.base_url, LLM_MODEL="m1"),
    ):
        response = alice_api.post(
            "/api/v1/ask?stream=true", {"question": "How many days of annual leave do I get?"}
        )
        chunks = iter(response.streaming_content)
        first = next(chunks)
        assert first.startswith(b"event: sources")
        assert server.chat_requests() == []  # retrieval is done, the model not yet asked
        second = next(chunks)
        assert second.startswith(b"event: delta")
        assert len(server.chat_requests()) == 1
        assert not Question.objects.exists()  # the answer is still being written
        rest = b"".join(chunks)
    assert rest.count(b"event: delta") >= 5
    assert b"event: done" in rest
    assert Question.objects.count() == 1


def test_stream_falls_back_when_the_llm_fails(leave, alice_api):
    with FakeOpenAIServer() as server:
        server.fail_status = 503
        with override_settings(LLM_API_BASE=server.base_url):
            stream = events(
                alice_api.post("/api/v1/ask?stream=true", {"question": "Annual leave days?"})
            )
    assert stream[-1][0] == "done"
    assert stream[-1][1]["mode"] == "extractive"
    assert "28 days" in stream[-1][1]["answer"]


def test_stream_rejects_a_bad_question_before_streaming(acme, alice_api):
    response = alice_api.post("/api/v1/ask?stream=true", {"question": "  "}, format="json")
    assert response.status_code == 400
    assert "question" in response.json()


def test_portal_stream(leave, alice_portal):
    response = alice_portal.post("/ask/stream", {"question": "When do I report sickness?"})
    assert response.status_code == 200
    stream = events(response)
    assert stream[-1][0] == "done"
    assert "10:00" in stream[-1][1]["answer"]
    empty = alice_portal.post("/ask/stream", {"question": ""})
    assert empty.status_code == 400
    assert "empty" in empty.json()["detail"]
    assert alice_portal.get("/ask/stream").status_code == 405
