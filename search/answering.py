"""Answers built from retrieved passages, and the citation numbering they share.

Two ways to answer live side by side: an LLM (see ``search.llm``) and the
extractive fallback here, which quotes the passages' own sentences and never
writes a word that is not in them. Both produce an :class:`Answer` whose
citation markers ``[n]`` number the passages actually used, 1..m, in order of
first appearance in the answer text.

Nothing here touches Django or the database: callers pass plain passages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

NO_ANSWER_TEXT = "The documents available to you do not answer this question."


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk, as handed to an answerer."""

    chunk_id: int
    document_id: int
    document_title: str
    heading_path: tuple[str, ...]
    text: str
    score: float  # fused retrieval score, higher is better


@dataclass(frozen=True)
class Citation:
    """Marker ``[number]`` in an answer's text refers to ``passage``."""

    number: int  # 1-based, as it appears in the answer text "[1]"
    passage: Passage


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    mode: str  # "llm" | "extractive" | "no_answer"
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0


def no_answer(*, model: str = "", prompt_tokens: int = 0, completion_tokens: int = 0) -> Answer:
    """The answer given when the passages do not answer the question."""
    return Answer(
        text=NO_ANSWER_TEXT,
        citations=[],
        mode="no_answer",
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )


# --- Words -----------------------------------------------------------------

# Function words and question phrasing carry no topic: "how do I reset my
# password" should match on "reset" and "password" only.
_STOP_WORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each either
    else etc ever every few for from further get gets got had has have having he her here hers
    herself him himself his how i if in into is it its itself just let lets like may me might
    more most much must my myself need no nor not now of off on once only or other our ours
    ourselves out over own please same shall she should so some such tell than that the their
    theirs them themselves then there these they this those through to too under until up upon
    us very want was we were what when where whether which while who whom whose why will with
    within without would yes yet you your yours yourself yourselves
    can't didn't doesn't don't i'd i'm i've isn't it's what's where's who's how's won't
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

_WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_VOWELS = frozenset("aeiouy")

# Ordered longest first so "configurations" loses "ations", not just "s".
# (suffix, replacement); each applies only if at least three letters remain.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("ations", ""),
    ("ation", ""),
    ("ingly", ""),
    ("ments", ""),
    ("ment", ""),
    ("ings", ""),
    ("ing", ""),
    ("edly", ""),
    ("ies", "y"),
    ("ied", "y"),
    ("ed", ""),
    ("es", ""),
    ("ly", ""),
    ("s", ""),
)


def stem(word: str) -> str:
    """Light, deterministic suffix stripping for matching, not a linguistic stem.

    The contract is only that inflections of one word meet: "reset", "resets",
    "resetting" -> "reset"; "configure", "configured", "configuration" ->
    "configur"; "policy", "policies" -> "policy". A trailing doubled consonant
    is always collapsed (on plain words too) so "resetting" -> "resett" and
    "added" -> "add" meet their base forms.
    """
    word = word.lower().replace("'", "")
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement in _SUFFIXES:
        if not word.endswith(suffix):
            continue
        base = word[: -len(suffix)]
        # "status", "access", "class": a final s that is not a plural ending.
        if suffix == "s" and base[-1] in "su":
            continue
        # Too short a stem ("used" -> "us"): try a shorter suffix instead.
        if len(base) + len(replacement) < 3:
            continue
        word = base + replacement
        break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in _VOWELS:
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """The lowercased word tokens of ``text`` (letters and digits; apostrophes kept inside)."""
    return [w.lower() for w in _WORD_RE.findall(text.replace("\u2019", "'"))]


def content_terms(text: str) -> set[str]:
    """Stems of the words of ``text`` that are neither stop words nor single letters."""
    return {stem(w) for w in words(text) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())}


# --- Sentences -------------------------------------------------------------

# A candidate boundary: terminal punctuation (maybe closing quotes/brackets),
# whitespace, then something that can start a sentence.
_BOUNDARY_RE = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "etc", "vs", "cf", "mr", "mrs", "ms", "dr", "prof", "st", "no", "fig"}
    | {"approx", "inc", "ltd", "co", "jr", "sr", "dept"}
)
_LIST_MARKER_RE = re.compile(r"^\s*(?:[-*+\u2022]|\d{1,3}[.)])\s+")
# Sentences shorter than this are usually headings or table cells, not answers.
_MIN_SENTENCE_WORDS = 3


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, verbatim except for collapsed whitespace.

    Lines are split first (list items and table rows rarely end in a period),
    then lines at terminal punctuation followed by a capital or digit, unless
    the word before the period is a common abbreviation. Markdown heading
    lines and list markers are dropped; nothing is added.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        line = _LIST_MARKER_RE.sub("", line).strip()
        if not line or line.startswith("#"):
            continue
        start = 0
        for match in _BOUNDARY_RE.finditer(line):
            before = line[start : match.start()].rsplit(None, 1)
            last_word = before[-1].lower().rstrip(".") if before else ""
            if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
                continue
            sentences.append(line[start : match.end()].strip())
            start = match.end()
        sentences.append(line[start:].strip())
    return [" ".join(s.split()) for s in sentences if s.strip()]


# --- Extractive answers ----------------------------------------------------

# Each step down the ranking costs a little: the fourth passage's sentence
# needs ~1.75x the overlap of the first's to win. Rank, not the raw fused
# score, because fused scores are not comparable across queries.
_RANK_DECAY = 0.25
# Sentences scoring under this share of the best one are noise next to it.
_RELATIVE_CUTOFF = 0.4
_MAX_PER_PASSAGE = 2
# Word-set Jaccard similarity at which two sentences say the same thing
# (the same paragraph indexed twice, boilerplate repeated across documents).
_DUPLICATE_JACCARD = 0.8


@dataclass(frozen=True)
class _Candidate:
    rank: int  # position of the passage in the input
    position: int  # position of the sentence in its passage
    text: str
    terms: frozenset[str]
    word_set: frozenset[str]


def answer_extractive(
    question: str, passages: Sequence[Passage], *, max_sentences: int = 4
) -> Answer:
    """Answer by quoting the passage sentences that best match ``question``.

    Contract:
    - Every sentence of the answer is copied from a passage (whitespace
      collapsed) and followed by ``[n]``, n numbering the distinct passages
      used, 1..m, in order of first use in the text.
    - At most ``max_sentences`` sentences, at most two per passage, no near
      duplicates. Sentences from one passage stay in document order; passages
      appear in order of their best sentence.
    - A sentence's score is the IDF-weighted share of the question's content
      terms it contains, discounted by its passage's rank in ``passages``.
    - With no passages, no content words in the question, or no sentence
      sharing a content word with it, returns ``no_answer()``.
    """
    question_terms = content_terms(question)
    if not passages or not question_terms or max_sentences < 1:
        return no_answer()

    candidates = [
        _Candidate(
            rank=rank,
            position=position,
            text=sentence,
            terms=frozenset(content_terms(sentence)),
            word_set=frozenset(words(sentence)),
        )
        for rank, passage in enumerate(passages)
        for position, sentence in enumerate(split_sentences(passage.text))
        if len(words(sentence)) >= _MIN_SENTENCE_WORDS
    ]
    if not candidates:
        return no_answer()

    # Terms found in every sentence (the product name, the topic of the whole
    # set) separate nothing; rare terms point at the answer.
    total = len(candidates)
    weight = {
        term: math.log(1 + total / (1 + sum(term in c.terms for c in candidates)))
        for term in question_terms
    }
    question_weight = sum(weight.values())

    scored: list[tuple[float, _Candidate]] = []
    for candidate in candidates:
        matched = question_terms & candidate.terms
        if not matched:
            continue
        coverage = sum(weight[t] for t in matched) / question_weight
        scored.append((coverage / (1 + _RANK_DECAY * candidate.rank), candidate))
    if not scored:
        return no_answer()

    scored.sort(key=lambda item: (-item[0], item[1].rank, item[1].position))
    best_score = scored[0][0]
    chosen: list[_Candidate] = []
    per_passage: dict[int, int] = {}
    for score, candidate in scored:
        if len(chosen) >= max_sentences or score < best_score * _RELATIVE_CUTOFF:
            break
        if per_passage.get(candidate.rank, 0) >= _MAX_PER_PASSAGE:
            continue
        if any(_jaccard(candidate.word_set, c.word_set) >= _DUPLICATE_JACCARD for c in chosen):
            continue
        chosen.append(candidate)
        per_passage[candidate.rank] = per_passage.get(candidate.rank, 0) + 1

    # Readable order: passages by their best sentence (first chosen first),
    # sentences within one passage as the document has them.
    passage_order = list(dict.fromkeys(c.rank for c in chosen))
    ordered = sorted(chosen, key=lambda c: (passage_order.index(c.rank), c.position))

    numbers: dict[int, int] = {}
    parts: list[str] = []
    for candidate in ordered:
        number = numbers.setdefault(candidate.rank, len(numbers) + 1)
        parts.append(f"{candidate.text} [{number}]")
    citations = [Citation(number=n, passage=passages[rank]) for rank, n in numbers.items()]
    return Answer(text=" ".join(parts), citations=citations, mode="extractive")


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


# --- Citation markers ------------------------------------------------------

# "[3]", "[1, 3]", "[1,3]", "[2-4]" (also en dash). Not a markdown link
# "[1](https://...)". "[1][3]" is two markers.
_MARKER_RE = re.compile(
    r"\[(?P<body>\s*\d+(?:\s*[-\u2013]\s*\d+)?(?:\s*,\s*\d+(?:\s*[-\u2013]\s*\d+)?)*\s*)\]"
    r"(?!\()"
)
_RANGE_RE = re.compile(r"(\d+)\s*[-\u2013]\s*(\d+)")
# A range wider than this is not a citation ("[1-2000]"); it is read as its
# endpoints only, so a stray number cannot expand into a huge list.
_MAX_RANGE = 20
# Dropped markers are first replaced by this, then removed with the space
# around them in a second pass that can see what came before and after.
_DROPPED = "\x00"
_DROPPED_RUN_RE = re.compile(r"[ \t]*\x00(?:[ \t]*\x00)*[ \t]*")
_CLOSING_PUNCTUATION = frozenset(".,;:!?)")


def renumber_citations(text: str, passages: Sequence[Passage]) -> tuple[str, list[Citation]]:
    """Rewrite the 1-based passage positions cited in ``text`` as 1..m.

    ``text`` cites ``passages`` by position: "[3]", "[1, 3]", "[1][3]",
    "[2-3]". Markers pointing outside ``passages`` are dropped; a marker left
    with no valid number is removed together with the space it leaves behind
    ("see [9]." -> "see."). Kept positions are renumbered in order of first
    appearance, duplicates within a marker are merged, and a marker with
    several numbers is written "[1, 2]". Returns the new text and one
    :class:`Citation` per kept passage, ordered by number.
    """
    numbers: dict[int, int] = {}  # 0-based passage index -> new number

    def replace(match: re.Match[str]) -> str:
        kept: list[int] = []
        for position in _marker_positions(match["body"]):
            if 1 <= position <= len(passages):
                new = numbers.setdefault(position - 1, len(numbers) + 1)
                if new not in kept:
                    kept.append(new)
        return f"[{', '.join(map(str, kept))}]" if kept else _DROPPED

    rewritten = _MARKER_RE.sub(replace, text.replace(_DROPPED, ""))
    rewritten = _DROPPED_RUN_RE.sub(_leftover_space, rewritten)
    citations = [Citation(number=n, passage=passages[index]) for index, n in numbers.items()]
    return rewritten, citations


def _marker_positions(body: str) -> list[int]:
    positions: list[int] = []
    for item in body.split(","):
        item = item.strip()
        span = _RANGE_RE.fullmatch(item)
        if span:
            low, high = int(span[1]), int(span[2])
            if low <= high and high - low <= _MAX_RANGE:
                positions.extend(range(low, high + 1))
            else:
                positions.extend((low, high))
        else:
            positions.append(int(item))
    return positions


def _leftover_space(match: re.Match[str]) -> str:
    """What stays of a run of dropped markers: at most one space, none before punctuation."""
    text, start, end = match.string, match.start(), match.end()
    at_line_start = start == 0 or text[start - 1] == "\n"
    next_char = text[end] if end < len(text) else "\n"
    if at_line_start or next_char == "\n" or next_char in _CLOSING_PUNCTUATION:
        return ""
    run = match.group()
    return " " if run[0] in " \t" or run[-1] in " \t" else ""
