"""Questions about attributes and numbers: the parser, answers from the facts table,
permission filtering, and the range question end to end through hybrid search."""

from __future__ import annotations

import pytest

from accounts.audit import AuditContext
from accounts.models import User
from ingestion.models import Chunk, Document, Fact
from ingestion.readers import document_readers_set
from search.facts import facts_answer, question_parse
from search.retrieval import hybrid_search
from workspaces.models import Workspace
from workspaces.readers import ReaderScope, reader_scope
from workspaces.rls import workspaces_scope


def conditions(question: str) -> list[tuple]:
    parsed = question_parse(question)
    assert parsed is not None, question
    return [(c.attribute, c.kind, c.low, c.high, c.unit) for c in parsed.conditions]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which rowers are taller than 2 m?", [("height", "length", 2.0, None, "")]),
        ("Which rowers are taller than 195 cm?", [("height", "length", 1.95, None, "")]),
        (
            "products under 50 EUR launched after 2020",
            [(None, "money", None, 50.0, "EUR"), ("launched", "year", 2020.0, None, "")],
        ),
        ("all policies approved in 2024", [("approved", "year", 2024.0, 2024.0, "")]),
        (
            "places with more than 1.2 million inhabitants",
            [("population", "count", 1.2e6, None, "")],
        ),
        ("Who was born before 1950?", [("born", "year", None, 1950.0, "")]),
        ("kettles lighter than 800 g", [("weight", "weight", None, 0.8, "")]),
        ("products between 20 and 50 EUR", [(None, "money", 20.0, 50.0, "EUR")]),
        # German: decimal comma, thousands dot, German comparators and attribute words.
        ("Welche Ruderer sind größer als 1,95 m?", [("height", "length", 1.95, None, "")]),
        (
            "Orte in Polen mit mehr als 100.000 Einwohnern",
            [("population", "count", 100000.0, None, "")],
        ),
        ("Welche Personen wurden vor 1935 geboren?", [("born", "year", None, 1935.0, "")]),
        (
            "Kameras, die vor 2010 erschienen sind und weniger als 200 € kosten",
            [("launched", "year", None, 2010.0, ""), ("price", "money", None, 200.0, "EUR")],
        ),
        ("Richtlinien, die 2024 beschlossen wurden", [("approved", "year", 2024.0, 2024.0, "")]),
    ],
)
def test_the_parser_reads_conditions_in_english_and_german(question, expected):
    assert conditions(question) == expected


def test_the_parser_keeps_the_words_that_say_which_entities_and_joins_countries():
    parsed = question_parse("Which towns or cities in Poland have a population above 100 thousand?")
    assert parsed.terms[0] == ("towns", "cities")
    assert "polish" in parsed.terms[1]
    german = question_parse("Welche polnischen Orte haben mehr als 100.000 Einwohner?")
    assert any("poland" in group for group in german.terms)


@pytest.mark.parametrize(
    "question",
    [
        "What is the travel reimbursement limit?",
        "How do I book a train?",
        "more than 50 of them",  # a number about nothing named
    ],
)
def test_questions_without_a_condition_on_a_number_are_left_alone(question):
    assert question_parse(question) is None


ROWERS = {
    "ann.md": "# Ann Lind\n\nAnn Lind is a Danish rower.\n\nHeight: 1.96 m\nBorn: 1990\n",
    "bo.md": "# Bo Berg\n\nBo Berg is a Danish rower.\n\n| Attribute | Value |\n|---|---|\n"
    "| Height | 6 ft 7 in (201 cm) |\n| Year of birth | 1985 |\n",
    "cy.md": "# Cy Dahl\n\nCy Dahl is a Danish rower.\n\n- **Height:** 182 cm\n- **Born:** 1979\n",
    "di.md": "# Di Falk\n\nDi Falk is a Danish cellist.\n\nProfile: Di Falk; born 1970; "
    "height 1.99 metres; Danish; cellist.\n",
}
SECRET = "# Eve Gran\n\nEve Gran is a Danish rower.\n\nHeight: 2.05 m\nBorn: 1988\n"


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


def scope_of(email: str) -> tuple[list[int], ReaderScope]:
    sales = Workspace.objects.get(slug="sales")
    return [sales.pk], reader_scope(User.objects.get(email=email), [sales])


def test_a_range_question_is_answered_from_the_facts_with_links(rowers):
    workspace_ids, readers = scope_of("alice@acme.example")
    found = facts_answer(
        "Which rowers are taller than 1.95 m?", workspace_ids=workspace_ids, readers=readers
    )
    assert {match.entity for match in found} == {"Ann Lind", "Bo Berg", "Eve Gran"}
    ann = next(match for match in found if match.entity == "Ann Lind")
    assert ann.facts == [("Height", "1.96 m")]
    assert ann.url == f"/documents/{rowers['ann.md']}/#chunk-{ann.chunk_id}"
    assert Chunk.objects.get(pk=ann.chunk_id).document_id == rowers["ann.md"]


def test_a_restricted_documents_facts_never_reach_another_reader(rowers):
    workspace_ids, bob = scope_of("bob@acme.example")
    question = "Which rowers are taller than 1.95 m?"
    found = facts_answer(question, workspace_ids=workspace_ids, readers=bob)
    assert {match.entity for match in found} == {"Ann Lind", "Bo Berg"}
    passages = hybrid_search(question, workspace_ids=workspace_ids, readers=bob, k=10)
    assert rowers["eve.md"] not in {passage.document_id for passage in passages}
    # The facts exist: the filter is the reader scope, not a missing row.
    assert Fact.objects.filter(document_id=rowers["eve.md"], attribute="height").exists()


def test_hybrid_search_puts_the_entities_in_range_first(rowers):
    workspace_ids, readers = scope_of("alice@acme.example")
    passages = hybrid_search(
        "Danish rowers born before 1989", workspace_ids=workspace_ids, readers=readers, k=5
    )
    first = {passage.document_id for passage in passages[:3]}
    assert first == {rowers["bo.md"], rowers["cy.md"], rowers["eve.md"]}
    # Di Falk (born 1970) is Danish but a cellist: the question's other words still count.
    assert rowers["di.md"] not in first


def test_erased_documents_leave_no_facts_behind(rowers, alice_api):
    response = alice_api.delete(f"/api/v1/documents/{rowers['bo.md']}")
    assert response.status_code == 204
    workspace_ids, readers = scope_of("alice@acme.example")
    found = facts_answer(
        "Which rowers are taller than 1.95 m?", workspace_ids=workspace_ids, readers=readers
    )
    assert "Bo Berg" not in {match.entity for match in found}
    assert not Fact.objects.filter(document_id=rowers["bo.md"]).exists()


def test_row_level_security_keeps_facts_in_their_workspace(rowers, alice_api, upload_indexed):
    general = upload_indexed(
        alice_api, "gus.md", b"# Gus Holm\n\nGus Holm rows.\n\nHeight: 2.10 m\n"
    )
    sales = Workspace.objects.get(slug="sales")
    assert Fact.objects.filter(document_id=general["id"], attribute="height").exists()
    with workspaces_scope([sales.pk]):
        # No filter at all: the database's policy is what keeps General's facts out.
        assert set(Fact.objects.values_list("workspace_id", flat=True)) == {sales.pk}
        assert not Fact.objects.filter(document_id=general["id"]).exists()
    # Searching Sales never answers with General's rows, even for an owner.
    workspace_ids, readers = scope_of("alice@acme.example")
    found = facts_answer("Who is taller than 2.08 m?", workspace_ids=workspace_ids, readers=readers)
    assert found == []


def test_a_condition_holds_in_python_as_in_its_query():
    [taller] = question_parse("Who is taller than 1.95 m?").conditions
    assert taller.holds(attribute="height", kind="length", number=1.96, unit="m")
    assert not taller.holds(attribute="height", kind="length", number=1.95, unit="m")
    assert not taller.holds(attribute="elevation", kind="length", number=400.0, unit="m")
    [cheap] = question_parse("products between 20 and 50 EUR").conditions
    assert cheap.holds(attribute="price", kind="money", number=50.0, unit="EUR")
    assert not cheap.holds(attribute="price", kind="money", number=30.0, unit="USD")
    [year] = question_parse("the 2014 backpack").conditions
    assert year.holds(attribute="launched", kind="year", number=2014.0, unit="year")
    assert not year.holds(attribute="price", kind="money", number=2014.0, unit="EUR")
