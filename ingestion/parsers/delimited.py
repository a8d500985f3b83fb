"""CSV and TSV files: the dialect is sniffed, a header row labels every value.

With a header, a row reads ``"Region: North; Revenue: 1200"``; each row is a paragraph,
so chunks break between rows. The encoding is guessed like plain text's (UTF-8 or
UTF-16 with BOM, UTF-8, cp1252). Limits as for spreadsheets (``tabular``).
"""

from __future__ import annotations

import csv
import io

from django.utils.translation import gettext_noop as _

from ingestion.parsers import tabular
from ingestion.parsers.base import ParsedDocument, ParseError, reason_template, title_from_filename
from ingestion.parsers.encoding import decode_text

EXTENSIONS = (".csv", ".tsv")
MIME_TYPES = ("text/csv", "text/tab-separated-values")
DESCRIPTION = _("a CSV file")
BINARY = False

MALFORMED = reason_template(_("The CSV file is malformed (%(error)s)."))

# The sniffer reads a sample: enough lines to see the delimiter, cheap on a big file.
_SAMPLE_CHARS = 64 * 1024
_DELIMITERS = ",;\t|"


def sniff(data: bytes) -> bool:
    """CSV has no signature; it is never recognised from content alone."""
    return False


def parse(data: bytes, *, filename: str) -> ParsedDocument:
    text = decode_text(data)
    dialect = _dialect(text, tab=filename.lower().endswith(".tsv"))
    budget = tabular.Budget()
    try:
        rows = (row[: tabular.MAX_COLUMNS] for row in csv.reader(io.StringIO(text), dialect))
        sections, header = tabular.rows_to_sections(rows, budget)
    except csv.Error as exc:
        raise ParseError(MALFORMED % {"error": exc}) from exc
    metadata = {"truncated": budget.truncated} if budget.truncated else {}
    if header:
        metadata["columns"] = ", ".join(label for label in header if label)[:1000]
    return ParsedDocument(
        title=title_from_filename(filename),
        sections=sections,
        mime_type=MIME_TYPES[0],
        metadata=metadata,
    )


def _dialect(text: str, *, tab: bool) -> type[csv.Dialect] | csv.Dialect:
    if tab:
        return csv.excel_tab
    try:
        return csv.Sniffer().sniff(text[:_SAMPLE_CHARS], delimiters=_DELIMITERS)
    except csv.Error:
        return csv.excel  # one column, or too irregular to tell: commas
