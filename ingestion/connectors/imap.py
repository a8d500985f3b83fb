"""IMAP mailbox: the messages of one or more folders, and their attachments, as documents.

Connector config: ``host``, ``port`` (default 993 for ``ssl``, 143 otherwise),
``security`` (``ssl`` = IMAPS, ``starttls``, or ``none``, which is refused unless the
host is this machine's loopback), ``username``, and optionally ``ca_certificate`` (PEM:
the certificate authority to trust for a server with a private one; otherwise the
system's CAs); secret: ``password``. The source's
``paths`` are the folders (``INBOX`` when none is named); its readers are the mailbox's
audience and apply to every message and attachment.

External ids: ``<folder>/<UIDVALIDITY>/<UID>`` for a message, both numbers zero-padded to
10 digits (they are 32-bit), so ids sort in the order the server assigned them; an
attachment is ``<message id>/att/<n>`` (``n`` counts the message's attachment parts from
001 in MIME order), which sorts right after its message. A message is stored as its
``.eml`` with the attachments' contents left out (parsed by ``parsers.mail``); an
attachment is stored as its own file, under its own name, and parsed by its format.
Only attachments whose format OPAA can parse are listed (signatures and logos are not
documents); the source's include/exclude globs filter them by file name.

Incremental: IMAP never changes the content behind a UID, so the change marker is only
the size. Listing a folder is one ``UID SEARCH`` plus ``UID FETCH (RFC822.SIZE ENVELOPE
BODYSTRUCTURE)``, in batches, for the messages this worker process has not listed before
(``SUMMARIES``); no body is downloaded for a message the source already has. When
the server resets a folder (a new UIDVALIDITY), every id of that folder changes: the old
documents leave the index and the folder is indexed again. Messages that disappear
(expunged) leave the index on the next run. Folders are opened read-only (EXAMINE) and
bodies read with ``BODY.PEEK``: syncing never marks mail as read.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import PureWindowsPath

from django.utils.translation import gettext
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from ingestion.connectors import imap_mime
from ingestion.connectors.base import (
    ConnectorError,
    Item,
    ItemError,
    SourceSpec,
    outbound_host_check,
)
from ingestion.parsers import SUPPORTED_EXTENSIONS

KIND = "imap"
SECURITY = ("ssl", "starttls", "none")
DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
# Long enough for a slow server to answer a large FETCH, short enough that a dead one
# fails the run instead of holding its worker.
TIMEOUT_S = 60
# UIDs fetched per FETCH command while listing: keeps each response to a few MB.
BATCH = 500
MAX_FOLDER_LENGTH = 200
# Message summaries kept per worker process (a few hundred bytes each): enough for the
# mailboxes of a few busy sources; past it the cache starts again.
SUMMARIES_KEPT = 100_000
UNNAMED_MESSAGE = "message"


@dataclass(frozen=True)
class _Summary:
    """What listing needs to know of one message."""

    size: int
    subject: str
    message_id: str
    attachments: tuple[imap_mime.Attachment, ...]


class _SummaryCache:
    """Message summaries by server, user, folder, UIDVALIDITY and UID, per process.

    The message behind a UID never changes while the folder keeps its UIDVALIDITY
    (RFC 3501), so an entry never goes stale: listing fetches ENVELOPE and BODYSTRUCTURE
    only for messages it has not seen, and the sync's second, full listing (which finds
    deletions) costs one ``UID SEARCH`` per folder.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._entries: dict[tuple, _Summary] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple) -> _Summary | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: tuple, summary: _Summary) -> None:
        with self._lock:
            if len(self._entries) >= self._limit:
                self._entries.clear()
            self._entries[key] = summary


SUMMARIES = _SummaryCache(SUMMARIES_KEPT)


def _summary(answer: dict) -> _Summary:
    envelope = answer.get(b"ENVELOPE")
    structure = answer.get(b"BODYSTRUCTURE")
    return _Summary(
        size=int(answer.get(b"RFC822.SIZE") or 0),
        subject=imap_mime.header_text(envelope.subject) if envelope is not None else "",
        message_id=imap_mime.header_text(envelope.message_id) if envelope is not None else "",
        attachments=tuple(imap_mime.attachments(structure)) if structure else (),
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls_context(spec: SourceSpec) -> ssl.SSLContext:
    """Verifies the server's certificate and name, against ``ca_certificate`` if given."""
    pem = str(spec.config.get("ca_certificate") or "").strip()
    if not pem:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError):
        raise ConnectorError("The CA certificate is not a PEM certificate.") from None


def _settings(spec: SourceSpec) -> tuple[str, int, str, str, str]:
    """(host, port, security, username, password), or ConnectorError naming what is wrong
    (in the active language: the portal's or API caller's when setting up)."""
    config = spec.config
    host = str(config.get("host") or "").strip()
    if not host or len(host) > 253 or any(c.isspace() or c in "/@" for c in host):
        raise ConnectorError(
            gettext("The IMAP connector needs a server name such as mail.example.com.")
        )
    security = str(config.get("security") or "ssl")
    if security not in SECURITY:
        raise ConnectorError(
            gettext("Security must be one of %(choices)s, not %(value)s.")
            % {"choices": ", ".join(SECURITY), "value": repr(security)}
        )
    if security == "none" and not _is_loopback(host):
        raise ConnectorError(
            gettext(
                "An IMAP connection without TLS is allowed only to this machine (localhost): "
                "choose ssl or starttls."
            )
        )
    raw_port = config.get("port") or DEFAULT_PORTS[security]
    try:
        port = int(raw_port)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise ConnectorError(
            gettext("The IMAP port must be a number from 1 to 65535, not %(value)s.")
            % {"value": repr(raw_port)}
        )
    username = str(config.get("username") or "").strip()
    if not username:
        raise ConnectorError(gettext("The IMAP connector needs the mailbox's user name."))
    password = str(spec.secrets.get("password") or "")
    if not password:
        raise ConnectorError(gettext("The IMAP connector needs the mailbox's password (a secret)."))
    _tls_context(spec)
    outbound_host_check(host, port)
    return host, port, security, username, password


def _folders(spec: SourceSpec) -> list[str]:
    folders = [folder.strip() for folder in spec.paths if folder.strip()] or ["INBOX"]
    for folder in folders:
        if len(folder) > MAX_FOLDER_LENGTH or any(ord(c) < 32 or c in "*%" for c in folder):
            raise ConnectorError(
                gettext(
                    "%(folder)s is not a folder name (no wildcards or control characters, "
                    "at most %(limit)s characters)."
                )
                % {"folder": repr(folder[:50]), "limit": MAX_FOLDER_LENGTH}
            )
    return sorted(set(folders))


def _problem(exc: Exception, host: str, port: int) -> str:
    """A reason for people; never the password (no exception here carries it)."""
    if isinstance(exc, socket.gaierror):
        return f"The IMAP server name {host} could not be resolved."
    if isinstance(exc, ssl.SSLError):
        detail = getattr(exc, "reason", None) or "handshake failed"
        return f"A secure connection to {host}:{port} could not be made ({detail})."
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"The IMAP server {host}:{port} did not answer in time."
    if isinstance(exc, OSError):
        return f"The IMAP server {host}:{port} could not be reached ({exc.strerror or exc})."
    return f"The IMAP server {host}:{port} failed: {str(exc)[:200]}"


class _Session:
    """One logged-in connection; remembers which folder is open (read-only)."""

    def __init__(self, spec: SourceSpec) -> None:
        self.host, self.port, self.security, self.username, password = _settings(spec)
        self._password = password
        self._context = _tls_context(spec)
        self.client: IMAPClient | None = None
        self.folder: str | None = None
        self.uidvalidity = 0

    def open(self) -> None:
        context = self._context
        try:
            client = IMAPClient(
                self.host,
                port=self.port,
                ssl=self.security == "ssl",
                ssl_context=context,
                timeout=TIMEOUT_S,
            )
        except (OSError, IMAPClientError) as exc:
            raise ConnectorError(_problem(exc, self.host, self.port)) from None
        try:
            if self.security == "starttls":
                client.starttls(context)
            client.login(self.username, self._password)
        except LoginError:
            client.shutdown()
            raise ConnectorError(
                f"The IMAP server {self.host} refused the login of {self.username!r}: "
                "check the user name and password."
            ) from None
        except (OSError, IMAPClientError) as exc:
            client.shutdown()
            raise ConnectorError(_problem(exc, self.host, self.port)) from None
        self.client, self.folder = client, None

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.logout()
            except (OSError, IMAPClientError):
                self.client.shutdown()
            self.client = None

    def examine(self, folder: str) -> int:
        """Open ``folder`` read-only (if it is not already); returns its UIDVALIDITY."""
        if self.client is None:
            self.open()
        if self.folder != folder:
            try:
                info = self.client.select_folder(folder, readonly=True)
            except IMAPClientError as exc:
                if "nonexistent" in str(exc).lower() or "doesn't exist" in str(exc).lower():
                    raise ConnectorError(
                        f"The folder {folder!r} does not exist in the mailbox {self.username!r}."
                    ) from None
                raise ConnectorError(f"The folder {folder!r} could not be opened: {exc}") from None
            self.folder, self.uidvalidity = folder, int(info[b"UIDVALIDITY"])
        return self.uidvalidity

    def read(self, folder: str, uidvalidity: int, uid: int, section: str) -> bytes:
        """The bytes of ``BODY[section]`` of one message; ItemError when it is gone."""
        for attempt in (1, 2):
            try:
                if self.examine(folder) != uidvalidity:
                    raise ItemError(
                        "The folder was reset on the server (new UIDVALIDITY); "
                        "the next sync indexes it again."
                    )
                wanted = f"BODY.PEEK[{section}]"
                answer = self.client.fetch([uid], [wanted]).get(uid, {})
                data = answer.get(f"BODY[{section}]".encode())
            except ConnectorError as exc:
                raise ItemError(exc.reason) from None
            except (OSError, IMAPClientError) as exc:
                # The connection broke (timeout, server restart): reconnect once.
                self.client, self.folder = None, None
                if attempt == 2:
                    raise ItemError(_problem(exc, self.host, self.port)) from None
                continue
            if data is None:
                raise ItemError("The message was deleted on the server before it could be read.")
            return bytes(data)
        raise AssertionError("unreachable")


class ImapConnector:
    KIND = KIND

    def validate(self, spec: SourceSpec) -> None:
        _settings(spec)
        _folders(spec)

    def items(self, spec: SourceSpec, *, after: str = "") -> Iterator[Item]:
        folders = _folders(spec)
        session = _Session(spec)
        session.open()
        try:
            found: list[Item] = []
            for folder in folders:
                found.extend(self._folder_items(session, spec, folder, after))
            found.sort(key=lambda item: item.external_id)
            yield from found
        finally:
            session.close()

    def _folder_items(
        self, session: _Session, spec: SourceSpec, folder: str, after: str
    ) -> list[Item]:
        uidvalidity = session.examine(folder)
        prefix = f"{folder}/{uidvalidity:010d}/"
        try:
            uids = sorted(session.client.search(["ALL"]))
            wanted = [
                uid
                for uid in uids
                if (message_id := f"{prefix}{uid:010d}") > after
                or after.startswith(message_id + "/")
            ]
            server = (session.host.lower(), session.port, session.username, folder, uidvalidity)
            summaries = {uid: SUMMARIES.get((*server, uid)) for uid in wanted}
            unknown = [uid for uid, summary in summaries.items() if summary is None]
            for start in range(0, len(unknown), BATCH):
                batch = unknown[start : start + BATCH]
                answers = session.client.fetch(batch, ["RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE"])
                for uid in batch:
                    if uid in answers:  # expunged since the search: simply gone
                        summaries[uid] = _summary(answers[uid])
                        SUMMARIES.put((*server, uid), summaries[uid])
        except (OSError, IMAPClientError) as exc:
            raise ConnectorError(_problem(exc, session.host, session.port)) from None
        items: list[Item] = []
        for uid in wanted:
            if (summary := summaries.get(uid)) is not None:
                listed = self._message_items(session, spec, folder, uidvalidity, uid, summary)
                items.extend(item for item in listed if item.external_id > after)
        return items

    def _message_items(
        self,
        session: _Session,
        spec: SourceSpec,
        folder: str,
        uidvalidity: int,
        uid: int,
        summary: _Summary,
    ) -> list[Item]:
        message_id = f"{folder}/{uidvalidity:010d}/{uid:010d}"
        size, subject, attachments = summary.size, summary.subject, summary.attachments
        metadata = {"folder": folder, "uidvalidity": uidvalidity, "uid": uid}
        if summary.message_id:
            metadata["message_id"] = summary.message_id
        name = (imap_mime.safe_name(subject, limit=120) or UNNAMED_MESSAGE) + ".eml"
        # What is stored of the message leaves its attachments' contents out.
        text_size = max(1, size - sum(attachment.size for attachment in attachments))
        items = [
            Item(
                external_id=message_id,
                name=name,
                version=str(size),
                size=text_size,
                fetch=partial(_read_message, session, folder, uidvalidity, uid),
                readers=spec.readers,
                metadata={**metadata, "subject": subject},
            )
        ]
        for attachment in attachments:
            if PureWindowsPath(attachment.filename).suffix.lower() not in SUPPORTED_EXTENSIONS:
                continue  # not a format OPAA reads: no document (images, signatures)
            if not spec.wanted(attachment.filename):
                continue
            # base64 carries 3 bytes in 4: the decoded size is what the size limit is about.
            decoded_size = attachment.size * 3 // 4 if attachment.encoding == "base64" else None
            items.append(
                Item(
                    external_id=f"{message_id}/att/{attachment.number:03d}",
                    name=attachment.filename,
                    version=f"{attachment.size}:{attachment.part}",
                    size=decoded_size or attachment.size,
                    fetch=partial(_read_attachment, session, folder, uidvalidity, uid, attachment),
                    readers=spec.readers,
                    metadata={**metadata, "part": attachment.part, "message": message_id},
                )
            )
        return items


def _read_message(session: _Session, folder: str, uidvalidity: int, uid: int) -> bytes:
    return imap_mime.message_without_attachments(session.read(folder, uidvalidity, uid, ""))


def _read_attachment(
    session: _Session, folder: str, uidvalidity: int, uid: int, attachment: imap_mime.Attachment
) -> bytes:
    data = session.read(folder, uidvalidity, uid, attachment.part)
    return imap_mime.decoded(data, attachment.encoding)
