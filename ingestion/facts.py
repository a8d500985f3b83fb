"""Facts: the attribute/value pairs a document states, read at indexing time.

``facts_extract`` reads them from the forms documents use for attributes:

- ``Key: value`` lines, bulleted or bold (``- **Born:** 12 May 1964``);
- Markdown tables: a two-column table is the page's own attributes (``| Height |
  1.78 m |``); a wider one has a row per entity, keyed by its first cell;
- spreadsheet and CSV rows, which the parsers give as ``Name: Ann; Height: 1.80 m``
  (``ingestion.parsers.tabular``): the row's first value is its entity;
- profile lines of ``;``-separated attributes (``born 1999; height 1.78 metres``);
- a few prose forms of general use ("(born 1964)", "founded in 1120", "a population of
  about 12,400", "stands 1.96 metres tall").

The entity of a page's own attributes is its subject: the document's title. Names and
units are normalised by ``ingestion.quantities``. ``facts_write`` replaces the
document's facts with those of its new chunks, in the caller's transaction; each fact
points at the chunk that holds its line, for the citation.

Markdown and plain-text files are read from the original, where a table's cells and a
line's end are still there (the Markdown parser turns a table row into words); other
formats from their parsed sections.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.db import connection

from ingestion.attributes import TIME_ATTRIBUTES, attribute_known, attribute_normalize, fold
from ingestion.models import Chunk, Document, Fact
from ingestion.parsers.base import ParsedDocument
from ingestion.parsers.encoding import decode_text
from ingestion.quantities import (
    MEASURE_WORDS,
    NUMBER,
    SCALES,
    UNIT_KINDS,
    YEAR,
    value_normalize,
)

# A huge sheet states facts by the hundred thousand; a question's filter needs the
# document, not all of them. Keeps one document's facts to a bounded insert.
MAX_FACTS_PER_DOCUMENT = 5000
# A label is a short name, not a sentence that happens to contain a colon.
MAX_LABEL_WORDS = 6
# The same without a colon (a dash, "=", aligned columns): fewer words, as a sentence
# with a dash in it would otherwise pass for one.
MAX_SEPARATED_LABEL_WORDS = 4
MAX_VALUE_CHARS = 300
MAX_VALUE_WORDS = 12
# Headers of a two-column table that say "these rows are the page's attributes".
_ATTRIBUTE_HEADERS = {
    "attribute",
    "property",
    "key",
    "field",
    "fact",
    "facts",
    "spec",
    "specs",
    "specification",
    "specifications",
    "merkmal",
    "eigenschaft",
    "attribut",
    "angabe",
    "name",
    "",
}
_VALUE_HEADERS = {"", "value", "values", "wert", "werte", "details", "detail"}
_TEXT_MIME_TYPES = ("text/markdown", "text/plain", "text/x-markdown")

_KEY_VALUE_RE = re.compile(
    r"^\s*(?:[-*+•]\s+)?(?:\*\*|__)?(?P<key>[^\W\d][^:|]{0,80}?)(?:\*\*|__)?\s*::?\s*"
    r"(?:\*\*|__)?\s*(?P<value>\S.*?)\s*$"
)
# The other separators people put between a key and its value: a dash with spaces
# around it ("Founded \u2013 1998"), "=", an arrow, a tab or a run of spaces (the aligned
# columns of a fact sheet). The key holds no sentence punctuation, so a sentence with a
# dash in it is not read as one.
_SEPARATED_RE = re.compile(
    r"^\s*(?:[-*+•]\s+)?(?:\*\*|__)?(?P<key>[^\W\d][^:|=→.!?;,]{0,60}?)(?:\*\*|__)?"
    r"(?:\s+[\u2013\u2014-]{1,2}\s+|\s*(?:=>?|→|->)\s*|\s*\t\s*|\s{2,})"
    r"(?:\*\*|__)?\s*(?P<value>[^\s=→].*?)\s*$"
)
# A row of a wiki template ("| founded = 1998", "|revenue=€2.4m").
_TEMPLATE_ROW_RE = re.compile(r"^\s*\|\s*(?P<key>[^\W\d][^=|]{0,60}?)\s*=\s*(?P<value>[^|]*?)\s*$")
_SEGMENT_RE = re.compile(
    rf"^(?P<key>[^\W\d][^\d:;]{{1,40}}?)\s+(?P<value>(?:[€$£]\s*)?{NUMBER}.*)$"
)
# Prose forms of general use, each read once per paragraph; group 1 is the value.
_SCALE_WORDS = "|".join(sorted(SCALES, key=len, reverse=True))
_LEAD = r"(?:on\s+|in\s+|am\s+|im\s+jahr\s+|im\s+|around\s+|about\s+|um\s+)?"
_SOME = (
    r"(?:about\s+|around\s+|roughly\s+|some\s+|approximately\s+|approx\.\s*|c\.\s*|ca\.\s*"
    r"|rund\s+|etwa\s+|knapp\s+)?"
)
_MONEY = (
    rf"(?:(?:€|\$|£|\b(?:EUR|USD|GBP|CHF)\b)\s*{NUMBER}(?:\s*(?:{_SCALE_WORDS})\b\.?)?"
    rf"|{NUMBER}(?:\s*(?:{_SCALE_WORDS})\b\.?)?\s*(?:€|\$|£|EUR\b|USD\b|GBP\b|CHF\b|euros?\b|dollars?\b))"
)
_LENGTH = rf"{NUMBER}\s*(?:m|metres|meters|metre|meter|metern|ft|feet)\b\.?(?:\s*\([^)]{{1,30}}\))?"
_SCALED = rf"{NUMBER}(?:\s+(?:thousand|million|tausend|millionen))?"
_PROSE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (attribute, re.compile(pattern, re.IGNORECASE))
    for attribute, pattern in [
        ("born", rf"\((?:born|b\.|geb\.|geboren)\s+(?:[^)]*?\s)?{YEAR}\)"),
        ("born", rf"\b(?:born|geboren)\s+{_LEAD}(?:[^.;,]{{0,20}}?\s)?{YEAR}"),
        ("died", rf"\b(?:died|gestorben)\s+{_LEAD}(?:[^.;,]{{0,20}}?\s)?{YEAR}"),
        ("founded", rf"\b(?:founded|established|gegründet)\s+{_LEAD}{YEAR}"),
        (
            "founded",
            rf"\b(?:first\s+(?:mentioned|recorded|documented)|erstmals\s+erwähnt)"
            rf"\s+{_LEAD}{YEAR}",
        ),
        (
            "launched",
            rf"\b(?:launched|released|introduced|first\s+sold|went\s+on\s+sale|erschienen)\b[^.;]{{0,80}}?\bin\s+{YEAR}",
        ),
        (
            "approved",
            rf"\b(?:approved|adopted|genehmigt|beschlossen)\s+{_LEAD}"
            rf"(?:[^.;,]{{0,20}}?\s)?{YEAR}",
        ),
        ("population", rf"\bpopulation\s+of\s+{_SOME}({_SCALED})"),
        (
            "population",
            rf"\b({_SOME}{_SCALED})\s+(?:people\s+)?(?:inhabitants|residents|einwohner)",
        ),
        ("area", rf"\b({NUMBER}\s*(?:km²|km2|sq\.?\s*km|square\s+kilomet(?:re|er)s|hectares))"),
        (
            "elevation",
            rf"\b({NUMBER}\s*(?:m|metres|meters))\s+(?:above\s+sea\s+level|über\s+"
            rf"(?:dem\s+)?meer)",
        ),
        (
            "height",
            r"\b(?:stands|is)\s+((?:[^.;]|\.\d){1,30}?(?:\bm|metres|meters|cm|centimetres|centimeters|\)))"
            r"\s+tall\b",
        ),
        (
            "price",
            rf"\b(?:costs?|priced\s+at|sells\s+for|kostet|kostete)\s+{_SOME}"
            rf"((?:€|\$|£|EUR|USD|GBP|CHF)\s*{NUMBER}|{NUMBER}\s*(?:€|\$|£|EUR|USD|GBP|CHF|euros?|dollars?))",
        ),
        (
            "price",
            rf"\b(?:price|preis)\s+(?:is|was|of|von|beträgt|liegt\s+bei)\s+{_SOME}({_MONEY})",
        ),
        (
            "weight",
            rf"\b(?:weighs|wiegt)\s+{_SOME}({NUMBER}\s*(?:kg|g|kilograms?|grams?|t|tonnes?|lbs?))\b",
        ),
        # German puts the verb last ("wurde 1998 in Bremen gegründet"); English may put
        # words between it and the year ("founded by two engineers in 1998").
        ("founded", rf"{YEAR}\s+(?:[^.;,]{{0,40}}?\s)?(?:gegründet|erbaut)\b"),
        (
            "founded",
            rf"\b(?:founded|established|set\s+up|incorporated|gegründet|gründung)\b"
            rf"[^.;]{{0,40}}?\b(?:in|im\s+jahr|erfolgte|since|seit)\s+{YEAR}",
        ),
        (
            "founded",
            rf"\b(?:(?:trading|in\s+business|operating)\s+since|dates\s+back\s+to|goes\s+back\s+to)"
            rf"\s+{YEAR}",
        ),
        (
            "launched",
            rf"\b(?:first|initial|erste)\s+(?:public\s+|stable\s+)?(?:release|version)\b[^.;]{{0,40}}?"
            rf"\b(?:in|erschien|im\s+jahr)\s+{YEAR}",
        ),
        ("launched", rf"\b(?:published|came\s+out)\b[^.;]{{0,30}}?\bin\s+{YEAR}"),
        ("launched", rf"\b(?:on\s+the\s+market\s+since|erschien|erschienen\s+im\s+jahr)\s+{YEAR}"),
        (
            "launched",
            rf"{YEAR}\s+(?:[^.;,]{{0,40}}?\s)?(?:erschienen|veröffentlicht|vorgestellt|vom\s+stapel)\b",
        ),
        (
            "approved",
            rf"\b(?:received|granted|obtained|erhielt)\s+(?:its\s+|the\s+|die\s+)?(?:marketing\s+)?"
            rf"(?:authori[sz]ation|approval|zulassung)\s+{_LEAD}{YEAR}",
        ),
        (
            "approved",
            rf"\b(?:authori[sz]ed|cleared|licensed)\b[^.;]{{0,30}}?\bin\s+{YEAR}",
        ),
        ("approved", rf"{YEAR}\s+(?:[^.;,]{{0,20}}?\s)?(?:zugelassen|genehmigt|beschlossen)\b"),
        ("built", rf"\b(?:built|constructed|completed|gebaut|erbaut)\s+{_LEAD}{YEAR}"),
        (
            "employees",
            rf"\b(?:employs|employed|beschäftigt)\s+{_SOME}({NUMBER})\b(?!\s*(?:%|per\s*cent|prozent))",
        ),
        (
            "employees",
            rf"\b(?:workforce|headcount|staff|belegschaft)\b\s+(?:of|numbers|totals|is|was|umfasst|"
            rf"zählt|von)\s+{_SOME}({NUMBER})",
        ),
        (
            "employees",
            rf"(?<![\d.,])({NUMBER})\s+(?:employees|staff|workers|mitarbeiter|mitarbeitende|"
            rf"beschäftigte)",
        ),
        (
            "revenue",
            rf"\b(?:revenue|revenues|sales|turnover|umsatz)\b[^.;]{{0,40}}?"
            rf"\b(?:of|to|reached|was|at|totalled|totaled|bei|von|betrug|erreichte)\s+{_SOME}({_MONEY})",
        ),
        ("revenue", rf"({_MONEY})\s+(?:in\s+)?(?:revenue|sales|turnover|umsatz)\b"),
        (
            "length",
            rf"\b(?:is|measures|measuring|ist|misst)\s+{_SOME}({_LENGTH})\s*"
            rf"(?:long|in\s+length|overall|lang)\b",
        ),
        (
            "content",
            rf"\b(?:contains?|containing|enthält|enthalten)\s+{_SOME}({NUMBER}\s*"
            rf"(?:µg|mcg|mg|g|kg|ml|l|micrograms?|milligrams?|grams?|kilograms?)\b)",
        ),
        ("length", rf"\b(?:length|länge)\s+(?:of|von|is|beträgt)\s+{_SOME}({_LENGTH})"),
    ]
]
# The prose forms that can match a line without a digit; every other one needs a number
# or a year (``tests/ingestion/test_facts_forms.py`` proves it from the patterns), so a
# line without a digit (two thirds of a document's lines) is tried with these alone.
_PROSE_WITHOUT_DIGITS = [(a, pattern) for a, pattern in _PROSE_PATTERNS if a == "height"]
_DIGIT_RE = re.compile(r"\d")
# "has 1,204 contributors", "hat 300 Betten": a count of something named after it; the
# noun is the fact's label.
_COUNT_NOUN_RE = re.compile(
    rf"\b(?:has|have|had|counts?|hat|haben|zählt)\s+{_SOME}(?P<value>{NUMBER})\s+"
    rf"(?P<label>[^\W\d_]{{4,}})\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class FactDraft:
    entity: str
    label: str
    value: str
    # The line it was read from, to find its chunk.
    source: str


def _clean(text: str) -> str:
    return " ".join(re.sub(r"(\*\*|__|`)", "", text).split()).strip(" |")


def _table_cells(line: str) -> list[str]:
    return [_clean(cell) for cell in line.strip().strip("|").split("|")]


def _is_separator(cells: Sequence[str]) -> bool:
    return all(re.fullmatch(r":?-{2,}:?", cell.replace(" ", "")) for cell in cells if cell)


def _table_facts(lines: list[str], *, subject: str) -> Iterator[FactDraft]:
    template = [_TEMPLATE_ROW_RE.match(line) for line in lines]
    if all(template):
        # A wiki infobox's source: one "| key = value" row per attribute.
        for match, line in zip(template, lines, strict=True):
            key = _clean(match.group("key").replace("_", " "))  # type: ignore[union-attr]
            value = _clean(match.group("value"))  # type: ignore[union-attr]
            if key and value and len(value) <= MAX_VALUE_CHARS:
                yield FactDraft(subject, key, value, line)
        return
    rows = [(_table_cells(line), line) for line in lines]
    header: list[str] | None = None
    if len(rows) > 1 and _is_separator(rows[1][0]):
        header, rows = rows[0][0], rows[2:]
    rows = [(cells, line) for cells, line in rows if not _is_separator(cells)]
    width = max((len(cells) for cells, _ in rows), default=0)
    pairs = width == 2 and (
        header is None or fold(header[0]) in _ATTRIBUTE_HEADERS or fold(header[1]) in _VALUE_HEADERS
    )
    for cells, line in rows:
        if pairs:
            if len(cells) == 2 and cells[0] and cells[1]:
                yield FactDraft(subject, cells[0], cells[1], line)
        elif header and cells and cells[0]:
            for label, value in zip(header[1:], cells[1:], strict=False):
                if label and value:
                    yield FactDraft(cells[0], label, value, line)


def _key_value(line: str) -> tuple[str, str] | None:
    match = _KEY_VALUE_RE.match(line)
    if not match:
        match = _SEPARATED_RE.match(line)
        if not match or len(match.group("key").split()) > MAX_SEPARATED_LABEL_WORDS:
            return None
        if match.group("value").endswith((".", "!", "?")):
            return None  # "The ferry - built in 1990 - sails daily.": a sentence
    key, value = _clean(match.group("key")), _clean(match.group("value"))
    if not key or not value or len(key.split()) > MAX_LABEL_WORDS or len(value) > MAX_VALUE_CHARS:
        return None
    if len(value.split()) > MAX_VALUE_WORDS:
        return None  # "Acme: the company was founded ...": a sentence, not a value
    if value.startswith("//") or key.lower() in {"http", "https", "mailto"}:
        return None
    return key, value


def _line_facts(line: str, *, subject: str) -> Iterator[FactDraft]:
    segments = [segment.strip() for segment in line.split(";") if segment.strip()]
    pairs = [_key_value(segment) for segment in segments]
    if len(segments) > 1 and all(pairs):
        # A spreadsheet row ("Name: Ann; Height: 1.80 m"): the first value names it.
        entity = pairs[0][1]  # type: ignore[index]
        for key, value in pairs[1:]:  # type: ignore[misc]
            yield FactDraft(entity, key, value, line)
        return
    if len(segments) > 2:
        # A profile line ("Profile: Ann; born 1999; height 1.78 metres; Danish").
        for segment in segments:
            pair = _key_value(segment)
            match = None if pair else _SEGMENT_RE.match(segment)
            if match:
                pair = (match.group("key").strip(), match.group("value").strip())
            if pair and attribute_known(pair[0]):
                yield FactDraft(subject, pair[0], pair[1], line)
        return
    pair = pairs[0] if pairs else None
    if pair and fold(pair[0]) != fold(subject):  # "Acme Kettle: a kettle by Acme"
        yield FactDraft(subject, pair[0], pair[1], line)


def _prose_facts(paragraph: str, *, subject: str) -> Iterator[FactDraft]:
    found: set[str] = set()
    digits = _DIGIT_RE.search(paragraph) is not None
    for attribute, pattern in _PROSE_PATTERNS if digits else _PROSE_WITHOUT_DIGITS:
        if attribute in found:
            continue  # the first form that states it wins
        match = pattern.search(paragraph)
        if match:
            found.add(attribute)
            yield FactDraft(subject, attribute, match.group(1), match.group(0))
    if not digits:
        return  # a count is a number
    for match in _COUNT_NOUN_RE.finditer(paragraph):
        label = match.group("label")
        lowered = label.lower()
        if lowered not in MEASURE_WORDS and lowered.rstrip("s") not in UNIT_KINDS:
            yield FactDraft(subject, label, match.group("value"), match.group(0))


def facts_from_text(text: str, *, subject: str) -> list[FactDraft]:
    """Every fact ``text`` states about ``subject`` (its own attributes) or about the
    entities of its tables' rows; a labelled fact wins over one read from prose."""
    drafts: list[FactDraft] = []
    prose: list[FactDraft] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.lstrip().startswith("|"):
            block = []
            while index < len(lines) and lines[index].lstrip().startswith("|"):
                block.append(lines[index])
                index += 1
            drafts.extend(_table_facts(block, subject=subject))
            continue
        index += 1
        found = list(_line_facts(line, subject=subject))
        drafts.extend(found)
        if not any(attribute_known(draft.label) for draft in found):
            # "The ferry - built in 1990 - sails daily" read as a key and a value is no
            # reason to skip what the sentence states.
            prose.extend(_prose_facts(line, subject=subject))
    labelled = {(draft.entity, attribute_normalize(draft.label)) for draft in drafts}
    drafts.extend(
        draft for draft in prose if (draft.entity, attribute_normalize(draft.label)) not in labelled
    )
    return drafts


def _document_text(parsed: ParsedDocument, original: bytes | None) -> str:
    if original is not None and (parsed.mime_type or "").split(";")[0] in _TEXT_MIME_TYPES:
        try:
            return decode_text(original)
        except (UnicodeDecodeError, ValueError):
            pass
    return "\n\n".join(section.text for section in parsed.sections)


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[^\W_]+", text.lower())) + " "


def _chunk_for(draft: FactDraft, chunks: Sequence[tuple[int, str]]) -> int:
    """The chunk that holds the fact's line: its words in order, else its label and
    value, else its value; the first chunk when none does (a table the chunker cut)."""
    wanted = [
        _words(draft.source),
        _words(draft.label) + "|" + _words(draft.value),
        _words(draft.value),
    ]
    for needle in wanted:
        parts = [part for part in needle.split("|") if part.strip()]
        for chunk_id, words in chunks:
            if all(part in words for part in parts):
                return chunk_id
    return chunks[0][0]


def facts_extract(
    *,
    document: Document,
    parsed: ParsedDocument,
    original: bytes | None = None,
    chunks_written: list[tuple[int, str]] | None = None,
) -> list[Fact]:
    """The document's facts, unsaved, each pointing at its chunk (written already;
    ``chunks_written``: their ids and texts in order, if the caller has them)."""
    if chunks_written is None:
        chunks_written = list(
            Chunk.objects.filter(document=document).order_by("ordinal").values_list("id", "text")
        )
    chunks = [(chunk_id, _words(text)) for chunk_id, text in chunks_written]
    if not chunks:
        return []
    subject = _clean(parsed.title or document.title) or document.title
    decimal_comma = document.language == "german"
    facts: list[Fact] = []
    seen: set[tuple[str, str, str]] = set()
    for draft in facts_from_text(_document_text(parsed, original), subject=subject):
        attribute = attribute_normalize(draft.label)
        key = (draft.entity.lower(), attribute, draft.value.lower())
        if key in seen or not attribute:
            continue
        seen.add(key)
        quantity = value_normalize(
            draft.value, attribute=attribute, label=draft.label, decimal_comma=decimal_comma
        )
        if quantity.kind == "text" and attribute in TIME_ATTRIBUTES:
            continue
        facts.append(
            Fact(
                workspace_id=document.workspace_id,
                document_id=document.pk,
                chunk_id=_chunk_for(draft, chunks),
                entity=draft.entity[:300],
                attribute=attribute,
                label=draft.label[:200],
                value_text=draft.value[:500],
                kind=quantity.kind,
                number=quantity.number,
                unit=quantity.unit,
                date=quantity.date,
            )
        )
        if len(facts) >= MAX_FACTS_PER_DOCUMENT:
            break
    return facts


def facts_write(
    *,
    document: Document,
    parsed: ParsedDocument,
    original: bytes | None,
    chunks_written: list[tuple[int, str]] | None = None,
) -> int:
    """Replace the document's facts with those read from this version; returns how many.

    Call it after the document's chunks are written (``chunks_written``: their ids and
    texts, as ``ingestion.index.chunks_write`` returns them), in the same transaction:
    the old facts went with the old chunks already (ON DELETE CASCADE); the explicit
    delete makes a second run idempotent whatever the chunks did.
    """
    # One DELETE, without reading the old facts first (as ``Chunk``'s, ingestion.index).
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Fact._meta.db_table} WHERE document_id = %s",  # noqa: S608
            [document.pk],
        )
    facts = facts_extract(
        document=document, parsed=parsed, original=original, chunks_written=chunks_written
    )
    Fact.objects.bulk_create(facts, batch_size=1000)
    return len(facts)
