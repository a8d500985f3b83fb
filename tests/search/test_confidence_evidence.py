"""Confidence and "not in the documents" from the answer's evidence (no database)."""

from __future__ import annotations

import pytest

from search.answering import Passage, answer_extractive
from search.confidence import (
    answer_confidence,
    answer_refused,
    confidence_label,
    evidence_confidence,
)
from search.evidence import asked_fact, evidence_measure, name_terms


def page(number: int, text: str, title: str) -> Passage:
    return Passage(number, number, title, (), text, 1.0 / number)


MAREN = page(1, "Maren Olvig is a Danish cellist born in 1964. Height: 1.78 m.", "Maren Olvig")
MAREN_OTHER = page(2, "Maren Tufen is a Danish rower born in 1971. Height: 1.92 m.", "Maren Tufen")
HAVEL = page(
    3, "Die Kilometerpauschale der Havel AG beträgt 0,30 EUR je Kilometer.", "Reisekosten Havel AG"
)
ISAR = page(
    4,
    "Die Kilometerpauschale der Isar GmbH beträgt 0,25 EUR je Kilometer.",
    "Reisekosten Isar GmbH",
)


def test_a_question_about_a_name_no_passage_holds_is_never_high():
    answer = answer_extractive("How tall is Maren Kovalenko?", [MAREN, MAREN_OTHER])

    assert answer.evidence["names"] < 1.0
    assert confidence_label(answer_confidence(answer)) != "high"
    # None of its names at all: refused.
    nobody = answer_extractive("How tall is Ilse Kovalenko?", [MAREN, MAREN_OTHER])
    assert nobody.mode == "no_answer"
    assert answer_confidence(nobody) == 0.0


def test_the_passage_with_every_word_name_and_fact_is_high():
    answer = answer_extractive("What is the height of Maren Olvig?", [MAREN, MAREN_OTHER])

    assert answer.mode == "extractive"
    assert answer.citations[0].passage == MAREN
    assert confidence_label(answer_confidence(answer)) == "high"


def test_another_company_of_the_same_kind_does_not_answer_with_high_confidence():
    # The asked company's policy is missing; a near-identical one of another company is
    # found. Its words fit, the name does not.
    answer = answer_extractive("Wie hoch ist die Kilometerpauschale der Achental AG?", [ISAR])

    assert answer.mode == "no_answer" or confidence_label(answer_confidence(answer)) != "high"


def test_an_answer_without_the_asked_for_fact_is_at_most_medium():
    policy = page(5, "Travel costs are reimbursed after the trip is approved.", "Travel")
    answer = answer_extractive("How much travel cost is reimbursed?", [policy])

    assert answer.evidence["fact"] == 0.0
    assert confidence_label(answer_confidence(answer)) in {"medium", "low"}


def test_an_amount_quoted_from_another_source_is_not_the_asked_for_fact():
    # The share price is in no document: the code of conduct holds "prices", "market
    # shares" and the company's name; an amount of the travel policy joins the answer.
    conduct = page(
        6,
        "We compete on the quality and price of our products. We never discuss prices "
        "or market shares with competitors.",
        "Code of Conduct - Acme",
    )
    travel = page(
        7,
        "Rental cars are booked in the compact category unless colleagues share the car. "
        "Acme pays EUR 0.23 per kilometre for your own car.",
        "Travel Policy",
    )
    question = "What is the share price of Acme?"
    stitched = (
        "We never discuss prices or market shares with competitors. [1] "
        "Acme pays EUR 0.23 per kilometre for your own car. [2]"
    )
    evidence = evidence_measure(question, [conduct, travel], [0, 1], stitched)
    assert evidence["fact"] == 0.0
    assert confidence_label(evidence_confidence(evidence)) != "high"
    # Stated by the passage that answers, the amount counts.
    price = page(8, "The Acme share price closed at EUR 41.20 on Friday.", "Investor news")
    quoted = "The Acme share price closed at EUR 41.20 on Friday. [1]"
    assert evidence_measure(question, [price, travel], [0], quoted)["fact"] == 1.0
    # An answer in its own words (an LLM's) is read whole.
    assert evidence_measure(question, [price], [0], "It closed at EUR 41.20. [1]")["fact"] == 1.0


def test_two_documents_that_fit_equally_are_at_most_medium():
    evidence = evidence_measure("Wie hoch ist die Kilometerpauschale?", [HAVEL, ISAR], [0], "x")

    assert evidence["lead"] == pytest.approx(0.0)
    assert evidence["names"] == 1.0
    assert confidence_label(evidence_confidence(evidence)) != "high"


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How much is the per diem abroad?", "money"),
        ("When is salary paid?", "date"),
        ("How many days of leave do I get?", "number"),
        ("Wie hoch ist die Kilometerpauschale?", "money"),
        ("Who approves my trip?", None),
    ],
)
def test_the_kind_of_fact_a_question_asks_for(question, kind):
    assert asked_fact(question) == kind


def test_names_are_capitalised_words_inside_an_english_question_and_numbers():
    assert name_terms("How tall is Maren Olvig?") == {"maren", "olvig"}
    assert name_terms("What was Acme's revenue in 2024?") >= {"2024"}
    # German capitalises every noun: only words with digits or in capitals count.
    assert name_terms("Wie hoch ist die Kilometerpauschale der Havel AG?") == {"ag"}


def test_refusal_needs_low_coverage_or_a_missing_name():
    assert answer_refused({"coverage": 0.9, "names": 0.0, "lead": 0.5, "fact": 1.0})
    assert not answer_refused({"coverage": 0.9, "names": 1.0, "lead": 0.0, "fact": 0.0})
