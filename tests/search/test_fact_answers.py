"""Facts in the answer: the API's ``facts`` (plain and streamed) lists the entities whose
facts satisfy a range question, each fact linked to its passage, and only the facts of
documents the asker may read."""

from __future__ import annotations

import json

import pytest

from accounts.audit import AuditContext
from ingestion.models import Chunk, Document
from ingestion.readers import document_readers_set

ROWERS = {
    "ann.md": "# Ann Lind\n\nAnn Lind is a Danish rower.\n\nHeight: 1.96 m\nBorn: 1990\n",
    "bo.md": "# Bo Berg\n\nBo Berg is a Danish rower.\n\n| Attribute | Value |\n|---|---|\n"
    "| Height | 6 ft 7 in (201 cm) |\n| Year of birth | 1985 |\n",
    "cy.md": "# Cy Dahl\n\nCy Dahl is a Danish rower.\n\n- **Height:** 182 cm\n- **Born:** 1979\n",
}
SECRET = "# Eve Gran\n\nEve Gran is a Danish rower.\n\nHeight: 2.05 m\nBorn: 1988\n"
QUESTION = "Which rowers are taller than 1.95 m?"


@pytest.fixture
def rowers(acme, alice_api, upload_indexed, django_capture_on_commit_callbacks):
    ids = {
        name: upload_indexed(alice_api, name, text.encode(), workspace="sales")["id"]
        for name, text in ROWERS.items()
    }
    ids["eve.md"] = upload_indexed(alice_api, "eve.md", SECRET.encode(), workspace="sales")["id"]
    with django_capture_on_commit_callbacks(execute=True):
        document_readers_set(
            document=Document.objects.get(pk=ids["eve.md"]),
            readers=["group:finance"],
            audit=AuditContext(),
        )
    return ids


def test_the_answer_lists_the_matching_facts_with_their_passages(rowers, alice_api):
    response = alice_api.post("/api/v1/ask", {"question": QUESTION, "workspace": "sales"})
    assert response.status_code == 200
    facts = response.json()["facts"]
    assert {row["entity"] for row in facts} == {"Ann Lind", "Bo Berg", "Eve Gran"}
    ann = next(row for row in facts if row["entity"] == "Ann Lind")
    assert ann["document_id"] == rowers["ann.md"]
    assert ann["document_title"] == "Ann Lind"
    [height] = ann["facts"]
    assert (height["label"], height["value"]) == ("Height", "1.96 m")
    assert Chunk.objects.get(pk=height["chunk_id"]).document_id == rowers["ann.md"]
    assert height["url"] == f"/documents/{rowers['ann.md']}/#chunk-{height['chunk_id']}"


def test_a_restricted_documents_facts_are_not_in_another_readers_answer(rowers, bob_api):
    response = bob_api.post("/api/v1/ask", {"question": QUESTION, "workspace": "sales"})
    assert response.status_code == 200
    body = response.json()
    assert {row["entity"] for row in body["facts"]} == {"Ann Lind", "Bo Berg"}
    assert "Eve Gran" not in json.dumps(body)


def test_the_streamed_answer_carries_the_facts(rowers, bob_api):
    response = bob_api.post("/api/v1/ask?stream=true", {"question": QUESTION, "workspace": "sales"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    done = body.split("event: done\ndata: ", 1)[1].split("\n", 1)[0]
    assert {row["entity"] for row in json.loads(done)["facts"]} == {"Ann Lind", "Bo Berg"}
    assert "Eve Gran" not in body


def test_a_question_without_a_condition_on_a_number_has_no_facts(rowers, alice_api):
    response = alice_api.post("/api/v1/ask", {"question": "Who is Ann Lind?", "workspace": "sales"})
    assert response.status_code == 200
    assert response.json()["facts"] == []


def test_facts_are_read_for_whoever_views_the_answer(rowers, alice_api):
    from accounts.models import User
    from search.fact_answers import answer_facts
    from search.models import Question

    body = alice_api.post("/api/v1/ask", {"question": QUESTION, "workspace": "sales"}).json()
    record = Question.objects.get(pk=body["id"])
    alice, bob = (User.objects.get(email=f"{n}@acme.example") for n in ("alice", "bob"))
    assert "Eve Gran" in {row["entity"] for row in answer_facts(record, viewer=alice)}
    # A member reading Alice's shared conversation sees only what they may read.
    assert {row["entity"] for row in answer_facts(record, viewer=bob)} == {"Ann Lind", "Bo Berg"}
    record.hidden = True  # an answer withheld from the viewer shows no facts either
    assert answer_facts(record, viewer=alice) == []
