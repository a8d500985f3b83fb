"""Excel workbooks (.xlsx): each sheet is a section, each row a line of text.

Rows are streamed (openpyxl's read-only mode), so a sheet with a million rows is read
only as far as the document's limits (``tabular.Budget``) and never held in memory at
once; what was left out is said in the document's ``truncated`` metadata. Cell values
are read as last calculated (formulas are not evaluated). Hidden sheets are read too:
hiding is layout, not access control.
"""

from __future__ import annotations

import io
import itertools

import openpyxl
from django.utils.translation import gettext_noop as _

from ingestion.parsers import package, tabular
from ingestion.parsers.base import (
    ParsedDocument,
    ParseError,
    Section,
    properties_metadata,
    title_from_filename,
)

EXTENSIONS = (".xlsx", ".xlsm")
MIME_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel.sheet.macroEnabled.12",
)
DESCRIPTION = _("an Excel workbook (.xlsx)")
BINARY = True

_MAIN_PART = "xl/workbook.xml"
# openpyxl holds every shared string in memory; 64 MB of XML is already an extreme sheet.
_PART_LIMITS = {"xl/sharedStrings.xml": 64 * 1024 * 1024}
# Workbooks with more sheets than this are generated data, not documents.
MAX_SHEETS = 200
# Rows scanned per sheet, empty ones included: bounds the time a sparse sheet can take.
MAX_SCANNED_ROWS = 200_000


def sniff(data: bytes) -> bool:
    return package.holds(data, _MAIN_PART)


def parse(data: bytes, *, filename: str) -> ParsedDocument:
    package.check(data, main_part=_MAIN_PART, description=DESCRIPTION, limits=_PART_LIMITS)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ParseError(package.UNREADABLE % {"description": DESCRIPTION}) from exc
    try:
        budget = tabular.Budget()
        sections = []
        notes = []
        for index, sheet in enumerate(workbook.worksheets):
            if index >= MAX_SHEETS:
                notes.append(f"Only the first {MAX_SHEETS} sheets were read.")
                break
            sheet_sections, note = _sheet_sections(sheet, budget)
            if note:
                notes.append(note)
            sections.extend(sheet_sections)
            if budget.truncated:
                break
        metadata = _metadata(workbook)
    finally:
        workbook.close()
    if budget.truncated:
        notes.append(budget.truncated)
    if notes:
        metadata["truncated"] = " ".join(notes)
    title = metadata.pop("title", "") or title_from_filename(filename)
    return ParsedDocument(
        title=title, sections=sections, mime_type=MIME_TYPES[0], metadata=metadata
    )


def _sheet_sections(sheet, budget: tabular.Budget) -> tuple[list[Section], str]:
    """The sheet as a section titled with its name, and a note if its rows were cut short."""
    rows = sheet.iter_rows(max_col=tabular.MAX_COLUMNS, values_only=True)
    sections, _header = tabular.rows_to_sections(
        itertools.islice(rows, MAX_SCANNED_ROWS), budget, heading_path=(sheet.title,)
    )
    # Cut short by the scan limit, not the budget: the sheet has a row beyond it.
    if not budget.truncated and next(rows, None) is not None:
        return sections, f"Sheet {sheet.title}: only the first {MAX_SCANNED_ROWS:,} rows were read."
    return sections, ""


def _metadata(workbook) -> dict[str, str]:
    properties = workbook.properties
    values = {
        "title": properties.title,
        "author": properties.creator,
        "subject": properties.subject,
        "last_modified_by": properties.lastModifiedBy,
        "created": properties.created,
        "modified": properties.modified,
    }
    return properties_metadata(values)
