"""Answers built from retrieved passages, and the citation numbering they share.

Two ways to answer live side by side: an LLM (see ``search.llm``) and the
extractive fallback here, which quotes the passages' own sentences and never
writes a word that is not in them. Both produce an :class:`Answer` whose
citation markers ``[n]`` number the passages actually used, 1..m, in order of
first appearance in the answer text.

Nothing here touches the database: callers pass plain passages. The one sentence of
our own, ``NO_ANSWER_TEXT``, is stored and compared in English and shown through
:func:`answer_shown` in the reader's language.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from django.utils.translation import gettext, gettext_noop

from search.confidence import answer_refused
from search.conflicts import conflicts_find
from search.equivalents import equivalents
from search.evidence import asked_fact, evidence_measure, question_terms, states_fact
from search.wording import _MIN_SENTENCE_WORDS, content_terms, split_sentences, words
from search.wording import STOP_WORDS as STOP_WORDS  # re-exported: older imports
from search.wording import stem as stem

# Stored with the question and compared by equality (the LLM is told to say it, then
# ``search.llm`` recognizes it): always this English msgid; shown by ``answer_shown``.
NO_ANSWER_TEXT = gettext_noop("The documents available to you do not answer this question.")


def answer_shown(text: str) -> str:
    """An answer's stored ``text`` as a reader sees it: the no-answer sentence in the
    active language, any other text (written from the documents) as it is."""
    return gettext(NO_ANSWER_TEXT) if text == NO_ANSWER_TEXT else text


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
    # What the passages say about the question (``search.evidence.evidence_measure``),
    # when the answerer had the question at hand; the confidence is read from it.
    evidence: dict[str, float] = field(default_factory=dict)


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
# A question's words found in the passage's document title or headings count
# this much of what they count in the sentence itself: "EUR 65 a day" under
# "5. Per diem" answers a question about the per diem.
_CONTEXT_SHARE = 0.5
# Added to a sentence that states the kind of fact asked for (an amount, a
# number, a date; ``search.evidence.asked_fact``): the sentence with the
# amount beats the one that only repeats the question's words.
_FACT_BONUS = 0.3
# A sentence under a heading about what is *not* covered ("Non-reimbursable
# expenses") answers "what is reimbursed" only with a much better match; one
# that itself denies something, a little.
_NEGATIVE_HEADING = 0.5
_NEGATIVE_SENTENCE = 0.85
_NEGATION_RE = re.compile(
    r"\b(?:not|never|no|none|non-\w+|except|excluding|nicht|kein\w*|nie|ausgenommen)\b",
    re.IGNORECASE,
)
# Another document's best sentence joins the answer when it scores this close
# to the best: two sources answer alike (and may disagree: search.conflicts).
_SECOND_SOURCE = 0.8
# A heading or title line: short, no closing punctuation.
_HEADING_MAX_WORDS = 8
_SECTION_NUMBER_RE = re.compile(r"^\d+(?:\.\d+)*\.?\s+\S")


@dataclass(frozen=True)
class _Candidate:
    rank: int  # position of the passage in the input
    position: int  # position of the sentence in its passage
    text: str
    terms: frozenset[str]
    word_set: frozenset[str]
    fact: bool  # states the kind of fact the question asks for
    # The words of its document title, its passage's headings and the heading line
    # above it in the passage (plain-text and PDF headings are lines of the text).
    context: frozenset[str]


# A clause after the question proper that sets its circumstances ("... when I travel
# abroad", "... if I am ill"): it says when the question applies, not what it asks for.
_CIRCUMSTANCE_RE = re.compile(
    r"^(?P<main>\S.*?\S)\s*,?\s+(?:when|whenever|if|while|wenn|falls|sobald)\s", re.IGNORECASE
)


def _main_clause(question: str) -> str:
    """``question`` without a trailing clause of circumstances: "What is the daily
    allowance when I travel?" asks for an amount, not a date."""
    match = _CIRCUMSTANCE_RE.match(question.strip())
    return match.group("main") if match else question


def _says(candidate: _Candidate, term: str, terms: set[str]) -> bool:
    """Whether the sentence has the question's ``term`` or a word equivalent to it that
    is not one of the question's other ``terms`` ("annual leave per year": "year" does
    not stand in for "annual")."""
    if term in candidate.terms:
        return True
    alternatives = equivalents(term) - terms
    return bool(alternatives & candidate.terms or alternatives & candidate.word_set)


def _heading_like(sentence: str, passage: Passage) -> bool:
    """A title or heading line, not an answer: the document title or one of the
    passage's headings, or a short unpunctuated line that is numbered like a section or
    mostly capitalised words ("3.2 Rail first", "Business Travel Policy")."""
    bare = sentence.strip().rstrip(":").strip()
    folded = bare.casefold()
    if folded == passage.document_title.strip().casefold() or folded in {
        h.strip().casefold() for h in passage.heading_path
    }:
        return True
    tokens = bare.split()
    if len(tokens) > _HEADING_MAX_WORDS or bare[-1:] in ".!?;":
        return False
    if _SECTION_NUMBER_RE.match(bare):
        return True
    letters = [t for t in tokens if t[:1].isalpha()]
    capitalised = sum(t[0].isupper() for t in letters)
    return len(letters) >= 2 and capitalised / len(letters) >= 0.6


def _candidates(passages: Sequence[Passage], kind: str | None) -> list[_Candidate]:
    candidates = []
    for rank, passage in enumerate(passages):
        around = content_terms(" ".join([passage.document_title, *passage.heading_path]))
        heading: set[str] = set()
        for position, sentence in enumerate(split_sentences(passage.text)):
            if _heading_like(sentence, passage):
                heading = content_terms(sentence)
                continue
            if len(words(sentence)) < _MIN_SENTENCE_WORDS:
                continue
            candidates.append(
                _Candidate(
                    rank=rank,
                    position=position,
                    text=sentence,
                    terms=frozenset(content_terms(sentence)),
                    word_set=frozenset(words(sentence)),
                    fact=states_fact(sentence, kind),
                    context=frozenset(around | heading),
                )
            )
    return candidates


def answer_extractive(
    question: str, passages: Sequence[Passage], *, max_sentences: int = 4
) -> Answer:
    """Answer by quoting the passage sentences that best answer ``question``.

    Contract:
    - Every sentence of the answer is copied from a passage (whitespace
      collapsed) and followed by ``[n]``, n numbering the distinct passages
      used, 1..m, in order of first use in the text. Headings and title lines
      are never quoted.
    - A sentence's score is the IDF-weighted share of the question's content
      terms it contains (its passage's title and headings count half), plus a
      bonus when it states the kind of fact asked for (amount, number, date),
      discounted by its passage's rank; sentences denying something ("never
      reimbursed") count less unless the question denies too.
    - One passage answers when it can: the best sentence's passage gives up to
      two sentences, plus the sentence nearest to them stating the asked-for
      fact when they state none. Another document's best sentence joins only
      when it scores nearly as well, or covers question terms the first did
      not. At most ``max_sentences`` sentences, no near duplicates; sentences
      of one passage in document order, passages in order of their best
      sentence.
    - With no passages, no content words in the question, or no sentence
      sharing a content word with it, returns ``no_answer()``; an answer whose
      evidence (``search.evidence``) says the documents do not answer the
      question (``search.confidence.answer_refused``) is ``no_answer()`` too.
    The answer carries its evidence, from which ``search.confidence`` reads the
    confidence.
    """
    terms = question_terms(question) or content_terms(question)
    if not passages or not terms or max_sentences < 1:
        return no_answer()
    kind = asked_fact(_main_clause(question))
    candidates = _candidates(passages, kind)
    if not candidates:
        return no_answer()

    # Terms found in every sentence (the product name, the topic of the whole
    # set) separate nothing; rare terms point at the answer. A term is found in a
    # sentence that has it or a word that says the same ("at least" for "minimum":
    # search.equivalents).
    total = len(candidates)
    weight = {
        term: math.log(1 + total / (1 + sum(_says(c, term, terms) for c in candidates)))
        for term in terms
    }
    question_weight = sum(weight.values())
    negative_heading = [bool(_NEGATION_RE.search(" ".join(p.heading_path))) for p in passages]
    question_negative = bool(_NEGATION_RE.search(question))

    def score(candidate: _Candidate, *, fact: bool = True) -> float:
        matched = {term for term in terms if _says(candidate, term, terms)}
        own = sum(weight[t] for t in matched) / question_weight
        around = sum(weight[t] for t in (terms & candidate.context) - matched)
        value = own + _CONTEXT_SHARE * around / question_weight
        if candidate.fact and fact:
            value += _FACT_BONUS
        if not question_negative:
            if negative_heading[candidate.rank]:
                value *= _NEGATIVE_HEADING
            elif _NEGATION_RE.search(candidate.text):
                value *= _NEGATIVE_SENTENCE
        return value / (1 + _RANK_DECAY * candidate.rank)

    # A sentence that shares a word with the question, or states the asked-for fact
    # under a heading that does ("It runs on the first Tuesday" under "Orientation day").
    scored = sorted(
        (
            (score(c), c)
            for c in candidates
            if any(_says(c, t, terms) for t in terms) or (c.fact and terms & c.context)
        ),
        key=lambda item: (-item[0], item[1].rank, item[1].position),
    )
    if not scored:
        return no_answer()

    # The passage that answers best as a whole leads: its best match, plus the bonus
    # when it states the asked-for fact anywhere (a table row apart from the sentence
    # that names it), with its rank's discount and its heading's.
    def passage_score(rank: int) -> float:
        best_match = max(score(c, fact=False) for _, c in scored if c.rank == rank)
        if not any(c.fact for c in candidates if c.rank == rank):
            return best_match
        bonus = _FACT_BONUS / (1 + _RANK_DECAY * rank)
        if negative_heading[rank] and not question_negative:
            bonus *= _NEGATIVE_HEADING
        return best_match + bonus

    # A question asking for an amount, a number or a date is answered from a passage
    # that states one, when one matches at least the cut-off share of the best ("the
    # daily meal allowance abroad": the per-diem table, not the rules for working
    # abroad, which state no amount).
    ranks = {c.rank for _, c in scored}
    if kind is not None:
        best_of = {r: max(v for v, c in scored if c.rank == r) for r in ranks}
        stating = {
            r
            for r in ranks
            if best_of[r] >= scored[0][0] * _RELATIVE_CUTOFF
            and any(c.fact for c in candidates if c.rank == r)
        }
        ranks = stating or ranks
    lead_rank = max(ranks, key=lambda r: (passage_score(r), -r))
    lead = next(item for item in scored if item[1].rank == lead_rank)
    scored.remove(lead)
    scored.insert(0, lead)
    chosen = _sentences_choose(scored, candidates, terms, kind, max_sentences)

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
    text = " ".join(parts)
    evidence = evidence_measure(question, passages, list(numbers), text)
    # Cited documents that disagree: the answer shows both, and is not "high".
    evidence["conflict"] = float(bool(conflicts_find(question, _cited_rows(citations))))
    if answer_refused(evidence):
        return Answer(text=NO_ANSWER_TEXT, citations=[], mode="no_answer", evidence=evidence)
    return Answer(text=text, citations=citations, mode="extractive", evidence=evidence)


def _cited_rows(citations: Sequence[Citation]) -> list[dict]:
    """The citations as ``search.conflicts.conflicts_find`` reads them."""
    return [
        {
            "number": c.number,
            "document_id": c.passage.document_id,
            "document_title": c.passage.document_title,
            "chunk_id": c.passage.chunk_id,
            "text": c.passage.text,
        }
        for c in citations
    ]


def evidence_attach(question: str, answer: Answer, passages: Sequence[Passage]) -> Answer:
    """``answer`` (an LLM's, citing some of ``passages``) with the evidence its confidence
    is read from, measured as for an extractive answer. An answer already measured, or
    citing none of ``passages``, is returned as it is."""
    if answer.evidence or not answer.citations:
        return answer
    position = {p.chunk_id: i for i, p in enumerate(passages)}
    cited = [
        position[c.passage.chunk_id] for c in answer.citations if c.passage.chunk_id in position
    ]
    if not cited:
        return answer
    evidence = evidence_measure(question, passages, cited, answer.text)
    evidence["conflict"] = float(bool(conflicts_find(question, _cited_rows(answer.citations))))
    return replace(answer, evidence=evidence)


def _sentences_choose(
    scored: list[tuple[float, _Candidate]],
    candidates: list[_Candidate],
    terms: set[str],
    kind: str | None,
    max_sentences: int,
) -> list[_Candidate]:
    """The sentences to quote (see :func:`answer_extractive`'s contract)."""
    best_score, best = scored[0]
    chosen = [best]

    def fits(candidate: _Candidate) -> bool:
        # Nearly the same words but other numbers is no duplicate: two versions of a
        # rule that disagree are shown both (search.conflicts).
        return len(chosen) < max_sentences and not any(
            _jaccard(candidate.word_set, c.word_set) >= _DUPLICATE_JACCARD
            and _numbers(candidate.word_set) == _numbers(c.word_set)
            for c in chosen
        )

    # The best passage: its next best sentences.
    for value, candidate in scored[1:]:
        if value < best_score * _RELATIVE_CUTOFF:
            break
        same = [c for c in chosen if c.rank == best.rank]
        if candidate.rank == best.rank and len(same) < _MAX_PER_PASSAGE and fits(candidate):
            chosen.append(candidate)
    # The asked-for fact, when the chosen sentences do not state it: the nearest
    # sentence of the same passage that does (a table row after its heading sentence).
    if kind is not None and not any(c.fact for c in chosen):
        stating = [c for c in candidates if c.rank == best.rank and c.fact]
        if stating:
            nearest = min(stating, key=lambda c: (abs(c.position - best.position), c.position))
            if fits(nearest):
                chosen.append(nearest)
    # Other documents: a source that answers nearly as well, or covers what the
    # chosen sentences leave out.
    covered = set().union(*(c.terms & terms for c in chosen))
    used = {best.rank}
    for value, candidate in scored[1:]:
        if value < best_score * _RELATIVE_CUTOFF or candidate.rank in used:
            continue
        close = value >= best_score * _SECOND_SOURCE
        adds = bool((candidate.terms & terms) - covered)
        if (close or adds) and fits(candidate):
            chosen.append(candidate)
            used.add(candidate.rank)
            covered |= candidate.terms & terms
    return chosen


def _numbers(word_set: frozenset[str]) -> frozenset[str]:
    return frozenset(w for w in word_set if any(ch.isdigit() for ch in w))


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
