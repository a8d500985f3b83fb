"""PDF: text per page with pypdf; the PDF's outline (bookmarks), if any, gives headings.

A PDF has no reliable headings in its text, so each page is a section whose heading
path is the path of the outline entry covering that page followed by ``"Page N"``,
e.g. ``("Travel policy", "Meals", "Page 4")``. Chunks therefore never span pages, and
a citation can say which page to open.
"""

from __future__ import annotations

import io
import logging
import re
from datetime import datetime

from django.utils.translation import gettext_noop as _
from pypdf import PdfReader

from ingestion.parsers.base import (
    ParsedDocument,
    ParseError,
    Section,
    normalize_space,
    reason_template,
    title_from_filename,
)

EXTENSIONS = (".pdf",)
MIME_TYPES = ("application/pdf",)
DESCRIPTION = _("a PDF")
BINARY = True

# A limit on the work one upload can cause: 2,000 pages is far beyond any policy or
# handbook, and extracting text from more would hold a worker for many minutes.
MAX_PDF_PAGES = 2000
# Longest first line taken as a title when the PDF's metadata has none.
_MAX_TITLE_CHARS = 200
# Titles writing programs put in the metadata of a document nobody titled: not a title.
_PLACEHOLDER_TITLE = re.compile(
    r"^(?:untitled(?:\s+document)?(?:\s*\d+)?|no title|title|document\s*\d*|"
    r"microsoft (?:word|powerpoint|excel) - .*)$",
    re.IGNORECASE,
)
# The specification lets the header appear anywhere in the first 1,024 bytes.
_HEADER_WINDOW = 1024

# Failure reasons, stored in English and translated where shown (``ParseError``).
DAMAGED = _("The PDF is damaged and could not be read.")
ENCRYPTED = _(
    "The PDF is password-protected or encrypted. Remove the protection and upload it again."
)
NO_TEXT = _(
    "No text could be extracted from this file. The PDF may be a scanned image "
    "without a text layer."
)
TOO_MANY_PAGES = reason_template(
    _("The PDF has %(pages)s pages; at most %(limit)s pages are supported.")
)

_HYPHENATED_BREAK = re.compile(r"(\w)-\n(?=[a-z])")
# "3.", "3.1", "3.1.2" or "3" and a capitalised word: a numbered heading's start
# ("12.5 kg" and "10 employees joined ..." are not).
_SECTION_LINE = re.compile(r"^\d{1,2}(?:\.\d{1,2}){0,3}\.?\s+[^\W\d_a-zà-ÿ]")
_HEADING_MAX_WORDS = 10
_BLANK_LINES = re.compile(r"\n[ \t\f\v]*\n")

logger = logging.getLogger(__name__)


def sniff(data: bytes) -> bool:
    return b"%PDF-" in data[:_HEADER_WINDOW]


def parse(data: bytes, *, filename: str) -> ParsedDocument:
    reader = _open(data)
    try:
        page_count = len(reader.pages)
    except Exception as exc:
        raise ParseError(DAMAGED) from exc
    if page_count > MAX_PDF_PAGES:
        raise ParseError(
            TOO_MANY_PAGES % {"pages": f"{page_count:,}", "limit": f"{MAX_PDF_PAGES:,}"}
        )

    outline = _outline_paths(reader)
    sections = []
    unreadable = []
    first_line = ""
    for index, page in enumerate(reader.pages):
        try:
            text = page.extract_text() or ""
        except Exception:
            # One broken page should not cost the rest of the document.
            logger.info("pdf page %s of %r could not be read", index + 1, filename, exc_info=True)
            unreadable.append(str(index + 1))
            continue
        if body := _paragraphs(text):
            first_line = first_line or _first_line(text)
            path = (*outline.get(index, ()), f"Page {index + 1}")
            sections.append(Section(heading_path=path, text=body))
    if not sections:
        raise ParseError(DAMAGED if unreadable else NO_TEXT)

    metadata = _metadata(reader)
    metadata["pages"] = str(page_count)
    if unreadable:
        metadata["unreadable_pages"] = ", ".join(unreadable)
    title = metadata.pop("title", "")
    if _PLACEHOLDER_TITLE.match(title):
        title = ""
    title = title or first_line or title_from_filename(filename)
    return ParsedDocument(
        title=title, sections=sections, mime_type=MIME_TYPES[0], metadata=metadata
    )


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except Exception as exc:
        raise ParseError(DAMAGED) from exc
    if reader.is_encrypted:
        # Many PDFs are encrypted only to restrict printing or copying, with an empty
        # password for reading; those open. Anything else needs a password we lack.
        try:
            opened = reader.decrypt("")
        except Exception as exc:
            raise ParseError(ENCRYPTED) from exc
        if not opened:
            raise ParseError(ENCRYPTED)
    return reader


def _paragraphs(page_text: str) -> str:
    """The page's paragraphs: hard-wrapped lines joined, words split by hyphenation
    rejoined; a numbered heading line ("3.1 Passwords") stays a paragraph of its own."""
    text = _HYPHENATED_BREAK.sub(r"\1", page_text.replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs: list[str] = []
    for block in _BLANK_LINES.split(text):
        lines: list[str] = []
        for line in block.splitlines():
            if _numbered_heading(line):
                paragraphs.extend([" ".join(lines), normalize_space(line)])
                lines = []
            else:
                lines.append(line)
        paragraphs.append(" ".join(lines))
    return "\n\n".join(p for p in (normalize_space(p) for p in paragraphs) if p)


def _numbered_heading(line: str) -> bool:
    """A line that is a numbered section heading, not a wrapped line of a paragraph:
    starts with a section number, is short and ends without punctuation. Most PDFs
    carry no blank line between a heading and its text, so without this the heading's
    words would open the paragraph after it (and an answer quoting it)."""
    line = line.strip()
    return (
        bool(_SECTION_LINE.match(line))
        and len(line.split()) <= _HEADING_MAX_WORDS
        and line[-1:] not in ".,;:!?"
    )


def _first_line(page_text: str) -> str:
    """The first non-blank line of a page, if it is short enough to be a title."""
    line = next((normalize_space(line) for line in page_text.splitlines() if line.strip()), "")
    return line if len(line) <= _MAX_TITLE_CHARS else ""


def _outline_paths(reader: PdfReader) -> dict[int, tuple[str, ...]]:
    """Page index -> path of the outline entry in force on that page.

    An outline is a convenience: when it is broken (or absurdly deep) it is ignored.
    """
    starts: list[tuple[int, tuple[str, ...]]] = []

    def visit(items: list, parents: tuple[str, ...]) -> None:
        path = parents
        for item in items:
            if isinstance(item, list):
                visit(item, path)  # the children of the entry just before
                continue
            title = normalize_space(str(getattr(item, "title", "") or ""))
            page = reader.get_destination_page_number(item)
            path = (*parents, title) if title else parents
            if page is not None and page >= 0:
                starts.append((page, path))

    try:
        visit(reader.outline, ())
    except Exception:
        logger.info("ignoring a broken pdf outline", exc_info=True)
        return {}

    paths: dict[int, tuple[str, ...]] = {}
    current: tuple[str, ...] = ()
    starts.sort(key=lambda start: start[0])  # stable: same-page entries keep their order
    pending = iter(starts)
    upcoming = next(pending, None)
    for index in range(len(reader.pages)):
        while upcoming is not None and upcoming[0] <= index:
            current = upcoming[1]
            upcoming = next(pending, None)
        paths[index] = current
    return paths


def _metadata(reader: PdfReader) -> dict[str, str]:
    try:
        info = reader.metadata
    except Exception:
        return {}
    if info is None:
        return {}
    metadata: dict[str, str] = {}
    fields = {
        "title": "title",
        "author": "author",
        "subject": "subject",
        "creator": "creator",
        "producer": "producer",
        "created": "creation_date",
        "modified": "modification_date",
    }
    for key, attribute in fields.items():
        try:
            value = getattr(info, attribute)
        except Exception:  # a malformed date or string in the metadata
            logger.info("ignoring unreadable pdf metadata %s", attribute, exc_info=True)
            continue
        if isinstance(value, datetime):
            metadata[key] = value.isoformat()
        elif value and (text := normalize_space(str(value))):
            metadata[key] = text
    return metadata
