"""Turn an uploaded file into a title and sections of text, whatever its format.

``parse`` is the only entry point the pipeline needs. Each format lives in its own
module (see ``base.FormatParser`` for what one provides); adding a format means one
new module and one line in ``PARSERS``.
"""

from __future__ import annotations

from pathlib import PureWindowsPath

from django.utils.translation import gettext_noop as _

from ingestion.parsers import delimited, html, jsondoc, mail, md, pdf, sheets, slides, txt, word
from ingestion.parsers.base import (
    FormatParser,
    ParsedDocument,
    ParseError,
    Section,
    UnsupportedFormat,
    reason_template,
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

# Failure reasons, stored in English and translated where shown (``ParseError``).
EMPTY = _("The file is empty.")
NO_TEXT = _("No text could be extracted from this file.")
UNKNOWN_TYPE = _("The type of this file could not be determined.")
# What the name (or the MIME type sent) claims and what the content is.
NAMED_NOT = reason_template(
    _("The file is named %(extension)s but its content is not %(description)s.")
)
SENT_NOT = reason_template(
    _("The file was sent as %(mime)s but its content is not %(description)s.")
)
NAMED_BINARY = reason_template(
    _("The file is named %(extension)s but its content is %(description)s, not text.")
)
SENT_BINARY = reason_template(
    _("The file was sent as %(mime)s but its content is %(description)s, not text.")
)
NAMED_NOT_TEXT = reason_template(_("The file is named %(extension)s but its content is not text."))
SENT_NOT_TEXT = reason_template(_("The file was sent as %(mime)s but its content is not text."))
UNREADABLE = reason_template(_("The file could not be read as %(description)s; it may be damaged."))
UNSUPPORTED = reason_template(
    _("Files of type %(extension)s are not supported. Supported: %(supported)s.")
)
UNRECOGNISED = reason_template(
    _("The type of this file could not be recognised. Supported: %(supported)s.")
)


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
    named = extension in parser.EXTENSIONS
    claim = {"extension": extension} if named else {"mime": mime}
    if parser.BINARY and not parser.sniff(data):
        reason = NAMED_NOT if named else SENT_NOT
        raise ParseError(reason % {**claim, "description": parser.DESCRIPTION})
    if not parser.BINARY and recognised is not None and PARSERS[recognised].BINARY:
        reason = NAMED_BINARY if named else SENT_BINARY
        raise ParseError(reason % {**claim, "description": PARSERS[recognised].DESCRIPTION})
    if not parser.BINARY and not looks_like_text(data):
        raise ParseError((NAMED_NOT_TEXT if named else SENT_NOT_TEXT) % claim)
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
        raise ParseError(UNKNOWN_TYPE) from exc
    parser = PARSERS[format_key]
    try:
        document = parser.parse(data, filename=filename)
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(UNREADABLE % {"description": parser.DESCRIPTION}) from exc
    if not any(section.text.strip() for section in document.sections):
        raise ParseError(NO_TEXT)
    return document


def _unsupported_reason(extension: str) -> str:
    supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
    if extension:
        return UNSUPPORTED % {"extension": extension, "supported": supported}
    return UNRECOGNISED % {"supported": supported}
