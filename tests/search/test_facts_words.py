"""The facts parser on questions written otherwise: counts of a named thing, amounts per
unit, hyphenated German compounds, lengths; and which of a question's words a page in
another language must have."""

from __future__ import annotations

import pytest

from search.facts import PageWords, _words_of, question_parse, terms_kept, terms_missed


def conditions(question: str) -> list[tuple]:
    parsed = question_parse(question)
    assert parsed is not None, question
    return [(c.attribute, c.kind, c.low, c.high, c.noun) for c in parsed.conditions]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # A count of what the word after the number names, not a year.
        (
            "libraries with more than 500 contributors",
            [(None, "count", 500.0, None, "contributor")],
        ),
        ("Projekte mit mehr als 1.000 Mitwirkenden", [(None, "count", 1000.0, None, "mitwirk")]),
        ("Which ferries are longer than 150 m?", [("length", "length", 150.0, None, "")]),
        (
            "F\u00e4hren, die l\u00e4nger als 100 Meter sind",
            [("length", "length", 100.0, None, "")],
        ),
        ("Antibiotika, die nach 2015 zugelassen wurden", [("approved", "year", 2015.0, None, "")]),
        ("drugs authorised after 2000", [("approved", "year", 2000.0, None, "")]),
        # "erstmals" is any first time; the verb says which.
        (
            "Compiler in Go, erstmals ver\u00f6ffentlicht 2016",
            [("launched", "year", 2016.0, 2016.0, "")],
        ),
        (
            "Orte, die vor 1500 erstmals erw\u00e4hnt wurden",
            [("founded", "year", None, 1500.0, "")],
        ),
        ("firms with a workforce over 2,000", [("employees", "count", 2000.0, None, "")]),
        # "born after 1990" must not swallow the comparator after it.
        (
            "players born after 1990 taller than 2 m",
            [("born", "year", 1990.0, None, ""), ("height", "length", 2.0, None, "")],
        ),
    ],
)
def test_conditions_in_other_words(question, expected):
    assert conditions(question) == expected


def test_what_an_amount_is_measured_by_is_no_word_the_page_needs():
    parsed = question_parse("antivirals with more than 500 mg per tablet")
    assert parsed.terms == (("antivirals",),)
    german = question_parse("Welche Go-Projekte erschienen vor 2005?")
    assert ("go",) in german.terms


def page(text: str, language: str) -> PageWords:
    return PageWords(_words_of([text]), text.lower(), language)


def test_a_word_decides_only_between_pages_of_its_language():
    terms = question_parse("F\u00e4hren, die l\u00e4nger als 100 Meter sind").terms
    pages = {
        1: page("Die Nordlys ist eine F\u00e4hre der Reederei Vik.", "german"),
        2: page("Die Ostsee ist ein Tanker der Reederei Vik.", "german"),
        3: page("MV Skar is a ferry operated by Vik.", "english"),
    }
    kept = terms_kept(terms_missed(pages, terms))
    # "Fähren" fails the German tanker; no English page has it, so it cannot decide there.
    assert kept == {1, 3}


@pytest.mark.parametrize(
    "question",
    [
        "deaths happen in newborns aged less than 6 months",  # a duration, not a count
        "an increase of more than 20 percent",
    ],
)
def test_a_measure_after_a_number_is_no_counted_thing(question):
    assert question_parse(question) is None


def test_no_page_is_kept_when_none_has_every_word():
    terms = question_parse("the 2001 tent from Quillon").terms
    pages = {
        1: page("Quillon Kabel S: kettle by Quillon, launched in 2001.", "english"),
        2: page("Norvik Fjell: tent by Norvik, launched in 2001.", "english"),
    }
    assert terms_kept(terms_missed(pages, terms)) == set()
