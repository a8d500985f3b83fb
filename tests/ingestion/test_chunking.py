"""Chunking: size limits, overlap, ordinals, section boundaries and determinism."""

from __future__ import annotations

from itertools import pairwise

import pytest

from ingestion.chunking import ChunkDraft, chunk_sections, count_tokens
from ingestion.parsers.base import Section


def sentence(number: int) -> str:
    # 15 tokens: 13 words, a comma and a full stop.
    return f"Rule {number} says that meals, hotels and trains are booked through the desk."


def paragraph(first: int, count: int) -> str:
    return " ".join(sentence(number) for number in range(first, first + count))


def test_count_tokens_counts_words_and_punctuation():
    assert count_tokens("Meals: 40 EUR, per day.") == 8
    assert count_tokens("   ") == 0
    assert count_tokens(sentence(1)) == 15


def test_short_section_is_one_chunk_with_normalized_whitespace():
    section = Section(("Travel", "Meals"), "Meals   are\nreimbursed.\n\n\n  Keep receipts.  ")

    assert chunk_sections([section]) == [
        ChunkDraft(
            ordinal=0,
            text="Meals are reimbursed.\n\nKeep receipts.",
            heading_path=("Travel", "Meals"),
            token_count=7,
        )
    ]


def test_long_section_is_split_within_the_limit_with_ordinals_across_sections():
    sections = [Section(("A",), paragraph(0, 40)), Section(("B",), paragraph(100, 40))]

    chunks = chunk_sections(sections, max_tokens=60, overlap_tokens=15)

    assert len(chunks) > 4
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    assert all(0 < chunk.token_count <= 60 for chunk in chunks)
    assert all(chunk.token_count == count_tokens(chunk.text) for chunk in chunks)
    # Every sentence of the source is in some chunk.
    joined = " ".join(chunk.text for chunk in chunks)
    for number in [*range(40), *range(100, 140)]:
        assert sentence(number) in joined


def test_consecutive_chunks_overlap_by_whole_sentences():
    chunks = chunk_sections([Section((), paragraph(0, 20))], max_tokens=60, overlap_tokens=15)

    for previous, following in pairwise(chunks):
        last_sentence = previous.text.rsplit(". ", 1)[-1]
        assert following.text.startswith(last_sentence)
    # 15-token sentences: four fit in 60 tokens, one (15 <= 15) is carried over.
    assert chunks[0].text == paragraph(0, 4)
    assert chunks[1].text == paragraph(3, 4)


def test_without_overlap_the_chunks_partition_the_text():
    text = paragraph(0, 20)

    chunks = chunk_sections([Section((), text)], max_tokens=60, overlap_tokens=0)

    assert " ".join(chunk.text for chunk in chunks) == text
    assert sum(chunk.token_count for chunk in chunks) == count_tokens(text)


def test_overlap_that_a_long_sentence_exceeds_is_skipped_rather_than_cut():
    chunks = chunk_sections([Section((), paragraph(0, 8))], max_tokens=30, overlap_tokens=10)

    # Each 15-token sentence is larger than the overlap, so none is repeated.
    assert [chunk.text for chunk in chunks] == [paragraph(number, 2) for number in (0, 2, 4, 6)]


def test_a_paragraph_that_does_not_fit_starts_a_new_chunk_instead_of_being_split():
    first, second = paragraph(0, 2), paragraph(10, 3)  # 30 and 45 tokens

    chunks = chunk_sections([Section((), f"{first}\n\n{second}")], max_tokens=50, overlap_tokens=0)

    assert [chunk.text for chunk in chunks] == [first, second]


def test_chunks_never_span_sections():
    sections = [
        Section(("Meals",), "Breakfast is included."),
        Section(("Hotels",), "Book through the desk."),
        Section(("Hotels", "Abroad"), "Ask for approval."),
    ]

    chunks = chunk_sections(sections, max_tokens=180, overlap_tokens=30)

    assert [(chunk.heading_path, chunk.text) for chunk in chunks] == [
        (("Meals",), "Breakfast is included."),
        (("Hotels",), "Book through the desk."),
        (("Hotels", "Abroad"), "Ask for approval."),
    ]


def test_an_over_long_sentence_is_cut_by_tokens_and_still_overlaps():
    words = [f"w{number}" for number in range(500)]  # one "sentence", no punctuation

    chunks = chunk_sections([Section((), " ".join(words))], max_tokens=100, overlap_tokens=20)

    assert all(chunk.token_count <= 100 for chunk in chunks)
    assert chunks[0].text.split() == words[:100]
    assert chunks[1].text.split()[:20] == words[80:100]
    assert chunks[-1].text.split()[-1] == "w499"
    covered = {word for chunk in chunks for word in chunk.text.split()}
    assert covered == set(words)


def test_an_abbreviation_does_not_end_a_sentence():
    text = "Trains are preferred. Taxis are fine, e.g. at night. Buses too."

    chunks = chunk_sections([Section((), text)], max_tokens=15, overlap_tokens=5)

    # Had "e.g." ended a sentence, "at night." (3 tokens) would be carried over.
    assert [chunk.text for chunk in chunks] == [
        "Trains are preferred. Taxis are fine, e.g. at night.",
        "Buses too.",
    ]


def test_empty_sections_give_no_chunks():
    assert chunk_sections([Section(("Empty",), ""), Section((), " \n\n \t ")]) == []


def test_same_input_gives_the_same_chunks():
    sections = [Section(("A",), paragraph(0, 30) + "\n\n" + paragraph(50, 7))]

    assert chunk_sections(sections, max_tokens=70, overlap_tokens=20) == chunk_sections(
        sections, max_tokens=70, overlap_tokens=20
    )


@pytest.mark.parametrize(
    ("max_tokens", "overlap_tokens"),
    [(30, 30), (30, 40), (30, -1), (0, 0)],
)
def test_invalid_limits_are_rejected(max_tokens, overlap_tokens):
    with pytest.raises(ValueError, match="max_tokens > overlap_tokens >= 0"):
        chunk_sections([Section((), "Text.")], max_tokens=max_tokens, overlap_tokens=overlap_tokens)
