"""Turn an uploaded file into a title and sections of text, whatever its format.

``parse`` is the only entry point the pipeline needs. Each format lives in its own
module (see ``base.FormatParser`` for what one provides); adding a format means one
new module and one line in ``PARSERS``.
"""

from __future__ import annotations

from pathlib import PureWindowsPath

from ingestion.parsers import delimited, html, jsondoc, mail, md, pdf, sheets, slides, txt, word
from ingestion.parsers.base import (
    FormatParser,
    ParsedDocument,
    ParseError,
    Section,
    UnsupportedFormat,
)
from ingestion.parsers.encoding import looks_like_text

__all__ = [
    "PARSERS",
    "SUPPORTED_EXTENSIONS",
    "ParseError",
    "ParsedDocument",
    "Section",
    "UnsupportedFormat",
    "detect_format",
    "parse",
]

# Format key -> parser. Order matters only for recognising files by content alone:
# formats with a signature come first.
PARSERS: dict[str, FormatParser] = {
    "pdf": pdf,
    "docx": word,
    "pptx": slides,
    "xlsx": sheets,
    "html": html,
    "mbox": mail.MBOX,
    "eml": mail.EML,
    "md": md,
    "txt": txt,
    "csv": delimited,
    "json": jsondoc,
}

_BY_EXTENSION = {ext: key for key, parser in PARSERS.items() for ext in parser.EXTENSIONS}
_BY_MIME_TYPE = {mime: key for key, parser in PARSERS.items() for mime in parser.MIME_TYPES}

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_BY_EXTENSION)

EMPTY = "The file is empty."
NO_TEXT = "No text could be extracted from this file."


def detect_format(data: bytes, filename: str, mime_type: str | None = None) -> str:
    """The format key (e.g. ``"pdf"``) to parse ``data`` with.

    The extension decides (else a known ``mime_type``), and the content must agree:
    a binary format must carry its signature, a text format must be text. A file with
    an unknown extension is accepted only if its content is recognisable (a PDF, a Word
    document or an HTML page); one without an extension may also be plain text.

    Raises ParseError when the content contradicts the name, UnsupportedFormat when
    nothing fits.
    """
    if not data:
        raise ParseError(EMPTY)
    extension = PureWindowsPath(filename).suffix.lower()
    mime = (mime_type or "").split(";", 1)[0].strip().lower()
    declared = _BY_EXTENSION.get(extension) or _BY_MIME_TYPE.get(mime)
    recognised = next((key for key, parser in PARSERS.items() if parser.sniff(data)), None)

    if declared is None:
        if recognised is not None:
            return recognised
        if not extension and looks_like_text(data):
            return "txt"
        raise UnsupportedFormat(_unsupported_reason(extension))

    parser = PARSERS[declared]
    claim = f"is named {extension}" if extension in parser.EXTENSIONS else f"was sent as {mime}"
    if parser.BINARY and not parser.sniff(data):
        raise ParseError(f"The file {claim} but its content is not {parser.DESCRIPTION}.")
    if not parser.BINARY and recognised is not None and PARSERS[recognised].BINARY:
        actual = PARSERS[recognised].DESCRIPTION
        raise ParseError(f"The file {claim} but its content is {actual}, not text.")
    if not parser.BINARY and not looks_like_text(data):
        raise ParseError(f"The file {claim} but its content is not text.")
    return declared


def parse(data: bytes, *, filename: str, mime_type: str | None = None) -> ParsedDocument:
    """Parse an uploaded file into a ParsedDocument with at least one non-empty section.

    Raises ParseError (or its subclass UnsupportedFormat) with a ``reason`` a user can
    read, and nothing else: an unexpected failure inside a parser library becomes a
    ParseError too, with the original exception as ``__cause__``.
    """
    try:
        format_key = detect_format(data, filename, mime_type)
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError("The type of this file could not be determined.") from exc
    parser = PARSERS[format_key]
    try:
        document = parser.parse(data, filename=filename)
    except ParseError:
        raise
    except Exception as exc:
        reason = f"The file could not be read as {parser.DESCRIPTION}; it may be damaged."
        raise ParseError(reason) from exc
    if not any(section.text.strip() for section in document.sections):
        raise ParseError(NO_TEXT)
    return document


def _unsupported_reason(extension: str) -> str:
    supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
    if extension:
        return f"Files of type {extension} are not supported. Supported: {supported}."
    return f"The type of this file could not be recognised. Supported: {supported}."
