"""What every parser returns, the error it raises, and the interface a format module provides."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PureWindowsPath
from typing import Protocol


@dataclass(frozen=True)
class Section:
    """Body text under one heading.

    ``heading_path`` runs from the outermost heading to the innermost, e.g.
    ``("Travel policy", "Meals", "Per diem")``; it is empty for text before any heading.
    ``text`` holds the paragraphs under that heading, separated by ``"\\n\\n"``.
    """

    heading_path: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class ParsedDocument:
    """A document reduced to its title, its sections in reading order and its metadata."""

    title: str
    sections: list[Section]
    mime_type: str
    metadata: dict[str, str] = field(default_factory=dict)


class ParseError(Exception):
    """The file cannot be turned into text; ``reason`` is a sentence safe to show users.

    Reasons are stored in English and translated where shown
    (``ingestion.indexing.reason_shown``): a fixed reason is a msgid marked with
    ``gettext_noop``; one with values is a marked template registered with
    :func:`reason_template` and filled in with ``%``, so it can be read back."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Marked templates of failure reasons with ``%(name)s`` values -> the pattern that reads
# the values back out of a filled-in reason.
_REASON_TEMPLATES: dict[str, re.Pattern[str]] = {}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def reason_template(msgid: str) -> str:
    """Register ``msgid`` (marked with ``gettext_noop`` at the call) as a failure reason
    with ``%(name)s`` values, so :func:`reason_translated` can translate one filled in;
    returns ``msgid``."""
    parts = _PLACEHOLDER.split(msgid)
    pattern = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    _REASON_TEMPLATES[msgid] = re.compile(pattern, re.DOTALL)
    return msgid


def reason_translated(reason: str, translate: Callable[[str], str]) -> str | None:
    """``reason``, a registered template filled in, with the template and each value put
    through ``translate`` (a value not in the catalog stays as it is); None when no
    template fits. Of several that fit, the one with the most fixed text wins ("is not
    text." over "is not %(description)s.")."""
    best = None
    for msgid, pattern in _REASON_TEMPLATES.items():
        match = pattern.fullmatch(reason)
        if match is None:
            continue
        fixed = len(_PLACEHOLDER.sub("", msgid))
        if best is None or fixed > best[0]:
            best = (fixed, msgid, match.groupdict())
    if best is None:
        return None
    _, msgid, values = best
    return translate(msgid) % {name: translate(value) for name, value in values.items()}


class UnsupportedFormat(ParseError):
    """The file is of a type no parser handles."""


class FormatParser(Protocol):
    """What a format module provides (modules satisfy this protocol structurally)."""

    #: Lower-case file extensions with the dot, e.g. ``(".pdf",)``.
    EXTENSIONS: tuple[str, ...]
    #: MIME types this format is uploaded as; the first is the one reported.
    MIME_TYPES: tuple[str, ...]
    #: How the format is named in messages, e.g. "a PDF".
    DESCRIPTION: str
    #: Binary formats must carry their signature; text formats only have to be text.
    BINARY: bool

    def sniff(self, data: bytes) -> bool:
        """True if the content could be this format (False only when it clearly is not)."""
        ...

    def parse(self, data: bytes, *, filename: str) -> ParsedDocument:
        """Parse ``data``; raise ParseError with a readable reason when it cannot."""
        ...


# Longest first line taken as a document's title: a longer one is a sentence, not a title.
MAX_TITLE_LINE_CHARS = 200


def title_from_first_line(text: str) -> str:
    """The first non-blank line of ``text`` (a leading "#" dropped), or "" when it is too
    long to be a title: the title of a document that names none (issue 16: text files
    were titled by their file name's slug)."""
    for line in text.splitlines():
        line = normalize_space(line.strip().lstrip("#"))
        if line:
            return line if len(line) <= MAX_TITLE_LINE_CHARS else ""
    return ""


def title_from_filename(filename: str) -> str:
    """The filename without folders or extension: the title when a document has none."""
    name = PureWindowsPath(filename).name  # splits on both "/" and "\\"
    stem = PureWindowsPath(name).stem.strip()
    return stem or name.strip() or "Untitled"


def normalize_space(text: str) -> str:
    """Collapse runs of whitespace to single spaces and trim the ends."""
    return " ".join(text.split())


def properties_metadata(values: Mapping[str, object]) -> dict[str, str]:
    """Document properties as metadata: dates in ISO format, text with its spaces
    normalized, empty values left out."""
    metadata = {}
    for key, value in values.items():
        if isinstance(value, datetime):
            metadata[key] = value.isoformat()
        elif value and (text := normalize_space(str(value))):
            metadata[key] = text
    return metadata
