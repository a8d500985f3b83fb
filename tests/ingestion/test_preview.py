"""The preview joins a document's passages again: every paragraph of the parsed text
once, in order, under its headings, whatever overlap chunking added."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ingestion.chunking import chunk_sections
from ingestion.parsers.base import Section
from ingestion.preview import overlap_strip, preview_blocks


def _rebuilt(sections: list[Section], **sizes) -> tuple[list[str], list[tuple[int, str]]]:
    drafts = chunk_sections(sections, **sizes)
    chunks = [
        SimpleNamespace(id=d.ordinal, text=d.text, heading_path=list(d.heading_path))
        for d in drafts
    ]
    paragraphs: list[str] = []
    headings: list[tuple[int, str]] = []
    for block in preview_blocks(chunks):
        headings += block.headings
        for index, paragraph in enumerate(block.paragraphs):
            if index == 0 and block.continues:
                paragraphs[-1] += " " + paragraph
            else:
                paragraphs.append(paragraph)
    return paragraphs, headings


@pytest.mark.parametrize(("max_tokens", "overlap_tokens"), [(60, 15), (180, 30), (40, 0)])
def test_every_paragraph_once_in_order(max_tokens, overlap_tokens):
    body = "\n\n".join(
        " ".join(f"Sentence {p}.{i} has a few words in it." for i in range(12)) for p in range(6)
    )
    sections = [
        Section(("Intro",), body),
        Section(("Intro", "Detail"), "Short text. Another one."),
        Section(("Other",), body),
    ]
    paragraphs, headings = _rebuilt(sections, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
    original = [p for s in sections for p in s.text.split("\n\n")]
    # Each sentence once, in order.
    assert " ".join(paragraphs) == " ".join(original)
    if overlap_tokens:
        # With overlap to go by, paragraphs break where the document's did.
        assert paragraphs == original
    assert headings == [(3, "Intro"), (4, "Detail"), (3, "Other")]


def test_overlap_strip_keeps_text_that_repeats_nothing():
    assert overlap_strip("One. Two.", "Three. Four.") == ("Three. Four.", False)
    assert overlap_strip("One. Two.", "Two. Three.") == ("Three.", True)
    assert overlap_strip("One. Two.", "Two.\n\nThree.") == ("Three.", False)
    # Only a whole sentence counts: "wo." is the end of a word, not a repeat.
    assert overlap_strip("One. Two.", "wo. Three.") == ("wo. Three.", False)
