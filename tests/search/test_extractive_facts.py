"""Extractive answers keep the asked-for facts, never quote a heading, prefer one passage
(issue 13 item 6; no database)."""

from __future__ import annotations

from search.answering import Passage, answer_extractive
from search.confidence import answer_confidence, confidence_label


def passage(number: int, text: str, title: str = "", headings: tuple[str, ...] = ()) -> Passage:
    return Passage(
        chunk_id=100 + number,
        document_id=number,
        document_title=title or f"Document {number}",
        heading_path=headings,
        text=text,
        score=1.0 / number,
    )


def test_the_sentence_stating_the_amount_is_kept():
    # The amounts sit in a table row after the sentence that names the per diem.
    per_diem = passage(
        1,
        "A per diem is a fixed daily amount for meals and local transport. "
        "No receipts are needed for the per diem.\n"
        "Destination Full day rate Within the country EUR 45 Other countries EUR 65",
        "Business Travel Policy",
        ("5. Per diem",),
    )

    answer = answer_extractive("How much is the per diem for a trip abroad?", [per_diem])

    assert "EUR 65" in answer.text


def test_a_heading_or_title_line_is_never_the_answer():
    text = (
        "Business Travel Policy\n"
        "3.2 Rail First\n"
        "Take the train for rail journeys under five hours of travel time."
    )
    rail = passage(1, text, "Business Travel Policy", ("3. Booking transport",))

    answer = answer_extractive("What is the rail travel policy?", [rail])

    assert answer.text == "Take the train for rail journeys under five hours of travel time. [1]"


def test_what_is_not_reimbursed_does_not_answer_what_is():
    excluded = passage(
        1,
        "The following travel costs are never reimbursed: upgrades, minibar and fines.",
        "Expense Policy",
        ("5. Non-reimbursable expenses",),
    )
    hotel = passage(
        2,
        "Hotel costs on business travel are reimbursed up to EUR 160 per night.",
        "Business Travel Policy",
        ("4. Accommodation",),
    )

    answer = answer_extractive("What is the travel reimbursement limit?", [excluded, hotel])

    assert answer.text.startswith("Hotel costs on business travel are reimbursed up to EUR 160")
    assert "never reimbursed" not in answer.text


def test_one_passage_answers_when_it_can():
    leave = passage(
        1,
        "Full-time employees receive 25 days of annual leave per year. "
        "Annual leave is requested in PeoplePortal.",
        "Leave Policy",
    )
    other = passage(2, "Leave for moving house is one day per year.", "Special leave")

    answer = answer_extractive("How many days of annual leave do I get per year?", [leave, other])

    assert [c.passage for c in answer.citations] == [leave]
    assert "25 days" in answer.text


def test_two_versions_that_disagree_are_both_quoted():
    old = passage(1, "The per diem for trips abroad is EUR 65.", "Travel Policy 2023")
    new = passage(2, "The per diem for trips abroad is EUR 70.", "Travel Policy 2024")

    answer = answer_extractive("How much is the per diem for trips abroad?", [old, new])

    assert "EUR 65" in answer.text
    assert "EUR 70" in answer.text
    assert len(answer.citations) == 2


def test_an_answer_from_documents_that_disagree_is_not_high():
    old = passage(1, "The per diem for trips abroad is EUR 65.", "Travel Policy 2023")
    new = passage(2, "The per diem for trips abroad is EUR 70.", "Travel Policy 2024")

    answer = answer_extractive("How much is the per diem for trips abroad?", [old, new])

    assert answer.evidence["conflict"] == 1.0
    assert confidence_label(answer_confidence(answer)) == "medium"
