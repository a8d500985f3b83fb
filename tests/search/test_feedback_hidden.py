"""Feedback on an answer hidden from its reader reveals nothing of its sources (issue 11, 6).

alice asks in Sales from a document only she may read and shares the conversation;
bob (editor of Sales) sees the answer hidden. Flagging any source number of it must
answer the same, and no flag may record the document bob cannot read.
"""

from __future__ import annotations

import pytest

from accounts.audit import AuditContext
from ingestion.models import Document
from ingestion.readers import document_readers_set
from search.conversations import ANSWER_HIDDEN_NOT_FLAGGABLE, ANSWER_WITHHELD
from search.models import Feedback, SourceFeedback
from tests.conftest import portal_client

MINUTES = (
    b"# Board minutes\n\nThe board approved the merger with Initech. The merger closes in "
    b"March; the board minutes are confidential until the merger is announced.\n"
)
QUESTION = "When does the merger with Initech close?"


@pytest.fixture
def hidden_answer(acme, alice_api, upload_indexed, django_capture_on_commit_callbacks):
    """A shared conversation in Sales whose answer cites a document only alice reads."""
    minutes = upload_indexed(alice_api, "minutes.md", MINUTES, workspace="sales")["id"]
    with django_capture_on_commit_callbacks(execute=True):
        document_readers_set(
            document=Document.objects.get(pk=minutes),
            readers=["user:alice@acme.example"],
            audit=AuditContext(),
        )
    conversation = alice_api.post("/api/v1/conversations", {"workspace": "sales"}).json()["id"]
    asked = alice_api.post(
        "/api/v1/ask", {"question": QUESTION, "workspace": "sales", "conversation": conversation}
    ).json()
    assert minutes in {c["document_id"] for c in asked["citations"]}
    token = alice_api.patch(
        f"/api/v1/conversations/{conversation}", {"shared": True}, format="json"
    ).json()["share_token"]
    return {"question": asked["id"], "token": token, "minutes": minutes, "asked": asked}


def _flag(client, question: int, number: int):
    return client.post(
        "/api/v1/feedback",
        {
            "question": question,
            "helpful": False,
            "sources": [{"number": number, "reason": "wrong"}],
        },
        format="json",
    )


def test_every_source_number_of_a_hidden_answer_answers_the_same(hidden_answer, bob_api):
    shared = bob_api.get(f"/api/v1/conversations/shared/{hidden_answer['token']}").json()
    assert shared["turns"][0]["answer"] == ANSWER_WITHHELD
    cited = len(hidden_answer["asked"]["citations"])
    responses = [_flag(bob_api, hidden_answer["question"], n) for n in range(1, cited + 3)]
    assert {r.status_code for r in responses} == {400}
    assert {r.content for r in responses} == {responses[0].content}
    assert ANSWER_HIDDEN_NOT_FLAGGABLE in responses[0].content.decode()
    assert not SourceFeedback.objects.filter(question_id=hidden_answer["question"]).exists()
    assert not Feedback.objects.filter(question_id=hidden_answer["question"]).exists()


def test_a_hidden_answer_can_still_be_rated(hidden_answer, bob_api):
    response = bob_api.post(
        "/api/v1/feedback",
        {"question": hidden_answer["question"], "helpful": False, "comment": "Hidden?"},
        format="json",
    )
    assert response.status_code == 201
    assert Feedback.objects.get(question_id=hidden_answer["question"]).comment == "Hidden?"


def test_the_asker_who_reads_every_source_may_flag_them(hidden_answer, alice_api):
    assert _flag(alice_api, hidden_answer["question"], 1).status_code == 201
    flag = SourceFeedback.objects.get(question_id=hidden_answer["question"])
    first = hidden_answer["asked"]["citations"][0]["document_id"]
    assert (flag.citation_number, flag.document_id) == (1, first)
    missing = _flag(alice_api, hidden_answer["question"], 99)
    assert missing.status_code == 400
    assert "no source [99]" in missing.content.decode()


def test_portal_offers_no_flags_on_a_hidden_answer_and_refuses_them(world, hidden_answer):
    bob = portal_client(world.acme, "bob@acme.example")
    page = bob.get(f"/ask/shared/{hidden_answer['token']}").content.decode()
    assert ANSWER_WITHHELD in page
    assert 'name="flag"' not in page
    for number in (1, 2, 7):
        response = bob.post(
            f"/ask/answers/{hidden_answer['question']}/feedback",
            {"helpful": "0", "flag": f"{number}:wrong"},
            follow=True,
        )
        assert ANSWER_HIDDEN_NOT_FLAGGABLE in response.content.decode()
    assert not SourceFeedback.objects.filter(question_id=hidden_answer["question"]).exists()


def test_a_source_deleted_since_is_never_recorded(hidden_answer, alice_api):
    """Deleting a document replaces the answers citing it; its asker cannot flag it."""
    assert alice_api.delete(f"/api/v1/documents/{hidden_answer['minutes']}").status_code == 204
    assert _flag(alice_api, hidden_answer["question"], 1).status_code == 400
    assert not SourceFeedback.objects.filter(document_id=hidden_answer["minutes"]).exists()
