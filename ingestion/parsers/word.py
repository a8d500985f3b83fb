"""Word documents (.docx): Title and Heading 1-6 paragraph styles build the heading path.

Body paragraphs and tables are read in document order; each table row becomes one
paragraph with its cells separated by " | ". Headers, footers, footnotes, comments
and text boxes are not read.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

import docx
from django.utils.translation import gettext_noop as _
from docx.document import Document
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingestion.parsers.base import (
    ParsedDocument,
    ParseError,
    normalize_space,
    properties_metadata,
    title_from_filename,
)
from ingestion.parsers.sections import SectionBuilder

EXTENSIONS = (".docx",)
MIME_TYPES = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)
DESCRIPTION = _("a Word document (.docx)")
BINARY = True

# A .docx is a zip; a small one can expand to gigabytes (a "zip bomb"). Real documents,
# images included, stay far below 200 MB uncompressed. The sizes checked are the ones
# the zip declares: Python's zipfile never returns more bytes than declared for a
# member, so the declared total bounds what python-docx can read.
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
# Tables nested deeper than this are almost certainly hostile rather than real.
_MAX_TABLE_DEPTH = 5

# Failure reasons, stored in English and translated where shown (``ParseError``).
DAMAGED = _("The Word document is damaged or truncated and could not be read.")
NOT_DOCX = _("The file is not a valid Word document (.docx).")
TOO_LARGE = _("The Word document expands to more than 200 MB when unpacked and was refused.")

_ZIP_SIGNATURE = b"PK\x03\x04"
_HEADING_STYLE = re.compile(r"Heading ([1-6])")
_TITLE_LEVEL = 0  # above Heading 1
# The title python-docx gives a document it creates (and one read without
# docProps/core.xml): a placeholder, not the author's title.
_PLACEHOLDER_TITLES = frozenset({"word document"})


def sniff(data: bytes) -> bool:
    """True for a zip that holds a Word document, or a damaged zip (parse says which)."""
    if not data.startswith(_ZIP_SIGNATURE):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return True  # truncated or damaged: let parse() report it as such


def parse(data: bytes, *, filename: str) -> ParsedDocument:
    _check_container(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except (KeyError, ValueError) as exc:  # a zip, but without a Word document inside
        raise ParseError(NOT_DOCX) from exc
    except Exception as exc:
        raise ParseError(DAMAGED) from exc

    builder = SectionBuilder()
    first_title = first_h1 = first_heading = ""
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in _table_rows(block, depth=1):
                builder.paragraph(row)
            continue
        text = normalize_space(block.text)
        level = _heading_level(block)
        if level is None:
            builder.paragraph(text)
            continue
        builder.heading(level, text)
        if text and not first_heading:
            first_heading = text
        if level == _TITLE_LEVEL and not first_title:
            first_title = text
        elif level == 1 and not first_h1:
            first_h1 = text

    metadata = _metadata(document)
    title = metadata.pop("title", "")
    if title.casefold() in _PLACEHOLDER_TITLES:
        title = ""
    title = title or first_title or first_h1 or first_heading or title_from_filename(filename)
    return ParsedDocument(
        title=title, sections=builder.sections(), mime_type=MIME_TYPES[0], metadata=metadata
    )


def _check_container(data: bytes) -> None:
    """Refuse a damaged zip, a zip that is not a Word package, and a zip bomb, unopened."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError(DAMAGED) from exc
    names = {member.filename for member in members}
    if "[Content_Types].xml" not in names or "word/document.xml" not in names:
        raise ParseError(NOT_DOCX)
    if sum(member.file_size for member in members) > MAX_UNCOMPRESSED_BYTES:
        raise ParseError(TOO_LARGE)


def _heading_level(paragraph: Paragraph) -> int | None:
    style = paragraph.style
    name = (style.name if style is not None else None) or ""
    if name == "Title":
        return _TITLE_LEVEL
    if match := _HEADING_STYLE.fullmatch(name):
        return int(match[1])
    return None


def _table_rows(table: Table, *, depth: int) -> Iterator[str]:
    """One line per row, cells joined by " | "; nested tables follow their row."""
    for row in table.rows:
        cells = []
        nested: list[Table] = []
        previous = None
        for cell in row.cells:
            if cell is previous:
                continue  # a merged cell is returned once per grid column it spans
            previous = cell
            cells.append(normalize_space(cell.text))
            nested.extend(cell.tables)
        if line := " | ".join(text for text in cells if text):
            yield line
        if depth < _MAX_TABLE_DEPTH:
            for inner in nested:
                yield from _table_rows(inner, depth=depth + 1)


def _metadata(document: Document) -> dict[str, str]:
    """The document's own properties; none when it has no docProps/core.xml (python-docx
    would make up defaults: "Word Document", last modified by "python-docx", now)."""
    try:
        document.part.package.part_related_by(RELATIONSHIP_TYPE.CORE_PROPERTIES)
    except KeyError:
        return {}
    properties = document.core_properties
    values = {
        "title": properties.title,
        "author": properties.author,
        "subject": properties.subject,
        "keywords": properties.keywords,
        "last_modified_by": properties.last_modified_by,
        "created": properties.created,
        "modified": properties.modified,
    }
    return properties_metadata(values)
