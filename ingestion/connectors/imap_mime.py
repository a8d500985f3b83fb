"""What an IMAP server tells about a message's MIME parts, and what the connector does with it.

``attachments`` reads a ``BODYSTRUCTURE`` (as parsed by imapclient) into the message's
attachment parts with decoded, safe file names; ``decoded`` undoes a part's transfer
encoding; ``message_without_attachments`` empties the attachments' contents of a raw
message (each attachment is a document of its own).
"""

from __future__ import annotations

import base64
import binascii
import io
import quopri
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.parser import BytesParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value, decode_params
from pathlib import PureWindowsPath

from ingestion.connectors.base import ItemError


@dataclass(frozen=True)
class Attachment:
    number: int
    part: str  # the IMAP body section, e.g. "2" or "1.3"
    filename: str
    encoding: str
    size: int


def header_text(value) -> str:
    """A header value from the server (bytes, maybe RFC 2047-encoded) as plain text."""
    if value is None:
        return ""
    raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    try:
        text = str(make_header(decode_header(raw)))
    except (ValueError, LookupError, UnicodeError):
        text = raw
    return " ".join(text.split())


def safe_name(name: str, *, limit: int = 150) -> str:
    """A file name without folders or control characters, short enough to store."""
    name = PureWindowsPath(name.replace("/", "\\")).name  # drops any folders, "/" or "\\"
    name = "".join(c for c in name if ord(c) >= 32 and c not in '\x7f:*?"<>|').strip(" .")
    if len(name) > limit:
        stem, dot, extension = name.rpartition(".")
        name = (stem[: limit - len(extension) - 1] + dot + extension) if dot else name[:limit]
    return name


def _params(pairs) -> dict[str, str]:
    """MIME parameters from BODYSTRUCTURE, RFC 2231 continuations and charsets decoded."""
    if not isinstance(pairs, tuple | list):
        return {}
    flat = [item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
            for item in pairs]  # fmt: skip
    named = [(flat[i].lower(), flat[i + 1]) for i in range(0, len(flat) - 1, 2)]
    try:
        unfolded = decode_params([("", ""), *named])[1:]
    except (ValueError, IndexError, LookupError):
        unfolded = named
    return {name: header_text(collapse_rfc2231_value(value)) for name, value in unfolded}


def attachments(structure) -> list[Attachment]:
    """The message's attachment parts in MIME order, numbered from 1."""
    found: list[Attachment] = []
    for body, part in _leaves(structure):
        name = _attachment_name(body)
        if name is None:
            continue  # a body part, not an attachment
        found.append(Attachment(len(found) + 1, part, name, *_part_payload(body)))
    return found


def _leaves(structure) -> list[tuple]:
    """The single (not multipart) parts in MIME order, each with its IMAP body section."""
    stack = [(structure, "")]
    leaves = []
    while stack:
        body, part = stack.pop()
        if body.is_multipart:
            children = [(child, f"{part}.{i}" if part else str(i)) for i, child in
                        enumerate(body[0], start=1)]  # fmt: skip
            stack.extend(reversed(children))
        else:
            leaves.append((body, part or "1"))
    return leaves


def _attachment_name(body) -> str | None:
    """The safe file name of an attachment part; None for a part of the message's body."""
    main, sub = header_text(body[0]).lower(), header_text(body[1]).lower()
    kind, filename = _part_filename(body, main, sub)
    forwarded = (main, sub) == ("message", "rfc822")
    if not (filename or kind == "attachment" or forwarded):
        return None
    name = safe_name(filename) or ("forwarded message" if forwarded else "attachment")
    if forwarded and not name.lower().endswith(".eml"):
        name += ".eml"
    return name


def _part_filename(body, main: str, sub: str) -> tuple[str, str]:
    """The part's disposition ("attachment", "inline" or "") and its file name, if any.

    The disposition's place in a BODYSTRUCTURE depends on the part's type: text parts
    carry a line count, forwarded messages also an envelope and a body structure.
    """
    disposition_at = {"text": 9, "message": 11}.get(main, 8)
    if main == "message" and sub != "rfc822":
        disposition_at = 8
    disposition = body[disposition_at] if len(body) > disposition_at else None
    kind, disposition_params = "", {}
    if isinstance(disposition, tuple) and disposition:
        kind = header_text(disposition[0]).lower()
        disposition_params = _params(disposition[1] if len(disposition) > 1 else None)
    return kind, disposition_params.get("filename") or _params(body[2]).get("name", "")


def _part_payload(body) -> tuple[str, int]:
    """The part's transfer encoding (lower case, "" if none) and its size in bytes."""
    encoding = header_text(body[5]).lower() if len(body) > 5 else ""
    size = body[6] if len(body) > 6 and isinstance(body[6], int) else 0
    return encoding, size


def decoded(data: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        try:
            return base64.b64decode(data, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ItemError("The attachment's base64 encoding is damaged.") from exc
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    return data


def message_without_attachments(raw: bytes) -> bytes:
    """``raw`` with each attachment's content emptied (its headers, so its name, stay).

    Each attachment is a document of its own: keeping its bytes in the message's stored
    original too would store them twice, and a large attachment would make the whole
    message too large to index. A message Python cannot parse and write back is kept
    whole.
    """
    try:
        message = BytesParser(policy=compat32).parsebytes(raw)
        emptied = False
        for part in message.walk():
            if part.is_multipart():
                continue
            if part.get_filename() or part.get_content_disposition() == "attachment":
                part.set_payload("")
                emptied = True
        if not emptied:
            return raw
        out = io.BytesIO()
        BytesGenerator(out, mangle_from_=False, policy=compat32.clone(linesep="\r\n")).flatten(
            message
        )
        return out.getvalue()
    except Exception:  # any failure to rewrite keeps the message as it came
        return raw
