"""The extractive answer's choice of sentence when question and document word the same
thing differently ("in advance" / "before", "daily" / "per day") and when a clause of
circumstances ("... when I travel") follows the question proper."""

from __future__ import annotations

from search.answering import Passage, _main_clause, answer_extractive
from search.equivalents import equivalents
from search.wording import stem


def passage(rank: int, title: str, text: str) -> Passage:
    return Passage(rank + 1, rank + 1, title, (), text, 1.0 - rank / 10)


def test_equivalent_words_are_general_relations_both_ways():
    assert "least" in equivalents(stem("minimum"))
    assert "before" in equivalents(stem("advance"))
    assert stem("daily") in equivalents("day")
    assert equivalents("password") == {"password"}


def test_a_clause_of_circumstances_is_not_what_is_asked():
    assert _main_clause("What is the daily allowance when I travel abroad?") == (
        "What is the daily allowance"
    )
    assert _main_clause("When does the office open?") == "When does the office open?"


def test_in_advance_is_answered_by_the_sentence_saying_before():
    answer = answer_extractive(
        "How far in advance must a meeting room be booked?",
        [
            passage(0, "Rooms", "Meeting rooms are booked in the portal. The portal lists rooms."),
            passage(
                1,
                "Room booking",
                "A meeting room must be booked at least 3 working days before the meeting. "
                "Catering is ordered separately.",
            ),
        ],
    )
    assert "3 working days before" in answer.text


def test_an_amount_asked_for_comes_from_the_passage_that_states_one():
    answer = answer_extractive(
        "What is the daily allowance when I travel to another country for work?",
        [
            passage(
                0,
                "Working abroad",
                "Employees may work from another country for up to 20 working days a year. "
                "Submit a request four weeks before you travel to the country.",
            ),
            passage(1, "Travel policy", "The per diem for other countries is EUR 65 per day."),
        ],
    )
    assert answer.text.startswith("The per diem for other countries is EUR 65")
