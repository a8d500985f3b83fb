"""Questions about attributes and numbers, answered from the facts table.

"Which rowers are taller than 1.95 m?", "products under 50 EUR launched after 2020",
"all policies approved in 2024", "Orte in Polen mit mehr als 100.000 Einwohnern":
``question_parse`` reads the conditions on numbers (comparator, number, unit, and the
attribute they are about, from the unit and the question's words) and the other words
that say which entities are meant (a country, a kind, a brand). ``facts_match`` finds
the entities whose facts (``ingestion.facts``) satisfy every condition, among the
documents the asker may read, and keeps those whose text also has the other words;
``facts_answer`` lists them with a link to the passage each fact was read from, and
``facts_promote`` puts their passages first in a fused ranking: one call from
``search.retrieval.hybrid_search``.

Facts are read only through the workspaces searched and the asker's reader scope
(``workspaces.readers.ReaderScope``), like chunks, and row-level security applies to
the table as to every table with a workspace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import Stemmer
from django.db.models import Q
from django.urls import reverse

from ingestion.attributes import TIME_ATTRIBUTES
from ingestion.index import Ranked
from ingestion.models import Chunk, Fact
from ingestion.quantities import MEASURE_WORDS, NUMBER, SCALES, UNIT, UNIT_KINDS, quantity_parse
from search.fact_words import (
    ATTRIBUTE_CUES,
    BETWEEN,
    COMPARATORS,
    COUNTRIES,
    GERMAN_MARKERS,
    STOP_WORDS,
    TIME_ONLY,
)
from workspaces.readers import ReaderScope

# Entities put first in a ranking at most: as many as one ranker contributes.
MAX_PROMOTED = 50
# Documents whose words are compared with the question's at most; a filter matching
# more than this is too broad to promote anything in particular.
MAX_CANDIDATE_DOCUMENTS = 2000
# A year in a question: a number of three or four digits in this range.
YEAR_RANGE = (500, 2100)

_CURRENCY = r"€|\$|£|\b(?:EUR|USD|GBP|CHF)\b"
_SCALE = "|".join(sorted(SCALES, key=len, reverse=True))
_AMOUNT = (
    rf"(?:(?:{_CURRENCY})\s*)?{NUMBER}(?:\s*(?:{_SCALE})\b\.?)?"
    rf"(?:\s*(?:{UNIT}|{_CURRENCY})(?![a-zäöüß]))?"
)
_COMPARATOR_RE = re.compile(
    r"(?<![\w-])(?P<cmp>"
    + "|".join(re.escape(c) for c in sorted(COMPARATORS, key=len, reverse=True))
    + rf")\s+(?:the\s+year\s+|dem\s+jahr\s+)?(?P<amount>{_AMOUNT})"
    # "50 mg per tablet", "20 € pro Packung": what the amount is measured by, not a kind.
    + r"(?:\s+(?:per|pro|je)\s+[^\W\d_]+)?"
    # The word after it, not consumed: it may start the next comparator ("... taller").
    + r"(?=(?P<noun>\s+[^\W\d_]{3,}))?",
    re.IGNORECASE,
)
_BETWEEN_RE = re.compile(
    rf"(?<![\w-])(?:{'|'.join(BETWEEN)})\s+(?P<low>{_AMOUNT})\s+(?:and|und)\s+(?P<high>{_AMOUNT})",
    re.IGNORECASE,
)
_BARE_YEAR_RE = re.compile(r"(?<![\w.,])(1[0-9]{3}|20[0-9]{2})(?![\w.,]*\d)")
_WORD_RE = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


@dataclass(frozen=True)
class Condition:
    """A number an attribute must satisfy: ``low`` < or <= value < or <= ``high``."""

    attribute: str | None  # None: any attribute of ``kind`` (a year: any date)
    kind: str  # "year", "length", "weight", "area", "money", "count"
    low: float | None = None
    high: float | None = None
    inclusive: bool = False
    unit: str = ""  # a currency, when one was named
    text: str = ""  # the phrase as asked
    # A count of a thing named after the number ("more than 500 contributors"): the
    # stem the fact's attribute (its label) must contain.
    noun: str = ""

    def holds(self, *, attribute: str, kind: str, number: float | None, unit: str) -> bool:
        """Whether one fact satisfies the condition: ``q()`` in Python."""
        if number is None:
            return False
        if self.noun:
            if self.noun not in attribute or kind not in ("count", "number"):
                return False
        elif self.attribute:
            if attribute != self.attribute:
                return False
        elif (attribute not in TIME_ATTRIBUTES) if self.kind == "year" else (kind != self.kind):
            return False
        if self.unit and unit != self.unit:
            return False
        if self.low is not None and self.low == self.high:
            return number == self.low
        if self.low is not None and (
            number < self.low or (number == self.low and not self.inclusive)
        ):
            return False
        return self.high is None or number < self.high or (number == self.high and self.inclusive)

    def q(self) -> Q:
        if self.noun:
            query = Q(attribute__contains=self.noun, kind__in=("count", "number"))
        elif self.attribute:
            query = Q(attribute=self.attribute)
        elif self.kind == "year":
            query = Q(attribute__in=sorted(TIME_ATTRIBUTES))
        else:
            query = Q(kind=self.kind)
        query &= Q(number__isnull=False)
        if self.low is not None and self.low == self.high:
            return query & Q(number=self.low)
        if self.low is not None:
            query &= Q(number__gte=self.low) if self.inclusive else Q(number__gt=self.low)
        if self.high is not None:
            query &= Q(number__lte=self.high) if self.inclusive else Q(number__lt=self.high)
        if self.unit:
            query &= Q(unit=self.unit)
        return query


@dataclass(frozen=True)
class FactQuestion:
    conditions: tuple[Condition, ...]
    # Groups of words, each of which a matching entity's page must contain (one word
    # of the group: "towns or cities", "Polish"/"Poland"/"Polen").
    terms: tuple[tuple[str, ...], ...] = ()
    # False when the only conditions are years named without a comparator or an
    # attribute ("the 2014 backpack"): too weak to bring in documents retrieval did not
    # find, strong enough to reorder those it did.
    strong: bool = True


@dataclass
class FactMatch:
    """An entity that satisfies the question, with the facts that show it."""

    entity: str
    document_id: int
    document_title: str
    chunk_id: int
    facts: list[tuple[str, str]] = field(default_factory=list)  # (label, value as written)

    @property
    def url(self) -> str:
        return reverse("ingestion:document", args=[self.document_id]) + f"#chunk-{self.chunk_id}"


def _is_german(question: str) -> bool:
    words = set(_WORD_RE.findall(question.lower()))
    return len(words & GERMAN_MARKERS) >= 2 or bool(re.search(r"[äöüß]", question.lower()))


def _cued(question: str, attributes: Sequence[str]) -> str | None:
    lowered = question.lower()
    for attribute in attributes:
        for cue in ATTRIBUTE_CUES.get(attribute, ()):
            if re.search(rf"(?<![\w]){re.escape(cue)}", lowered):
                return attribute
    return None


def _is_year(amount: str, number: float) -> bool:
    return (
        re.fullmatch(r"\d{3,4}", amount.strip()) is not None
        and YEAR_RANGE[0] <= number <= YEAR_RANGE[1]
    )


# Points in time a question may name by its words ("born", "launched"), in this order.
_TIME_CUED = ("born", "died", "founded", "launched", "approved", "built")
_AMOUNT_ATTRIBUTES = {
    "length": ("height", "elevation", "length"),
    "weight": ("weight",),
    "area": ("area",),
    "money": ("price", "revenue"),
    "count": ("population", "employees"),
}


def _noun_stem(noun: str) -> str:
    """The stem a label naming ``noun`` contains: "contributor" of "contributors",
    "mitwirk" of "Mitwirkenden"; "" for a word that names nothing countable here."""
    word = noun.strip().lower()
    if word in STOP_WORDS or word in _COMPARATOR_WORDS or word in UNIT_WORDS:
        return ""
    if word in MEASURE_WORDS or not word.isalpha():
        return ""
    stem = min((_english.stemWord(word), _german.stemWord(word)), key=len)
    return stem if len(stem) >= 4 else ""


def _condition(
    question: str, cmp: str, amount: str, german: bool, noun: str = ""
) -> Condition | None:
    quantity = quantity_parse(amount, decimal_comma=german)
    if quantity is None or quantity.number is None:
        return None
    op = COMPARATORS[cmp.lower()]
    number = quantity.number
    low = high = None
    if op in (">", ">="):
        low = number
    elif op in ("<", "<="):
        high = number
    else:
        low = high = number
    inclusive = op in (">=", "<=")
    time_attributes = _TIME_CUED
    counted = cmp.lower() not in TIME_ONLY and _noun_stem(noun) and not _cued(question, _TIME_CUED)
    if quantity.kind == "count" and _is_year(amount, number) and not counted:
        return Condition(_cued(question, time_attributes), "year", low, high, inclusive)
    if cmp.lower() in TIME_ONLY:
        return None  # "in 12 kg", "of 40": not a point in time
    if quantity.kind in ("count", "number"):
        money = _cued(question, ("price", "revenue"))
        attribute = _cued(question, ("population", "employees")) or money
        if attribute is None:
            stem = _noun_stem(noun)
            if stem:  # "more than 500 contributors": a count of what the label names
                return Condition(None, "count", low, high, inclusive, noun=stem)
            return None  # a bare number about nothing named: no condition
        kind = "money" if attribute == money else "count"
        return Condition(attribute, kind, low, high, inclusive)
    attribute = _cued(question, _AMOUNT_ATTRIBUTES.get(quantity.kind, ()))
    unit = quantity.unit if quantity.kind == "money" else ""
    return Condition(attribute, quantity.kind, low, high, inclusive, unit)


@lru_cache(maxsize=4096)
def _stems(word: str) -> frozenset[str]:
    word = word.lower()
    return frozenset({word, _english.stemWord(word), _german.stemWord(word)})


_english = Stemmer.Stemmer("english")
_german = Stemmer.Stemmer("german")
_COUNTRY_OF = {stem: group for group in COUNTRIES for name in group for stem in _stems(name)}
_CUE_STEMS = frozenset(
    stem for cues in ATTRIBUTE_CUES.values() for cue in cues for stem in _stems(cue.split()[0])
)
UNIT_WORDS = frozenset(unit.lower() for unit in UNIT_KINDS)
_COMPARATOR_WORDS = frozenset(word for c in [*COMPARATORS, *BETWEEN] for word in c.split())


def _term_groups(rest: str) -> tuple[tuple[str, ...], ...]:
    # "Go-Projekte", "C-Compiler": each part is a word of its own.
    words = [part for word in _WORD_RE.findall(rest) for part in word.split("-") if part]
    groups: list[list[str]] = []
    joined = False
    for word in words:
        lowered = word.lower()
        if lowered in ("or", "oder"):
            joined = bool(groups)
            continue
        stems = _stems(lowered)
        if lowered in STOP_WORDS or lowered in _COMPARATOR_WORDS or stems & _CUE_STEMS:
            joined = False
            continue
        country = next((_COUNTRY_OF[s] for s in stems if s in _COUNTRY_OF), None)
        alternatives = list(country) if country else [lowered]
        if joined:
            groups[-1].extend(alternatives)
        else:
            groups.append(alternatives)
        joined = False
    return tuple(tuple(dict.fromkeys(group)) for group in groups)


def question_parse(question: str) -> FactQuestion | None:
    """The conditions on numbers ``question`` asks for and its other words; None when
    it sets no condition on a number (most questions: then the facts are not asked)."""
    german = _is_german(question)
    conditions: list[Condition] = []
    rest = question
    for match in _BETWEEN_RE.finditer(question):
        high = _condition(question, "at most", match.group("high"), german)
        low_text = match.group("low")
        if re.fullmatch(NUMBER, low_text.strip()):
            # "between 20 and 50 EUR": the unit written once, after the second number.
            low_text = re.sub(NUMBER, low_text.strip(), match.group("high"), count=1)
        low = _condition(question, "at least", low_text, german)
        if low and high and low.kind == high.kind:
            conditions.append(
                Condition(low.attribute, low.kind, low.low, high.high, True, low.unit, match[0])
            )
            rest = rest.replace(match[0], " ")
    for match in _COMPARATOR_RE.finditer(rest):
        noun = match.group("noun") or ""
        condition = _condition(question, match.group("cmp"), match.group("amount"), german, noun)
        if condition:
            conditions.append(condition)
            # The counted noun is the attribute; any other word after the amount stays a
            # word the entity's page must have.
            rest = rest.replace(match[0] + noun if condition.noun else match[0], " ", 1)
    for match in _BARE_YEAR_RE.finditer(rest):
        number = float(match.group(1))
        if YEAR_RANGE[0] <= number <= YEAR_RANGE[1]:
            attribute = _cued(question, _TIME_CUED)
            conditions.append(Condition(attribute, "year", number, number, text=match[0]))
            rest = rest.replace(match[0], " ", 1)
    if not conditions:
        return None
    strong = any(c.attribute or c.low != c.high or c.kind != "year" for c in conditions)
    return FactQuestion(conditions=tuple(conditions), terms=_term_groups(rest), strong=strong)


def _words_of(texts: Sequence[str]) -> frozenset[str]:
    words = {word.lower() for text in texts for word in _WORD_RE.findall(text)}
    return frozenset(stem for word in words for stem in _stems(word))


def _matches(group: Sequence[str], words: frozenset[str], text: str) -> bool:
    for alternative in group:
        if " " in alternative:
            if alternative in text:
                return True
        elif _stems(alternative) & words:
            return True
    return False


def facts_match(
    question: FactQuestion,
    *,
    workspace_ids: Sequence[int],
    readers: ReaderScope,
    limit: int = MAX_PROMOTED,
    rank_of: dict[int, int] | None = None,
) -> list[FactMatch]:
    """Entities of readable documents whose facts satisfy every condition and whose
    page has the question's other words (``terms_missed``); ordered by ``rank_of``
    (document id -> rank in the retrieval's ranking), then by document. At most
    ``limit``."""
    if not workspace_ids:
        return []
    # The workspaces' facts and those of documents shared into them, under their readers.
    scope = Fact.objects.filter(readers.within_q(workspace_ids)).filter(readers.q("document__"))
    found: dict[tuple[int, str], FactMatch] | None = None
    for condition in question.conditions:
        rows = scope.filter(condition.q()).values_list(
            "document_id", "entity", "chunk_id", "label", "value_text", "document__title"
        )[: MAX_CANDIDATE_DOCUMENTS * 4]
        these: dict[tuple[int, str], FactMatch] = {}
        for document_id, entity, chunk_id, label, value, title in rows:
            key = (document_id, entity)
            if key not in these:
                these[key] = FactMatch(entity, document_id, title, chunk_id)
            these[key].facts.append((label, value))
        if found is None:
            found = these
        else:
            for key in list(found):
                if key in these:
                    found[key].facts.extend(these[key].facts)
                else:
                    del found[key]
        if not found:
            return []
    if not found or len({key[0] for key in found}) > MAX_CANDIDATE_DOCUMENTS:
        return []
    matches = _with_terms(list(found.values()), question.terms)
    rank_of = rank_of or {}
    matches.sort(key=lambda m: (rank_of.get(m.document_id, len(rank_of) + 1), m.document_id))
    return matches[:limit]


@dataclass(frozen=True)
class PageWords:
    """What the word groups of a question are checked against: a page's stems, its
    lower-case text (for names of several words) and its language."""

    stems: frozenset[str]
    text: str
    language: str = ""


def terms_missed(pages: dict[int, PageWords], terms: tuple[tuple[str, ...], ...]) -> dict[int, int]:
    """For each candidate page, how many of the question's word groups it lacks, among
    those that some candidate in the same language has: a word no candidate in a
    language has (a German noun against English pages, "settlements") cannot decide
    between them and is left out rather than failing them all."""
    known: dict[str, list[tuple[str, ...]]] = {}
    for page in pages.values():
        if page.language not in known:
            same = [p for p in pages.values() if p.language == page.language]
            known[page.language] = [
                group for group in terms if any(_matches(group, p.stems, p.text) for p in same)
            ]
    return {
        key: sum(not _matches(group, page.stems, page.text) for group in known[page.language])
        for key, page in pages.items()
    }


def terms_kept(missed: dict[int, int]) -> set[int]:
    """The candidates that lack none of the word groups asked of their language's pages
    (none when no candidate has them all: "the 2001 tent from Quillon" is no Quillon
    kettle of 2001 and no other brand's tent)."""
    return {key for key, count in missed.items() if count == 0}


def _with_terms(matches: list[FactMatch], terms: tuple[tuple[str, ...], ...]) -> list[FactMatch]:
    """The matches whose page has the question's other words (``terms_missed``)."""
    if not terms:
        return matches
    texts: dict[int, list[str]] = {}
    languages: dict[int, str] = {}
    for document_id, text, language in Chunk.objects.filter(
        document_id__in={m.document_id for m in matches}
    ).values_list("document_id", "text", "document__language"):
        texts.setdefault(document_id, []).append(text)
        languages[document_id] = language or ""
    pages = {
        index: PageWords(
            _words_of([*texts.get(m.document_id, []), m.document_title, m.entity]),
            " ".join(texts.get(m.document_id, [])).lower(),
            languages.get(m.document_id, ""),
        )
        for index, m in enumerate(matches)
    }
    kept = terms_kept(terms_missed(pages, terms))
    return [match for index, match in enumerate(matches) if index in kept]


def facts_answer(
    question: str, *, workspace_ids: Sequence[int], readers: ReaderScope, limit: int = 20
) -> list[FactMatch]:
    """The entities that answer a filter or range question, each with the facts that
    satisfy it and a link to the passage they were read from; [] when the question
    sets no condition on a number or nothing readable satisfies it."""
    parsed = question_parse(question)
    if parsed is None:
        return []
    return facts_match(parsed, workspace_ids=workspace_ids, readers=readers, limit=limit)


def facts_promote(
    query: str,
    fused: Sequence[Ranked],
    *,
    workspace_ids: Sequence[int],
    readers: ReaderScope,
) -> list[Ranked]:
    """``fused`` with the passages of the entities that satisfy ``query``'s conditions on
    numbers first (in the order ``fused`` had their documents, then by document), each
    by the chunk its fact was read from. Unchanged when the query sets no condition."""
    parsed = question_parse(query)
    if parsed is None:
        return list(fused)
    chunk_documents = dict(
        Chunk.objects.filter(pk__in=[item.chunk_id for item in fused]).values_list(
            "id", "document_id"
        )
    )
    rank_of: dict[int, int] = {}
    for rank, item in enumerate(fused):
        document_id = chunk_documents.get(item.chunk_id)
        if document_id is not None:
            rank_of.setdefault(document_id, rank)
    matches = facts_match(parsed, workspace_ids=workspace_ids, readers=readers, rank_of=rank_of)
    if not parsed.strong:
        matches = [match for match in matches if match.document_id in rank_of]
    if not matches:
        return list(fused)
    top = max((item.score for item in fused), default=0.0)
    promoted: list[Ranked] = []
    seen: set[int] = set()
    for position, match in enumerate(matches):
        if match.chunk_id not in seen:
            seen.add(match.chunk_id)
            promoted.append(Ranked(match.chunk_id, top + len(matches) - position))
    return promoted + [item for item in fused if item.chunk_id not in seen]
