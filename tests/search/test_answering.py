"""Extractive answers and citation renumbering (no database, no network)."""

import re

from search.answering import (
    NO_ANSWER_TEXT,
    Passage,
    answer_extractive,
    renumber_citations,
    split_sentences,
    stem,
)


def passage(number: int, text: str, title: str = "") -> Passage:
    return Passage(
        chunk_id=100 + number,
        document_id=number,
        document_title=title or f"Document {number}",
        heading_path=("Handbook", f"Section {number}"),
        text=text,
        score=1.0 / number,
    )


VACATION = passage(
    1,
    "Employees receive 28 days of paid vacation per year. Unused days expire in March. "
    "The cafeteria opens at eight.",
    "HR handbook",
)
PASSWORD = passage(
    2,
    "To reset your password, open Settings and choose Security. "
    "A reset link is sent to your work email address. Passwords must have twelve characters.",
    "IT guide",
)
PARKING = passage(3, "Parking permits are issued by the facilities team on request.", "Facilities")


def test_extractive_cites_the_passage_that_answers():
    answer = answer_extractive("How do I reset my password?", [VACATION, PASSWORD, PARKING])

    assert answer.mode == "extractive"
    assert [c.passage for c in answer.citations] == [PASSWORD]
    assert answer.citations[0].number == 1
    assert answer.text.startswith("To reset your password, open Settings and choose Security. [1]")
    assert "vacation" not in answer.text


def test_extractive_matches_inflections():
    answer = answer_extractive("resetting passwords", [VACATION, PASSWORD])

    assert answer.mode == "extractive"
    assert answer.citations[0].passage == PASSWORD


def test_extractive_only_quotes_passage_text():
    passages = [VACATION, PASSWORD, PARKING]
    answer = answer_extractive("vacation days and password reset link", passages)

    sentences = re.split(r" \[\d+\] ?", answer.text)
    source = " ".join(p.text for p in passages)
    assert all(s in source for s in sentences if s)


def test_extractive_numbers_passages_in_order_of_first_use():
    question = "How many vacation days, and how is a password reset?"
    answer = answer_extractive(question, [PARKING, PASSWORD, VACATION])

    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    assert markers == sorted(markers)
    assert set(markers) == {1, 2}
    assert [(c.number, c.passage) for c in answer.citations] == [(1, PASSWORD), (2, VACATION)]
    assert answer.text.startswith("To reset your password")


def test_extractive_prefers_the_higher_ranked_passage_on_a_tie():
    same = "Badges are collected at the front desk."
    first, second = passage(1, same + " Bring an ID."), passage(2, same)

    answer = answer_extractive("Where are badges collected?", [first, second])

    assert answer.citations[0].passage == first
    # The second copy is a duplicate of the first and is skipped.
    assert answer.text.count(same) == 1


def test_extractive_limits_sentences_per_passage_and_in_total():
    long = passage(1, " ".join(f"Rule {i} concerns the badge policy." for i in range(10)))

    answer = answer_extractive("badge policy", [long], max_sentences=4)

    assert answer.text.count("[1]") <= 2
    two_passages = [long, passage(2, "The badge policy applies to visitors too.")]
    assert answer_extractive("badge policy", two_passages, max_sentences=1).text.count("[") == 1


def test_extractive_keeps_document_order_within_a_passage():
    text = "First, open Settings for the reset. Then press the reset password button."
    answer = answer_extractive("reset password button settings", [passage(1, text)])

    assert answer.text == (
        "First, open Settings for the reset. [1] Then press the reset password button. [1]"
    )


def test_no_passages_is_no_answer():
    answer = answer_extractive("How do I reset my password?", [])

    assert answer.mode == "no_answer"
    assert answer.text == NO_ANSWER_TEXT
    assert answer.citations == []


def test_no_shared_content_word_is_no_answer():
    answer = answer_extractive("What is the wifi password for guests?", [VACATION, PARKING])

    assert answer.mode == "no_answer"
    assert answer.text == NO_ANSWER_TEXT
    assert answer.citations == []


def test_question_of_stop_words_only_is_no_answer():
    assert answer_extractive("What is it?", [VACATION]).mode == "no_answer"


def test_stem_meets_inflections():
    assert stem("reset") == stem("resets") == stem("resetting")
    assert stem("configure") == stem("configured") == stem("configuration")
    assert stem("policy") == stem("policies")
    assert stem("status") == stem("statuses")


def test_split_sentences_skips_headings_and_keeps_abbreviations():
    text = "# Travel\n- Book flights e.g. via the portal. Keep receipts.\nDr. Smith approves."

    assert split_sentences(text) == [
        "Book flights e.g. via the portal.",
        "Keep receipts.",
        "Dr. Smith approves.",
    ]


PASSAGES = [passage(n, f"Passage {n}.") for n in range(1, 5)]


def test_renumber_in_order_of_first_appearance():
    text, citations = renumber_citations("Alpha [3]. Beta [1, 3]. Gamma [1][4].", PASSAGES)

    assert text == "Alpha [1]. Beta [2, 1]. Gamma [2][3]."
    assert [(c.number, c.passage) for c in citations] == [
        (1, PASSAGES[2]),
        (2, PASSAGES[0]),
        (3, PASSAGES[3]),
    ]


def test_renumber_drops_invalid_markers_and_their_spaces():
    text, citations = renumber_citations(
        "Alpha [9]. Beta [2] [7] and more. [0] Gamma [2, 9].\n[5]\nDelta [12][4]", PASSAGES
    )

    assert text == "Alpha. Beta [1] and more. Gamma [1].\n\nDelta [2]"
    assert [c.passage for c in citations] == [PASSAGES[1], PASSAGES[3]]


def test_renumber_merges_duplicates_and_expands_ranges():
    text, citations = renumber_citations("See [2, 2] and [2-4].", PASSAGES)

    assert text == "See [1] and [1, 2, 3]."
    assert len(citations) == 3


def test_renumber_leaves_markdown_links_and_plain_text_alone():
    original = "Open [the guide](https://example.com) or [1](https://example.com/1)."

    assert renumber_citations(original, PASSAGES) == (original, [])


def test_renumber_without_passages_drops_every_marker():
    assert renumber_citations("Nothing [1] here.", []) == ("Nothing here.", [])
