"""Facts in the forms other authors write them: other separators, wiki infobox source,
labels the synonym list does not hold, German word order, units spelled otherwise."""

from __future__ import annotations

import pytest

from ingestion.attributes import attribute_normalize
from ingestion.facts import facts_from_text
from ingestion.quantities import quantity_parse, value_normalize


def facts(text: str, subject: str = "Norra AB", *, german: bool = False) -> dict:
    """(entity, attribute) -> (kind, number, unit) of every fact ``text`` states."""
    found = {}
    for draft in facts_from_text(text, subject=subject):
        attribute = attribute_normalize(draft.label)
        quantity = value_normalize(
            draft.value, attribute=attribute, label=draft.label, decimal_comma=german
        )
        found[(draft.entity, attribute)] = (quantity.kind, quantity.number, quantity.unit)
    return found


@pytest.mark.parametrize(
    "line",
    [
        "- Founded \u2013 1998",
        "* Founded \u2014 1998",
        "\u2022 Founded = 1998",
        "Founded \u2192 1998",
        "Founded - 1998",
        "Founded\t1998",
        "Founded          1998",
        "Founded :: 1998",
    ],
)
def test_a_key_and_its_value_with_other_separators(line):
    assert facts(line)[("Norra AB", "founded")] == ("year", 1998.0, "year")


def test_a_sentence_with_a_dash_is_no_key_and_value():
    found = facts("The ferry - built in the old yard - sails daily.")
    assert found == {}


def test_a_fact_sheet_in_aligned_columns():
    text = "Key data\n\nEmployees          c. 4,200\nRevenue (2023)     \u20ac2.4m\nHQ    Oslo\n"
    found = facts(text)
    assert found[("Norra AB", "employees")] == ("count", 4200.0, "")
    assert found[("Norra AB", "revenue")] == ("money", 2.4e6, "EUR")


def test_wiki_infobox_source():
    text = (
        "{{Infobox company\n| name = Norra AB\n| year_founded = 1998\n"
        "| num_employees = 1,250\n| revenue = EUR 1.2 billion (2023)\n}}\n\nNorra AB makes boats.\n"
    )
    found = facts(text)
    assert found[("Norra AB", "founded")] == ("year", 1998.0, "year")
    assert found[("Norra AB", "revenue")] == ("money", 1.2e9, "EUR")


@pytest.mark.parametrize(
    ("label", "attribute"),
    [
        ("Price per pack", "price"),
        ("Launch price", "price"),
        ("Initial release", "launched"),
        ("Annual turnover", "revenue"),
        ("Packungspreis", "price"),
        ("Gesamtumsatz", "revenue"),
        ("Erstzulassung", "approved"),
        ("Length overall", "length"),
        ("Zulassung", "approved"),
        # The head word decides; a label about something else keeps its own name.
        ("Place of birth", "place of birth"),
        ("Sales manager", "sales manager"),
        ("Zulassungsinhaber", "zulassungsinhaber"),
        ("Battery life", "battery life"),
    ],
)
def test_labels_are_read_by_their_head_word(label, attribute):
    assert attribute_normalize(label) == attribute


def test_german_prose_with_the_verb_last():
    found = facts(
        "Die Norra AB wurde 1932 in Bergen gegründet. Sie beschäftigt rund 11.950 "
        "Mitarbeiter; der Umsatz lag 2023 bei 2,4 Mio. EUR. Das Mittel wurde 2011 zugelassen.",
        german=True,
    )
    assert found[("Norra AB", "founded")] == ("year", 1932.0, "year")
    assert found[("Norra AB", "employees")] == ("count", 11950.0, "")
    assert found[("Norra AB", "revenue")] == ("money", 2.4e6, "EUR")
    assert found[("Norra AB", "approved")] == ("year", 2011.0, "year")


def test_english_prose_forms_of_general_use():
    found = facts(
        "Norra AB has been trading since 1911. It employs 4,200 people and reported sales "
        "of \u20ac26.1m in 2023. The hull is 608 ft (185.4 m) long. The project counts 1,204 "
        "contributors. The first public release came out in 2009."
    )
    assert found[("Norra AB", "founded")] == ("year", 1911.0, "year")
    assert found[("Norra AB", "employees")] == ("count", 4200.0, "")
    assert found[("Norra AB", "revenue")] == ("money", 26.1e6, "EUR")
    assert found[("Norra AB", "length")] == ("length", 185.4, "m")
    assert found[("Norra AB", "contributors")] == ("count", 1204.0, "")
    assert found[("Norra AB", "launched")] == ("year", 2009.0, "year")


@pytest.mark.parametrize(
    ("text", "german", "kind", "number", "unit"),
    [
        ("608 ft (185.4 m)", False, "length", 185.4, "m"),
        ("185,4 Metern", True, "length", 185.4, "m"),
        ("20 milligrams", False, "weight", 2e-5, "kg"),
        ("250 \u00b5g", False, "weight", 2.5e-7, "kg"),
        ("2,4 Mio. EUR", True, "money", 2.4e6, "EUR"),
        ("1,2 Mrd. \u20ac", True, "money", 1.2e9, "EUR"),
        ("\u20ac2.4m", False, "money", 2.4e6, "EUR"),
        ("2.400.000 \u20ac", True, "money", 2.4e6, "EUR"),
    ],
)
def test_units_in_other_spellings(text, german, kind, number, unit):
    quantity = quantity_parse(text, decimal_comma=german)
    assert quantity is not None
    assert (quantity.kind, quantity.unit) == (kind, unit)
    assert quantity.number == pytest.approx(number, rel=1e-3)


def test_durations_and_shares_are_no_counted_things():
    found = facts("The trial has 6 months of follow-up and counts 20 percent dropouts.")
    assert found == {}


def _needs_a_digit(parsed) -> bool:
    """Whether every match of the parsed pattern (``re._parser``) reads a digit: a
    sequence with an element that does; alternatives that all do; a repeat of at least
    one of such; a character (or set of them) that is only ever a digit. Anything else
    (lookarounds, anchors, optional parts) counts as not, so True is always right."""
    from re import _constants as c

    def node(op, value) -> bool:
        if op is c.LITERAL:
            return chr(value).isdigit()
        if op is c.IN:
            return bool(value) and all(member(*item) for item in value)
        if op is c.SUBPATTERN:
            return _needs_a_digit(value[3])
        if op is c.ATOMIC_GROUP:
            return _needs_a_digit(value)
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            return value[0] >= 1 and _needs_a_digit(value[2])
        if op is c.BRANCH:
            return all(_needs_a_digit(branch) for branch in value[1])
        return False

    def member(op, value) -> bool:
        if op is c.LITERAL:
            return chr(value).isdigit()
        if op is c.RANGE:
            return all(chr(code).isdigit() for code in range(value[0], value[1] + 1))
        return op is c.CATEGORY and value is c.CATEGORY_DIGIT

    return any(node(op, value) for op, value in parsed)


def test_a_line_without_a_digit_is_read_by_the_forms_that_need_none():
    import re
    from re import _parser

    from ingestion import facts as module

    def needs(pattern: re.Pattern) -> bool:
        return _needs_a_digit(_parser.parse(pattern.pattern, pattern.flags))

    # The analysis itself: right on the plain cases.
    assert needs(re.compile(r"born\s+(\d{4})"))
    assert needs(re.compile(r"(?:a\d|\d+b)"))
    assert not needs(re.compile(r"born\s+(\d{4})?"))
    assert not needs(re.compile(r"a|\d"))
    # Every form a digit-free line skips needs one, and the count of a noun too.
    skipped = [
        pattern
        for attribute, pattern in module._PROSE_PATTERNS
        if (attribute, pattern) not in module._PROSE_WITHOUT_DIGITS
    ]
    assert len(skipped) == len(module._PROSE_PATTERNS) - 1
    assert all(needs(pattern) for pattern in skipped)
    assert needs(module._COUNT_NOUN_RE)
    # The one that needs none still reads a line without a digit.
    found = facts("The tower stands about five hundred metres tall.", "Tower")
    assert ("Tower", "height") in found
