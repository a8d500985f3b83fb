"""Rows of a table as lines of text, within limits shared by spreadsheets and CSV files.

A row becomes ``"Region: North; Revenue: 1200"`` when the table has a header row, so a
passage found by search still says what each value means; without a header the cells
are joined by ``" | "``. ``Budget`` stops reading once a document has given enough
text and says why, so a huge sheet is read partly (and says so) instead of holding a
worker or its memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time

from ingestion.parsers.base import Section, normalize_space

# A table wider than this is data for machines, not passages for people.
MAX_COLUMNS = 100
# One cell's text is capped so a single pasted blob cannot fill the document's budget.
MAX_CELL_CHARS = 1000
# Rows read per document, across all its sheets.
MAX_ROWS = 50_000
# Characters of text per document: about 400 pages of prose.
MAX_CHARS = 2_000_000


class Budget:
    """Counts rows and characters given so far; ``truncated`` says what was left out."""

    def __init__(self, *, max_rows: int | None = None, max_chars: int | None = None) -> None:
        self.max_rows = max_rows or MAX_ROWS
        self.max_chars = max_chars or MAX_CHARS
        self.rows = 0
        self.chars = 0
        self.truncated = ""

    def take(self, line: str) -> bool:
        """Count ``line``; False (and ``truncated`` set) once a limit is reached."""
        if self.truncated:
            return False
        if self.rows >= self.max_rows:
            self.truncated = f"Only the first {self.max_rows:,} rows were read."
            return False
        if self.chars + len(line) > self.max_chars:
            self.truncated = f"Only the first {self.max_chars:,} characters were read."
            return False
        self.rows += 1
        self.chars += len(line)
        return True


def cell_text(value: object) -> str:
    """A cell's value as text a person would read (dates as ISO dates, 2.0 as 2)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        text = value.date().isoformat() if value.time() == time() else value.isoformat()
    elif isinstance(value, date | time):
        text = value.isoformat()
    else:
        text = normalize_space(str(value))
    if len(text) > MAX_CELL_CHARS:
        text = text[:MAX_CELL_CHARS] + "…"
    return text


def looks_like_header(cells: list[str]) -> bool:
    """A first row is a header when every non-empty cell is a label, not a number."""
    labels = [cell for cell in cells if cell]
    if len(labels) < 2:
        return False
    return all(not _is_number(cell) for cell in labels) and len(set(labels)) == len(labels)


def row_line(cells: list[str], header: list[str] | None) -> str:
    """One row as a line; empty cells are left out."""
    cells = cells[:MAX_COLUMNS]
    if header:
        pairs = []
        for index, cell in enumerate(cells):
            if not cell:
                continue
            label = header[index] if index < len(header) and header[index] else ""
            pairs.append(f"{label}: {cell}" if label else cell)
        return "; ".join(pairs)
    return " | ".join(cell for cell in cells if cell)


def rows_to_sections(
    rows: Iterable[Sequence[object]], budget: Budget, *, heading_path: tuple[str, ...] = ()
) -> tuple[list[Section], list[str] | None]:
    """A table's rows as one section of lines (none when no row has text), and its header.

    Empty rows are skipped; the first row with text is the header when it looks like one
    (``looks_like_header``), and labels the values of every row after it. Reading stops
    once ``budget`` is spent.
    """
    lines = []
    header: list[str] | None = None
    first = True
    for row in rows:
        cells = [cell_text(value) for value in row]
        if not any(cells):
            continue
        if first:
            first = False
            if looks_like_header(cells):
                header = cells
                continue
        line = row_line(cells, header)
        if not budget.take(line):
            break
        lines.append(line)
    sections = [Section(heading_path=heading_path, text="\n\n".join(lines))] if lines else []
    return sections, header


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True
