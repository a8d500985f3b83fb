"""Facts wherever the API gives an answer: each answer of ``POST /api/v1/batch`` and each
turn of a conversation (one's own, one shared by link, the Markdown export) carries the
same ``facts`` as ``POST /api/v1/ask``, read for whoever receives it: a restricted
document's facts reach only its readers. A follow-up's facts are those of its standalone
question."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from search.conversations import conversation_markdown
from search.models import Conversation
from tests.search.test_fact_answers import QUESTION, rowers  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("rowers")
# What a turn's facts cost, each query after a search_path SET: the reader scope (shares
# into the workspace, the reader's groups), the facts that satisfy the question, the
# pages' words, each fact's passage.
PER_TURN_QUERIES = 12
# Whether the turns' cited documents may be read: once for all turns, and not at all
# while no turn cites any (the range question's answer may cite none: facts alone).
CITED_QUERIES = 2


def _entities(answer: dict) -> set[str]:
    return {row["entity"] for row in answer["facts"]}


def _ask(client, question: str, conversation: int | None = None) -> dict:
    payload = {"question": question, "workspace": "sales"}
    if conversation is not None:
        payload["conversation"] = conversation
    response = client.post("/api/v1/ask", payload, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_each_batch_answer_carries_the_facts_its_asker_may_read(rowers, alice_api, bob_api):  # noqa: F811
    questions = {"questions": [QUESTION, "Who is Ann Lind?"], "workspace": "sales"}
    response = bob_api.post("/api/v1/batch", questions, format="json")
    assert response.status_code == 200, response.content
    first, second = response.json()["answers"]
    assert _entities(first) == {"Ann Lind", "Bo Berg"}
    ann = next(row for row in first["facts"] if row["entity"] == "Ann Lind")
    assert ann["document_id"] == rowers["ann.md"]
    [height] = ann["facts"]
    assert (height["label"], height["value"]) == ("Height", "1.96 m")
    assert height["url"] == f"/documents/{rowers['ann.md']}/#chunk-{height['chunk_id']}"
    assert second["facts"] == []
    # Eve's page is for the finance group: bob reads nothing of it, anywhere in the batch.
    assert "Eve Gran" not in response.content.decode()

    admin = alice_api.post("/api/v1/batch", questions, format="json").json()["answers"]
    assert _entities(admin[0]) == {"Ann Lind", "Bo Berg", "Eve Gran"}
    # The same facts as the single answer gives (one function: search.fact_answers).
    assert admin[0]["facts"] == _ask(alice_api, QUESTION)["facts"]


def test_a_conversations_turns_carry_their_facts_for_whoever_reads_them(alice_api, bob_api):
    conversation = alice_api.post(
        "/api/v1/conversations", {"title": "Rowers", "workspace": "sales"}, format="json"
    ).json()["id"]
    asked = _ask(alice_api, QUESTION, conversation)
    assert _entities(asked) == {"Ann Lind", "Bo Berg", "Eve Gran"}
    # A follow-up is read with the question before it: its facts satisfy both conditions.
    follow_up = _ask(alice_api, "And born before 1989?", conversation)
    assert _entities(follow_up) == {"Bo Berg", "Eve Gran"}

    url = f"/api/v1/conversations/{conversation}"
    turns = alice_api.get(url).json()["turns"]
    assert [turn["id"] for turn in turns] == [asked["id"], follow_up["id"]]
    assert [turn["facts"] for turn in turns] == [asked["facts"], follow_up["facts"]]

    token = alice_api.patch(url, {"shared": True}, format="json").json()["share_token"]
    shared = bob_api.get(f"/api/v1/conversations/shared/{token}")
    assert shared.status_code == 200
    first, second = shared.json()["turns"]
    assert _entities(first) == {"Ann Lind", "Bo Berg"}
    assert _entities(second) == {"Bo Berg"}
    assert "Eve Gran" not in shared.content.decode()

    # The Markdown export lists them too, under each answer, for whoever exports it.
    export = alice_api.get(f"{url}/export").content.decode()
    assert "Matching facts:\n\n- " in export
    assert "- Ann Lind: Height: 1.96 m (Ann Lind)\n" in export
    assert "- Eve Gran: Height: 2.05 m (Eve Gran)\n" in export
    bob = User.objects.get(email="bob@acme.example")
    as_bob = conversation_markdown(Conversation.objects.get(pk=conversation), viewer=bob)
    assert "- Ann Lind: Height: 1.96 m (Ann Lind)\n" in as_bob
    assert "Eve Gran" not in as_bob


def test_a_turn_withheld_from_its_reader_shows_no_facts(rowers, alice_api, bob_api):  # noqa: F811
    """An answer that cites Eve's page is hidden from bob, and so are its facts."""
    conversation = alice_api.post(
        "/api/v1/conversations", {"workspace": "sales"}, format="json"
    ).json()["id"]
    asked = _ask(alice_api, "Which rowers are taller than 2 m?", conversation)
    assert {c["document_id"] for c in asked["citations"]} >= {rowers["eve.md"]}
    url = f"/api/v1/conversations/{conversation}"
    token = alice_api.patch(url, {"shared": True}, format="json").json()["share_token"]
    [turn] = bob_api.get(f"/api/v1/conversations/shared/{token}").json()["turns"]
    assert turn["facts"] == []
    assert "Eve Gran" not in json.dumps(turn)


def _turns_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_a_conversations_queries_grow_by_a_bounded_number_per_turn(alice_api):
    """Facts are read per turn (for whoever reads it), in a fixed number of queries."""
    conversation = alice_api.post(
        "/api/v1/conversations", {"workspace": "sales"}, format="json"
    ).json()["id"]
    url = f"/api/v1/conversations/{conversation}"
    assert _entities(_ask(alice_api, QUESTION, conversation)) == {"Ann Lind", "Bo Berg", "Eve Gran"}
    one = _turns_queries(alice_api, url)
    _ask(alice_api, "Which rowers were born after 1980?", conversation)
    _ask(alice_api, "Who is Bo Berg?", conversation)
    three = _turns_queries(alice_api, url)
    assert three - one <= 2 * PER_TURN_QUERIES + CITED_QUERIES, (one, three)
