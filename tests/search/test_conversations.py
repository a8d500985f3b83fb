"""Conversations (follow-ups, rename, share, export, delete), feedback and batch questions."""

from __future__ import annotations

import pytest
from django.test import override_settings

from accounts.models import User
from search.models import Feedback, Question, SourceFeedback
from tests.conftest import api_client
from tests.fakes.openai_server import FakeOpenAIServer
from workspaces.models import Membership, Role, Workspace

TRAVEL = b"""# Travel policy

## Trains

Trips under 600 km are made by train in second class.

## Hotels

The hotel limit is 160 EUR per night in capitals and 120 EUR elsewhere.
"""


@pytest.fixture
def travel(acme, alice_api, upload_indexed):
    return upload_indexed(alice_api, "travel.md", TRAVEL)["id"]


@pytest.fixture
def dave_api(acme, world):
    """dave: a viewer of General (alice's workspace), to open what she shares."""
    dave = User.objects.create_user("dave@acme.example", "pw")
    Membership.objects.create(
        workspace=Workspace.objects.get(slug="general"), user=dave, role=Role.VIEWER
    )
    return api_client(world.acme, "dave@acme.example")


def _ask(client, question, conversation=None, **extra):
    payload = {"question": question, **extra}
    if conversation is not None:
        payload["conversation"] = conversation
    response = client.post("/api/v1/ask", payload, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_follow_up_is_read_in_the_conversation(travel, alice_api):
    conversation = alice_api.post("/api/v1/conversations", {}, format="json").json()
    first = _ask(alice_api, "What is the hotel limit per night?", conversation["id"])
    assert "160 EUR" in first["answer"]
    follow_up = _ask(alice_api, "And elsewhere?", conversation["id"])
    assert "120 EUR" in follow_up["answer"]
    record = Question.objects.get(pk=follow_up["id"])
    assert record.text == "And elsewhere?"
    assert "hotel limit" in record.standalone_text

    detail = alice_api.get(f"/api/v1/conversations/{conversation['id']}").json()
    assert detail["title"] == "What is the hotel limit per night?"
    assert [t["question"] for t in detail["turns"]] == [
        "What is the hotel limit per night?",
        "And elsewhere?",
    ]


def test_llm_rewrites_the_follow_up(travel, alice_api):
    def reply(messages):
        if messages[0]["content"].startswith("You rewrite"):
            return "How are trips under 600 km made?"
        return "By train in second class [1]."

    conversation = alice_api.post("/api/v1/conversations", {}, format="json").json()["id"]
    with (
        FakeOpenAIServer(reply=reply) as server,
        override_settings(LLM_API_BASE=server.base_url),
    ):
        _ask(alice_api, "What is the hotel limit?", conversation)
        answer = _ask(alice_api, "What about short trips?", conversation)
        rewrite, final = server.chat_requests()[-2:]
    assert "What is the hotel limit?" in rewrite.body["messages"][1]["content"]
    assert "How are trips under 600 km made?" in final.body["messages"][1]["content"]
    assert answer["answer"] == "By train in second class [1]."
    assert Question.objects.get(pk=answer["id"]).standalone_text == (
        "How are trips under 600 km made?"
    )


def test_rename_share_export_delete(travel, alice_api, dave_api, bob_api):
    conversation = alice_api.post(
        "/api/v1/conversations", {"title": "Travel"}, format="json"
    ).json()
    url = f"/api/v1/conversations/{conversation['id']}"
    _ask(alice_api, "What is the hotel limit per night?", conversation["id"])

    renamed = alice_api.patch(url, {"title": "  Hotels  "}, format="json").json()
    assert renamed["title"] == "Hotels"
    assert alice_api.patch(url, {"title": " "}, format="json").status_code == 400

    # Not shared: nobody else sees it, not even by id.
    assert dave_api.get(url).status_code == 404
    shared = alice_api.patch(url, {"shared": True}, format="json").json()
    token = shared["share_token"]
    assert shared["shared"] is True
    assert dave_api.get(f"/api/v1/conversations/shared/{token}").json()["title"] == "Hotels"
    # bob is not a member of General: the link reveals nothing to him.
    assert bob_api.get(f"/api/v1/conversations/shared/{token}").status_code == 404
    alice_api.patch(url, {"shared": False}, format="json")
    assert dave_api.get(f"/api/v1/conversations/shared/{token}").status_code == 404

    export = alice_api.get(f"{url}/export")
    assert export["Content-Type"].startswith("text/markdown")
    assert 'filename="hotels.md"' in export["Content-Disposition"]
    markdown = export.content.decode()
    assert markdown.startswith("# Hotels\n")
    assert "## What is the hotel limit per night?" in markdown
    assert "Sources:\n\n1. Travel policy (Travel policy > Hotels)" in markdown
    # In the reader's language, as the portal is.
    german = alice_api.get(f"{url}/export", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Quellen:\n\n1. Travel policy (Travel policy > Hotels)" in german

    listed = alice_api.get("/api/v1/conversations").json()["results"]
    assert [c["id"] for c in listed] == [conversation["id"]]
    assert dave_api.get("/api/v1/conversations").json()["results"] == []

    assert alice_api.delete(url).status_code == 204
    assert alice_api.get(url).status_code == 404
    assert not Question.objects.filter(conversation_id=conversation["id"]).exists()


def test_ask_in_someone_elses_conversation_is_404(travel, alice_api, dave_api):
    conversation = alice_api.post("/api/v1/conversations", {}, format="json").json()["id"]
    response = dave_api.post(
        "/api/v1/ask", {"question": "Hotel?", "conversation": conversation}, format="json"
    )
    assert response.status_code == 404


def test_feedback_on_answers_and_sources(travel, alice_api, dave_api):
    answer = _ask(alice_api, "What is the hotel limit per night?")
    response = alice_api.post(
        "/api/v1/feedback",
        {
            "question": answer["id"],
            "helpful": False,
            "comment": "The limit changed last month.",
            "sources": [{"number": 1, "reason": "wrong"}],
        },
        format="json",
    )
    assert response.status_code == 201
    # Changing one's mind replaces the verdict instead of adding another.
    alice_api.post(
        "/api/v1/feedback",
        {"question": answer["id"], "helpful": False, "comment": "Outdated."},
        format="json",
    )
    feedback = Feedback.objects.get(question_id=answer["id"])
    assert feedback.comment == "Outdated."
    flag = SourceFeedback.objects.get(question_id=answer["id"])
    assert (flag.citation_number, flag.reason, flag.document_id) == (1, "wrong", travel)

    bad = alice_api.post(
        "/api/v1/feedback",
        {"question": answer["id"], "helpful": True, "sources": [{"number": 9, "reason": "wrong"}]},
        format="json",
    )
    assert bad.status_code == 400
    assert "no source [9]" in str(bad.json())
    # dave cannot rate alice's (unshared) answer, nor see that it exists.
    other = dave_api.post(
        "/api/v1/feedback", {"question": answer["id"], "helpful": True}, format="json"
    )
    assert other.status_code == 404

    review = alice_api.get("/api/v1/feedback").json()["results"]
    assert [r["id"] for r in review] == [answer["id"]]
    assert review[0]["flagged_sources"] == [{"number": 1, "document_id": travel, "reason": "wrong"}]
    assert dave_api.get("/api/v1/feedback").status_code == 403


def test_batch_answers_in_order(travel, alice_api):
    response = alice_api.post(
        "/api/v1/batch",
        {"questions": ["What is the hotel limit per night?", "How are short trips made?"]},
        format="json",
    )
    assert response.status_code == 200
    answers = response.json()["answers"]
    assert "160 EUR" in answers[0]["answer"]
    assert "train" in answers[1]["answer"]
    too_many = alice_api.post("/api/v1/batch", {"questions": ["q"] * 21}, format="json")
    assert too_many.status_code == 400
    assert alice_api.post("/api/v1/batch", {"questions": []}, format="json").status_code == 400
    blank = alice_api.post("/api/v1/batch", {"questions": ["ok?", "  "]}, format="json")
    assert blank.status_code == 400
