"""Cut parsed sections into passages ("chunks") small enough to embed and cite.

Pure Python and deterministic: the same sections always give the same chunks, so
re-indexing a document replaces its chunks with identical ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ingestion.parsers.base import Section, normalize_space

# Chinese and Japanese are written without spaces: each character counts as a token.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A token is a CJK character, a word of up to 20 letters or digits (longer runs such as
# hashes or encoded data count once per 20 characters, close to how a word-piece
# tokenizer splits them, and can still be cut), or a single punctuation mark.
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]{{1,20}}|[^\w\s]")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# End of a sentence: terminal punctuation (or an ellipsis), optional closing quotes or
# brackets, then whitespace; or CJK full stop, exclamation or question mark, which need
# no whitespace after them.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+|[\u3002\uff01\uff1f]+")


@dataclass(frozen=True)
class ChunkDraft:
    """One passage of a document, before it is embedded and stored."""

    ordinal: int  # position in the document, 0..n-1
    text: str
    heading_path: tuple[str, ...]  # the section the passage comes from
    token_count: int  # the text's tokens, as counted by the ``count`` it was cut with


def count_tokens(text: str) -> int:
    """Approximate token count: words, CJK characters and punctuation marks.

    Cheap and deterministic; it under-counts the word pieces an embedding model sees
    (a rare or long word becomes several pieces), so limits expressed in these tokens
    need headroom. Indexing counts with the embedding models' own tokenizers instead
    (``ingestion.embedding.token_fit``); this count is the default of ``chunk_sections``.
    """
    return len(_TOKEN.findall(text))


# Chunk text is never cut below this many tokens, however long a section's heading path.
MIN_CHUNK_TOKENS = 32


def chunk_sections(
    sections: Sequence[Section],
    *,
    max_tokens: int = 180,
    overlap_tokens: int = 30,
    count: Callable[[str], int] = count_tokens,
    room_for: Callable[[tuple[str, ...]], int] | None = None,
) -> list[ChunkDraft]:
    """Chunks of at most ``max_tokens`` tokens each, numbered 0..n-1 across the document.

    Tokens are what ``count`` says (by default ``count_tokens``, an approximation;
    indexing passes the embedding models' own tokenizers). With ``room_for``, a
    section's chunks are also at most ``room_for(heading_path)`` tokens: what the
    embedding model's window leaves beside the title and heading path embedded with
    each chunk (never below ``MIN_CHUNK_TOKENS``; the overlap shrinks to a quarter of
    a smaller limit).

    Contract:

    - A chunk never spans two sections and carries its section's heading path.
    - Within a section, text is packed greedily. A paragraph that does not fit in the
      current chunk starts the next one; a paragraph longer than ``max_tokens`` is
      split between sentences; a sentence longer than ``max_tokens`` is cut by tokens.
    - Consecutive chunks of one section overlap: the next chunk starts with the whole
      sentences (at most ``overlap_tokens`` tokens) that ended the previous one. The
      overlap is smaller when the last sentence is longer than that, or when it must
      shrink for the next paragraph to fit.
    - Whitespace is normalized: single spaces within a paragraph, a blank line
      between paragraphs. No chunk is empty.
    - No chunk is over the limit by ``count`` of its whole text: packing adds up its
      sentences' tokens, and a chunk whose whole counts more is cut further.

    Why 180 by default: all-MiniLM-L6-v2 truncates its input at 256 word pieces, the
    document title and heading path are embedded with each chunk, and ``count_tokens``
    under-counts word pieces. Counted with the model's tokenizer and ``room_for``, a
    chunk fits exactly (``ingestion.indexing.chunks_plan``).

    Raises ValueError unless ``max_tokens > overlap_tokens >= 0``.
    """
    if not max_tokens > overlap_tokens >= 0:
        raise ValueError(
            f"need max_tokens > overlap_tokens >= 0, got max_tokens={max_tokens}, "
            f"overlap_tokens={overlap_tokens}"
        )
    drafts: list[ChunkDraft] = []
    for section in sections:
        limit, overlap = max_tokens, overlap_tokens
        if room_for is not None:
            limit = max(min(max_tokens, room_for(tuple(section.heading_path))), MIN_CHUNK_TOKENS)
            if limit < max_tokens:
                overlap = min(overlap_tokens, limit // 4)
        for text in _chunk_text(section.text, limit, overlap, count):
            for part, tokens in _within(text, limit, count):
                drafts.append(
                    ChunkDraft(
                        ordinal=len(drafts),
                        text=part,
                        heading_path=tuple(section.heading_path),
                        token_count=tokens,
                    )
                )
    return drafts


def _within(text: str, limit: int, count: Callable[[str], int]) -> list[tuple[str, int]]:
    """The chunk with its tokens, counted whole; cut further if over ``limit``. Packing
    adds up its pieces' tokens, which is the whole's count unless two pieces meet inside
    a word (the cuts of an over-long sentence), where a tokenizer may read the joined
    text as more."""
    tokens = count(text)
    if tokens <= limit:
        return [(text, tokens)]
    return [(cut, count(cut)) for cut, _ in _cuts(text, limit, count)]


@dataclass(frozen=True)
class _Piece:
    """A sentence, or a cut of an over-long one: the smallest unit packed into chunks."""

    text: str
    tokens: int
    joiner: str  # what separates it from the piece before: "\n\n", " " or ""


def _chunk_text(
    text: str, max_tokens: int, overlap_tokens: int, count: Callable[[str], int]
) -> list[str]:
    packer = _Packer(max_tokens, overlap_tokens)
    # Cuts of an over-long sentence are small enough that the overlap can carry whole
    # cuts, and never larger than the room left beside a full overlap.
    cut_size = min(overlap_tokens, max_tokens - overlap_tokens) if overlap_tokens else max_tokens
    for block in _PARAGRAPH_BREAK.split(text):
        paragraph = normalize_space(block)
        if paragraph:
            packer.add_paragraph(_pieces(paragraph, max_tokens, cut_size, count))
    return packer.finish()


class _Packer:
    def __init__(self, max_tokens: int, overlap_tokens: int) -> None:
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.chunks: list[str] = []
        self.current: list[_Piece] = []
        self.current_tokens = 0
        self.fresh = False  # current holds text not already emitted

    def add_paragraph(self, pieces: list[_Piece]) -> None:
        total = sum(piece.tokens for piece in pieces)
        if self.fresh and self.current_tokens + total > self.max_tokens:
            self._emit()
        if total <= self.max_tokens:
            self._make_room(total)  # keep the paragraph whole: shrink the overlap instead
        for piece in pieces:
            if self.fresh and self.current_tokens + piece.tokens > self.max_tokens:
                self._emit()
            self._make_room(piece.tokens)
            self.current.append(piece)
            self.current_tokens += piece.tokens
            self.fresh = True

    def finish(self) -> list[str]:
        if self.fresh:
            self._emit()
        return self.chunks

    def _emit(self) -> None:
        """Close the current chunk; the next starts with its last sentences."""
        parts = [self.current[0].text]
        parts.extend(piece.joiner + piece.text for piece in self.current[1:])
        self.chunks.append("".join(parts))
        tail: list[_Piece] = []
        tail_tokens = 0
        for piece in reversed(self.current):
            if tail_tokens + piece.tokens > self.overlap_tokens:
                break
            tail.insert(0, piece)
            tail_tokens += piece.tokens
        self.current, self.current_tokens, self.fresh = tail, tail_tokens, False

    def _make_room(self, tokens: int) -> None:
        """Drop overlap from the front until ``tokens`` more fit."""
        while self.current and not self.fresh and self.current_tokens + tokens > self.max_tokens:
            self.current_tokens -= self.current.pop(0).tokens


def _pieces(
    paragraph: str, max_tokens: int, cut_size: int, count: Callable[[str], int]
) -> list[_Piece]:
    pieces = []
    for sentence, joiner in _sentences(paragraph):
        tokens = count(sentence)
        if tokens <= max_tokens:
            pieces.append(_Piece(sentence, tokens, joiner))
        else:
            for index, (cut, cut_joiner) in enumerate(_cuts(sentence, cut_size, count)):
                pieces.append(_Piece(cut, count(cut), joiner if index == 0 else cut_joiner))
    if pieces:
        pieces[0] = _Piece(pieces[0].text, pieces[0].tokens, "\n\n")
    return pieces


def _sentences(paragraph: str) -> list[tuple[str, str]]:
    """(sentence, joiner) pairs. A full stop followed by a lower-case letter ("e.g. the")
    does not end a sentence."""
    pieces = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        end = match.end()
        if end < len(paragraph) and paragraph[end].islower():
            continue
        pieces.append((paragraph[start:end], start))
        start = end
    pieces.append((paragraph[start:], start))
    return [
        (text.strip(), " " if at > 0 and paragraph[at - 1].isspace() else "")
        for text, at in pieces
        if text.strip()
    ]


def _cuts(sentence: str, size: int, count: Callable[[str], int]) -> list[tuple[str, str]]:
    """Cut an over-long sentence into pieces of at most ``size`` tokens (by ``count``),
    between approximate tokens (words, CJK characters, punctuation): (text, joiner)
    pairs. A model's tokenizer may make several tokens of one word, so a cut holds as
    many whole approximate tokens as fit (at least one)."""
    starts = [match.start() for match in _TOKEN.finditer(sentence)]
    cuts: list[tuple[int, int]] = []
    index = 0
    while index < len(starts):
        end_index = min(index + size, len(starts))
        while True:
            end = starts[end_index] if end_index < len(starts) else len(sentence)
            if end_index == index + 1 or count(sentence[starts[index] : end]) <= size:
                break
            end_index = index + max((end_index - index) * 3 // 4, 1)
        cuts.append((starts[index], end))
        index = end_index
    return [
        (sentence[start:end].strip(), " " if start > 0 and sentence[start - 1].isspace() else "")
        for start, end in cuts
    ]
