"""E-mail: single messages (``.eml``, message/rfc822) and mailboxes (``.mbox``).

A message becomes one document: its subject is the title, and its first section holds
the headers a reader asks about (from, to, cc, date, attachment names) so that "who
wrote about X" finds it. The body is the ``text/plain`` alternative when there is one,
else the HTML one turned into text by the HTML parser (headings kept). Charsets are
decoded as declared, with the repairs mail needs: ``iso-8859-1`` and ``us-ascii`` are
read as what senders really mean (windows-1252, UTF-8), and an unknown or lying charset
falls back to UTF-8 / windows-1252 instead of failing the message.

Attachments are named but not parsed here: the IMAP connector makes each attachment a
document of its own (so its text is indexed once, with its own title). An mbox file
stays one document, each message a section headed by its subject, because the pipeline
indexes one document per file.

Metadata: ``title``, ``author`` (From), ``date`` (ISO 8601), ``to``, ``cc``,
``message_id``, ``in_reply_to``, ``references`` and ``thread`` (the message id that
started the conversation: the first of References, else In-Reply-To, else its own).
"""

from __future__ import annotations

import codecs
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from django.utils.translation import gettext_noop

from ingestion.parsers import html
from ingestion.parsers.base import (
    ParsedDocument,
    ParseError,
    Section,
    normalize_space,
    title_from_filename,
)
from ingestion.parsers.encoding import decode_text
from ingestion.parsers.sections import SectionBuilder

# A header line: a field name of printable characters but ':', then ':'.
_FIELD = re.compile(rb"^([!-9;-~]+):")
# Headers every real message has one of, besides From.
_MESSAGE_FIELDS = frozenset(
    {b"date", b"subject", b"message-id", b"mime-version", b"received", b"to", b"return-path"}
)
_BLANK_LINES = re.compile(r"\n[ \t\f\v]*\n")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# Charsets senders declare for text that is really a superset of them.
_READ_AS = {"iso8859-1": "cp1252", "ascii": "utf-8"}
# A mailbox with more messages than this is cut, with a note: one file must not produce
# an unbounded amount of work.
MAX_MBOX_MESSAGES = 10_000
NO_SUBJECT = "(no subject)"
_PARSER = BytesParser(policy=policy.default)


def _looks_like_headers(data: bytes) -> bool:
    """True when ``data`` starts with a header block naming From and another message field."""
    names: set[bytes] = set()
    for line in data[:8192].splitlines()[:80]:
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t"):  # a folded continuation line
            continue
        match = _FIELD.match(line)
        if match is None:
            return False
        names.add(match.group(1).lower())
    return b"from" in names and bool(names & _MESSAGE_FIELDS)


def _decode(payload: bytes, charset: str | None) -> str:
    """The text of a MIME part: its declared charset if that is real and fits, else a guess."""
    name = (charset or "").strip().strip("\"'").lower()
    try:
        name = codecs.lookup(name).name if name else ""
    except LookupError:
        name = ""
    name = _READ_AS.get(name, name)
    if name:
        try:
            return payload.decode(name).replace("\r\n", "\n").replace("\r", "\n")
        except (UnicodeDecodeError, LookupError):
            pass
    return decode_text(payload)


def _header(message: EmailMessage, name: str) -> str:
    """A header's decoded value (RFC 2047 words decoded); '' when absent or unreadable."""
    try:
        value = message.get(name)
        text = str(value) if value is not None else ""
    except Exception:  # a malformed header must not lose the message
        raw = message.get_all(name, failobj=[])
        text = str(raw[0]) if raw else ""
    if any("\udc80" <= c <= "\udcff" for c in text):
        # Undeclared 8-bit bytes in the header: decode them like a body without a charset.
        text = decode_text(text.encode("utf-8", "surrogateescape"))
    return normalize_space(text)


def _date(message: EmailMessage) -> str:
    try:
        value = message.get("date")
        when = getattr(value, "datetime", None)
    except Exception:  # an unparseable date is only left out
        when = None
    return when.isoformat() if when is not None else _header(message, "date")


def _metadata(message: EmailMessage, subject: str) -> dict[str, str]:
    references = _MESSAGE_ID.findall(_header(message, "references"))
    in_reply_to = _MESSAGE_ID.findall(_header(message, "in-reply-to"))
    message_id = next(iter(_MESSAGE_ID.findall(_header(message, "message-id"))), "")
    values = {
        "title": subject,
        "author": _header(message, "from"),
        "date": _date(message),
        "to": _header(message, "to"),
        "cc": _header(message, "cc"),
        "message_id": message_id,
        "in_reply_to": in_reply_to[0] if in_reply_to else "",
        "references": " ".join(references),
        "thread": (references or in_reply_to or [message_id])[0],
    }
    return {key: value for key, value in values.items() if value}


def _attachment_names(message: EmailMessage, body: EmailMessage | None) -> list[str]:
    names = []
    for part in message.walk():
        if part is body or part.is_multipart():
            continue
        filename = part.get_filename()
        if filename or part.get_content_disposition() == "attachment":
            names.append(normalize_space(filename or "") or "unnamed attachment")
    return names


def _body(message: EmailMessage) -> EmailMessage | None:
    try:
        return message.get_body(preferencelist=("plain", "html"))
    except Exception:  # a broken structure reads as having no body
        return None


def _add_message(builder: SectionBuilder, message: EmailMessage, *, level: int | None) -> str:
    """Feed one message's headers and body to ``builder``; returns its subject.

    With ``level`` the message opens a heading of that level (its subject), as each
    message of a mailbox does; without, it is the document itself.
    """
    subject = _header(message, "subject")
    if level is not None:
        builder.heading(level, subject or NO_SUBJECT)
    body = _body(message)
    for label, name in (("From", "from"), ("To", "to"), ("Cc", "cc"), ("Date", "date")):
        if value := _header(message, name):
            builder.paragraph(f"{label}: {value}")
    if names := _attachment_names(message, body):
        builder.paragraph("Attachments: " + ", ".join(names))
    if body is None:
        return subject
    payload = body.get_payload(decode=True) or b""
    text = _decode(payload, body.get_content_charset())
    if body.get_content_subtype() == "html":
        # The text is already decoded: hand it over as UTF-8 with a BOM, which outranks any
        # <meta charset> the HTML may carry (it described the bytes, not this text).
        page = html.parse(codecs.BOM_UTF8 + text.encode("utf-8"), filename="body.html")
        base = level if level is not None else 0
        for section in page.sections:
            for depth, heading in enumerate(section.heading_path, start=1):
                builder.heading(base + depth, heading)
            for paragraph in section.text.split("\n\n"):
                builder.paragraph(paragraph)
    else:
        for paragraph in _BLANK_LINES.split(text):
            builder.paragraph(paragraph)
    return subject


class EmlParser:
    """One message in RFC 5322 form (what "Save as" in a mail program writes)."""

    EXTENSIONS = (".eml",)
    MIME_TYPES = ("message/rfc822",)
    DESCRIPTION = gettext_noop("an e-mail message")
    BINARY = False

    def sniff(self, data: bytes) -> bool:
        return _looks_like_headers(data.removeprefix(codecs.BOM_UTF8))

    def parse(self, data: bytes, *, filename: str) -> ParsedDocument:
        data = data.removeprefix(codecs.BOM_UTF8)
        if data.startswith(b"From "):
            # Some programs save a message with the envelope line an mbox would have.
            data = data.partition(b"\n")[2]
        if not _looks_like_headers(data):
            raise ParseError(
                gettext_noop("The file is named .eml but does not start with e-mail headers.")
            )
        message = _PARSER.parsebytes(data)
        builder = SectionBuilder()
        subject = _add_message(builder, message, level=None)
        title = subject or title_from_filename(filename)
        return ParsedDocument(
            title=title,
            sections=builder.sections(),
            mime_type=self.MIME_TYPES[0],
            metadata=_metadata(message, title),
        )


def mbox_messages(data: bytes) -> list[bytes]:
    """The messages of an mbox file, ``>From `` quoting undone (mboxo and mboxrd alike).

    A message starts at a ``From `` line at the start of the file or after a blank line.
    """
    messages: list[list[bytes]] = []
    previous_blank = True
    for line in data.splitlines(keepends=True):
        if line.startswith(b"From ") and previous_blank:
            messages.append([])
        elif messages:
            unquoted = line[1:] if re.match(rb">+From ", line) else line
            messages[-1].append(unquoted)
        previous_blank = not line.strip()
    return [b"".join(lines) for lines in messages]


class MboxParser:
    """A mailbox file: messages one after another, each starting with a ``From `` line."""

    EXTENSIONS = (".mbox", ".mbx")
    MIME_TYPES = ("application/mbox",)
    DESCRIPTION = gettext_noop("a mailbox (mbox) file")
    BINARY = False

    def sniff(self, data: bytes) -> bool:
        first, _, rest = data.removeprefix(codecs.BOM_UTF8).partition(b"\n")
        return first.startswith(b"From ") and _looks_like_headers(rest)

    def parse(self, data: bytes, *, filename: str) -> ParsedDocument:
        if not self.sniff(data):
            raise ParseError(
                gettext_noop("The file is named .mbox but does not start with a 'From ' line.")
            )
        raw_messages = mbox_messages(data.removeprefix(codecs.BOM_UTF8))
        builder = SectionBuilder()
        for raw in raw_messages[:MAX_MBOX_MESSAGES]:
            _add_message(builder, _PARSER.parsebytes(raw), level=1)
        sections = builder.sections()
        if len(raw_messages) > MAX_MBOX_MESSAGES:
            total = len(raw_messages)
            note = f"Only the first {MAX_MBOX_MESSAGES} of {total} messages are indexed."
            sections.append(Section(heading_path=(), text=note))
        return ParsedDocument(
            title=title_from_filename(filename),
            sections=sections,
            mime_type=self.MIME_TYPES[0],
            metadata={"messages": str(len(raw_messages))},
        )


EML = EmlParser()
MBOX = MboxParser()
