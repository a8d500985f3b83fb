"""Conflicting sources: the passages cited for one question state different values for
the same thing (an amount, a duration, a percentage, a date, a version, a count).

Precision matters more than recall: a false alarm teaches people to ignore the notice.
So two statements conflict only when all of these hold:

- they come from passages of **different documents** (rows of one table, or the rates
  of one policy for different cases, are not a conflict);
- each is a sentence about the question: with its document's title it holds all the
  question's topic words but one in three, and itself at least one of them ("Andren
  area" is not answered by another town's "Area: 61.2 square kilometres"), and every
  name and number of the question ("the Stoneford Drensa 2"), and every capitalised
  word after the first (German nouns: "Lindenhof Logistik GmbH"), in the two together;
- each states exactly **one** value of the same kind and unit (a sentence listing
  several amounts is a table or a comparison, not a claim about one thing);
- the two sentences say the same around the value: their content words (numbers and
  months left out) differ by at most ``MAX_OTHER_WORDS`` word. Two versions of one rule
  do; "the monthly card limit is EUR 5,000" and "the card limit per trip is EUR 300" do
  not, nor do "full-time employees get 25 days" and "part-time employees get 15 days";
- a word of the question that names one document (is in its title) must also be in the
  other's title or sentence: "Andren area" is not answered by another town's "Area:
  61.2 square kilometres";
- a version or a date in documents with different titles is each document's own (the
  travel policy's "version 3.1" and the expense policy's "version 5.0"): only documents
  whose titles share at least half their words can disagree about those;
- the values differ.

Pure functions over the question and the answer's citations as they are stored
(``Question.citations``): conflicts are found again whenever an answer is shown, for
LLM and extractive answers alike, and for answers recorded before this existed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from search.evidence import name_terms, question_terms
from search.wording import content_terms, split_sentences, stem

# Two sentences state the same thing when their content words (numbers and months left
# out) differ by at most this many: one word ("receive" / "get") may change between two
# versions of a rule; two changed words are usually a condition ("full-time" /
# "part-time", "monthly" / "per trip") that makes them different rules.
MAX_OTHER_WORDS = 1
# Documents whose titles share this share of their words are versions of one document.
SAME_TITLE_JACCARD = 0.5
# Kinds of value that every document states about itself (its version, its date).
_OWN_KINDS = frozenset({"version", "date"})
# A sentence is about the question when, with its document's title, it holds all of
# the question's topic words but one in this many ("paid" / "pays" may differ).
MISSING_ONE_IN = 3

_NUMBER = r"\d{1,3}(?:[.,\u202f ]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fourteen": 14,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
}
_CURRENCIES = {
    "eur": "EUR",
    "€": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "usd": "USD",
    "$": "USD",
    "dollars": "USD",
    "gbp": "GBP",
    "£": "GBP",
    "pounds": "GBP",
    "chf": "CHF",
}
_CURRENCY = r"EUR|€|euros?|Euro|USD|\$|dollars|GBP|£|pounds|CHF"
_DURATION_UNITS = {
    "minute": "minutes",
    "hour": "hours",
    "day": "days",
    "business day": "business days",
    "working day": "business days",
    "calendar day": "days",
    "week": "weeks",
    "month": "months",
    "year": "years",
    "stunde": "hours",
    "tag": "days",
    "arbeitstag": "business days",
    "woche": "weeks",
    "monat": "months",
    "jahr": "years",
}
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "amount",
        re.compile(
            rf"(?P<cur1>{_CURRENCY})\s?(?P<n1>{_NUMBER})|(?P<n2>{_NUMBER})\s?(?P<cur2>{_CURRENCY})",
            re.IGNORECASE,
        ),
    ),
    ("percent", re.compile(rf"(?P<n>{_NUMBER})\s?(?:%|percent\b|per cent\b|prozent\b)", re.I)),
    (
        "date",
        re.compile(
            rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m>{_MONTHS})(?:\s+(?P<y>\d{{4}}))?\b",
            re.IGNORECASE,
        ),
    ),
    (
        "duration",
        re.compile(
            rf"\b(?P<n>{_NUMBER}|{'|'.join(_NUMBER_WORDS)})\s+"
            r"(?P<u>(?:business |working |calendar )?(?:minute|hour|day|week|month|year)s?|"
            r"(?:arbeits)?tage?n?|stunden?|wochen?|"
            r"monaten?|jahren?|jahre)\b",
            re.IGNORECASE,
        ),
    ),
    ("version", re.compile(r"\b(?:version|v)\s?(?P<n>\d+(?:\.\d+)+|\d+)\b", re.IGNORECASE)),
    # Any other number with the word it counts: "14 characters", "25 days" was taken above.
    ("count", re.compile(rf"\b(?P<n>{_NUMBER})\s+(?P<u>[^\W\d_]{{3,}})", re.IGNORECASE)),
)


@dataclass(frozen=True)
class Statement:
    """One cited passage's sentence and the value it states."""

    number: int  # the citation number, as in the answer's [n]
    document_id: int
    document_title: str
    chunk_id: int
    text: str  # the sentence, as the passage has it
    value: str  # the value as written ("EUR 65")


@dataclass(frozen=True)
class Conflict:
    """Different values for one thing in the passages of different documents."""

    kind: str  # "amount", "percent", "date", "duration", "version" or "count"
    topic: str  # the words the statements share with the question
    statements: tuple[Statement, ...]  # two or more, from different documents

    def as_dict(self) -> dict:
        return asdict(self)


def _number(text: str) -> float | None:
    word = _NUMBER_WORDS.get(text.lower())
    if word is not None:
        return float(word)
    text = text.replace("\u202f", "").replace(" ", "")
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", text):
        return float(re.sub(r"[.,]", "", text))
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+\.\d+", text):
        return float(text.replace(",", ""))
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d+", text):
        return float(text.replace(".", "").replace(",", "."))
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


def _unit(unit: str) -> str:
    unit = unit.lower()
    for stem_, name in sorted(_DURATION_UNITS.items(), key=lambda item: -len(item[0])):
        if unit.startswith(stem_):
            return name
    return unit


def values_of(sentence: str) -> dict[tuple[str, str], list[tuple[object, str]]]:
    """The values ``sentence`` states, by (kind, unit): [(normalised value, as written)]."""
    found: dict[tuple[str, str], list[tuple[object, str]]] = {}
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(sentence):
            if any(start < match.end() and match.start() < end for start, end in taken):
                continue  # "EUR 65" is not also a duration; a date not also a number
            groups = match.groupdict()
            if kind == "amount":
                currency = _CURRENCIES.get((groups["cur1"] or groups["cur2"]).lower(), "")
                key, value = (kind, currency), _number(groups["n1"] or groups["n2"])
            elif kind == "date":
                key = (kind, "")
                value = (groups["y"] or "", groups["m"].lower(), int(groups["d"]))
            elif kind == "duration":
                key, value = (kind, _unit(groups["u"])), _number(groups["n"])
            elif kind == "version":
                key, value = (kind, ""), groups["n"]
            elif kind == "count":
                key, value = (kind, stem(groups["u"])), _number(groups["n"])
            else:
                key, value = (kind, ""), _number(groups["n"])
            if value is None:
                continue
            taken.append((match.start(), match.end()))
            found.setdefault(key, []).append((value, match.group().strip()))
    return found


_MONTH_TERMS = frozenset(content_terms(_MONTHS.replace("|", " ")))


def _topic_terms(sentence: str) -> set[str]:
    """Content terms without numbers and months: what the sentence is about, not what
    it states."""
    return {
        t
        for t in content_terms(sentence)
        if not any(ch.isdigit() for ch in t) and t not in _MONTH_TERMS
    }


@dataclass(frozen=True)
class _Claim:
    statement: Statement
    kind: tuple[str, str]
    value: object
    terms: frozenset[str]


def _claims(question: set[str], names: set[str], citations: Iterable[Mapping]) -> list[_Claim]:
    claims = []
    for citation in citations:
        for sentence in split_sentences(citation.get("text", "")):
            terms = _topic_terms(sentence)
            around = terms | _topic_terms(citation.get("document_title", ""))
            if not question & terms or len(question - around) > len(question) // MISSING_ONE_IN:
                continue
            said = content_terms(" ".join([citation.get("document_title", ""), sentence]))
            if names - said:  # a name or number of the question is not this statement's
                continue
            for kind, values in values_of(sentence).items():
                distinct = {value for value, _ in values}
                if len(distinct) != 1:
                    continue  # several values of a kind: a table row or a comparison
                statement = Statement(
                    number=citation["number"],
                    document_id=citation["document_id"],
                    document_title=citation.get("document_title", ""),
                    chunk_id=citation.get("chunk_id", 0),
                    text=sentence,
                    value=values[0][1],
                )
                claims.append(_Claim(statement, kind, values[0][0], frozenset(terms)))
    return claims


def _other_subject(topic: set[str], first: _Claim, other: _Claim) -> bool:
    """Whether a word of the question names ``first``'s document (is in its title) but
    appears neither in ``other``'s title nor in its sentence: "Andren area" answered by
    Andren's page and by another town's "Area: 61.2 square kilometres"."""
    named = topic & _topic_terms(first.statement.document_title)
    return bool(named - _topic_terms(other.statement.document_title) - other.terms)


def _same_title(first: _Claim, other: _Claim) -> bool:
    a = frozenset(_topic_terms(first.statement.document_title))
    b = frozenset(_topic_terms(other.statement.document_title))
    return bool(a and b) and len(a & b) / len(a | b) >= SAME_TITLE_JACCARD


def conflicts_find(question: str, citations: Sequence[Mapping]) -> list[Conflict]:
    """The conflicts among ``citations`` (dicts with ``number``, ``document_id``,
    ``document_title``, ``chunk_id`` and ``text``, as ``Question.citations`` stores them)
    for ``question``: see the module docstring for when two statements conflict."""
    topic = question_terms(question) or content_terms(question)
    topic = {t for t in topic if not any(ch.isdigit() for ch in t)}
    if len({c.get("document_id") for c in citations}) < 2 or not topic:
        return []
    claims = _claims(topic, _subject_terms(question), citations)
    conflicts: list[Conflict] = []
    used: set[int] = set()
    for i, first in enumerate(claims):
        if i in used:
            continue
        group = [first]
        for j in range(i + 1, len(claims)):
            other = claims[j]
            if j in used or other.kind != first.kind:
                continue
            if other.statement.document_id in {c.statement.document_id for c in group}:
                continue
            if len(first.terms ^ other.terms) > MAX_OTHER_WORDS:
                continue
            if first.kind[0] in _OWN_KINDS and not _same_title(first, other):
                continue
            if _other_subject(topic, first, other) or _other_subject(topic, other, first):
                continue
            group.append(other)
            used.add(j)
        if len({c.value for c in group}) < 2:
            continue
        shared = set(topic).intersection(*(c.terms for c in group))
        words = [w for w in re.findall(r"[^\W_]+", first.statement.text) if _in(w, shared)]
        conflicts.append(
            Conflict(
                kind=first.kind[0],
                topic=" ".join(dict.fromkeys(w.lower() for w in words)),
                statements=tuple(c.statement for c in group),
            )
        )
    return conflicts


def _subject_terms(question: str) -> set[str]:
    """The question's names and numbers (``search.evidence.name_terms``), and in any
    language every capitalised word after the first: German capitalises its nouns, and
    a statement about "Kernarbeitszeit bei der Moorbach Logistik GmbH" is not one about
    the Lindenhof Logistik GmbH. Strict on purpose: a conflict must be about the
    question's subject."""
    tokens = re.findall(r"[^\W_]+", question)
    capitalised = {stem(t) for t in tokens[1:] if t[0].isupper()}
    return name_terms(question) | (capitalised & content_terms(question))


def _in(word: str, terms: set[str]) -> bool:
    return bool(content_terms(word) & terms)
