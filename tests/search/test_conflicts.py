"""Conflicting sources (search.conflicts) on constructed pairs: precision first."""

from __future__ import annotations

import pytest

from search.conflicts import conflicts_find, values_of


def cite(number: int, document_id: int, text: str, title: str = "") -> dict:
    return {
        "number": number,
        "document_id": document_id,
        "document_title": title or f"Document {document_id}",
        "chunk_id": 100 + number,
        "text": text,
    }


# (question, first passage, second passage, titles): two documents that disagree.
CONFLICTS = [
    (
        "How much is the per diem for a trip abroad?",
        "Employees receive a per diem of EUR 65 for trips abroad.",
        "Employees receive a per diem of EUR 70 for trips abroad.",
        ("Travel Policy 2023", "Travel Policy 2024"),
    ),
    (
        "How long do I have to submit an expense claim?",
        "Submit each expense claim within 30 days of the date it was incurred.",
        "Submit each expense claim within 60 days of the date it was incurred.",
        ("Expense Policy", "Expense Policy (draft)"),
    ),
    (
        "What is the minimum password length?",
        "Passwords must have a minimum length of 14 characters.",
        "Passwords must have a minimum length of 12 characters.",
        ("Information Security Policy", "Information Security Policy v2"),
    ),
    (
        "Until when must carried-over leave days be taken?",
        "Carried-over leave days must be taken by 31 March.",
        "Carried-over leave days must be taken by 30 April.",
        ("Leave Policy", "Leave Policy 2025"),
    ),
    (
        "How much salary is paid during sickness?",
        "During sickness Acme pays 100 percent of your salary for the first 52 weeks.",
        "During sickness Acme pays 80 percent of your salary for the first 52 weeks.",
        ("Leave Policy", "Leave Policy (Lyon)"),
    ),
    (
        "Which version of the VPN client is current?",
        "The current VPN client is version 4.2 for all laptops.",
        "The current VPN client is version 4.3 for all laptops.",
        ("IT Service Desk Runbook", "IT Service Desk Runbook"),
    ),
    (
        "Wie hoch ist die Kilometerpauschale?",
        "Die Kilometerpauschale beträgt 0,30 EUR pro gefahrenem Kilometer.",
        "Die Kilometerpauschale beträgt 0,35 EUR pro gefahrenem Kilometer.",
        ("Reisekostenrichtlinie", "Reisekostenrichtlinie 2025"),
    ),
    (
        "What is the hotel cap per night in London?",
        "The hotel cap in London is EUR 240 per night, taxes included.",
        "The hotel cap in London is EUR 260 per night, taxes included.",
        ("Business Travel Policy", "Business Travel Policy 2025"),
    ),
    (
        "How soon must a data breach be reported?",
        "A data breach must be reported to the authority within 72 hours.",
        "A data breach must be reported to the authority within 48 hours.",
        ("Incident Response Plan", "Incident Response Plan (old)"),
    ),
    (
        "Up to what value may I accept a gift?",
        "You may accept a gift with a value of up to EUR 75 from a supplier.",
        "You may accept a gift with a value of up to EUR 50 from a supplier.",
        ("Code of Conduct", "Code of Conduct 2022"),
    ),
]

# Pairs that must not fire: the same value, one document, different things, a table
# of several values, a question the sentences are not about, other documents' versions.
AGREEMENTS = [
    (
        "How much is the per diem for a trip abroad?",
        [
            cite(1, 1, "Employees receive a per diem of EUR 65 for trips abroad."),
            cite(2, 2, "The per diem for trips abroad is EUR 65 a day."),
        ],
    ),
    (
        "How much is the per diem?",
        [
            cite(1, 1, "The per diem within the country is EUR 45."),
            cite(2, 1, "The per diem in other countries is EUR 65."),
        ],
    ),
    (
        "How much is the per diem abroad?",
        [
            cite(1, 1, "The per diem abroad is EUR 65."),
            cite(2, 2, "The hotel cap abroad is EUR 160 per night."),
        ],
    ),
    (
        "How much is the per diem for other countries?",
        [
            cite(
                1,
                1,
                "Per diem: within the country EUR 45, other countries EUR 65, "
                "high-cost cities EUR 85.",
            ),
            cite(2, 2, "The per diem for other countries is EUR 70."),
        ],
    ),
    (
        "What is the card limit?",
        [
            cite(1, 1, "The monthly card limit is EUR 5,000."),
            cite(2, 2, "The card limit per trip is EUR 300."),
        ],
    ),
    (
        "What is the current version of the policy?",
        [
            cite(
                1,
                1,
                "Policy number FIN-04, version 3.1, effective 1 March 2025.",
                "Business Travel Policy",
            ),
            cite(
                2,
                2,
                "Policy number FIN-02, version 5.0, effective 1 January 2025.",
                "Expense Policy",
            ),
        ],
    ),
    (
        "When is the orientation day?",
        [
            cite(1, 1, "Orientation day is held on the first Tuesday of every month."),
            cite(2, 2, "The cafeteria closes at 15:00 on 24 December."),
        ],
    ),
    (
        "How many days of leave do I get?",
        [
            cite(1, 1, "Full-time employees are entitled to 25 days of paid annual leave."),
            cite(2, 2, "Part-time employees are entitled to 15 days of paid annual leave."),
        ],
    ),
    (
        "How long are recordings kept?",
        [
            cite(1, 1, "CCTV recordings are kept for 28 days."),
            cite(2, 2, "Call recordings are kept for 90 days for training."),
        ],
    ),
    (
        "How much is the per diem abroad?",
        [cite(1, 1, "The per diem abroad is EUR 65.")],
    ),
    (
        "Andren area",
        [
            cite(1, 1, "Area: 125.2 km²", "Fenan"),
            cite(2, 2, "Area: 81.6 km²", "Belpa"),
        ],
    ),
    (
        "Wann ist die Kernarbeitszeit bei der Lindenhof Logistik GmbH?",
        [
            cite(
                1,
                1,
                "Während der Kernarbeitszeit von 9 bis 14 Uhr ist die Erreichbarkeit sicher.",
                "Homeoffice-Richtlinie der Moorbach Logistik GmbH",
            ),
            cite(
                2,
                2,
                "Während der Kernarbeitszeit von 10 bis 16 Uhr ist die Erreichbarkeit sicher.",
                "Homeoffice-Richtlinie der Isar Logistik GmbH",
            ),
        ],
    ),
    (
        "How much does the Stoneford Drensa 2 cost?",
        [
            cite(1, 1, "At launch it cost EUR 3,699.00.", "Stoneford Drenfen S"),
            cite(2, 2, "At launch it cost 621 EUR.", "Stoneford Paka X"),
        ],
    ),
]


@pytest.mark.parametrize(("question", "first", "second", "titles"), CONFLICTS)
def test_two_documents_that_disagree_are_a_conflict(question, first, second, titles):
    citations = [cite(1, 1, first, titles[0]), cite(2, 2, second, titles[1])]

    [conflict] = conflicts_find(question, citations)

    assert [s.number for s in conflict.statements] == [1, 2]
    assert [s.text for s in conflict.statements] == [first, second]
    values = [s.value for s in conflict.statements]
    assert values[0] != values[1]
    assert all(value in s.text for value, s in zip(values, conflict.statements, strict=True))


@pytest.mark.parametrize(("question", "citations"), AGREEMENTS)
def test_agreeing_or_unrelated_passages_are_no_conflict(question, citations):
    assert conflicts_find(question, citations) == []


def test_precision_and_recall_on_the_constructed_pairs():
    """The figures bench/RESULTS.md reports: every constructed conflict found, no pair
    of the agreements flagged."""
    found = sum(
        bool(conflicts_find(q, [cite(1, 1, a, t[0]), cite(2, 2, b, t[1])]))
        for q, a, b, t in CONFLICTS
    )
    false_alarms = sum(bool(conflicts_find(q, c)) for q, c in AGREEMENTS)
    assert (found, false_alarms) == (len(CONFLICTS), 0)


def test_the_kind_of_value_and_its_unit_are_read():
    values = values_of(
        "Paid within 10 business days, 75 percent, by 31 March 2025, version 3.1, EUR 1,200."
    )

    assert values[("duration", "business days")][0][0] == 10
    assert values[("percent", "")][0][0] == 75
    assert values[("date", "")][0][0] == ("2025", "march", 31)
    assert values[("version", "")][0][0] == "3.1"
    assert values[("amount", "EUR")][0][0] == 1200
