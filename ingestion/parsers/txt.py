"""Plain text: paragraphs are separated by blank lines; the title is the first line
(the filename when that line is too long to be a title)."""

from __future__ import annotations

import re

from django.utils.translation import gettext_noop as _

from ingestion.parsers.base import (
    ParsedDocument,
    Section,
    normalize_space,
    title_from_filename,
    title_from_first_line,
)
from ingestion.parsers.encoding import decode_text

EXTENSIONS = (".txt", ".text")
MIME_TYPES = ("text/plain",)
DESCRIPTION = _("a text file")
BINARY = False

_BLANK_LINES = re.compile(r"\n[ \t\f\v]*\n")


def sniff(data: bytes) -> bool:
    """Plain text has no signature; it is never recognised from content alone."""
    return False


def parse(data: bytes, *, filename: str) -> ParsedDocument:
    text = decode_text(data)
    paragraphs = [normalize_space(block) for block in _BLANK_LINES.split(text)]
    body = "\n\n".join(paragraph for paragraph in paragraphs if paragraph)
    return ParsedDocument(
        title=title_from_first_line(text) or title_from_filename(filename),
        sections=[Section(heading_path=(), text=body)] if body else [],
        mime_type=MIME_TYPES[0],
        metadata={},
    )
