"""The interface every connector implements, and what it yields.

A connector lists the items of a source **in ascending external-id order**, each with a
cheap change marker (``version``: mtime + size, an ETag) and a way to fetch its bytes.
The sync service (``ingestion.sync``) compares markers with what it stored, fetches
only what changed, and keeps the last id it finished as the run's checkpoint; because
the order is stable, a resumed run lists ``after`` its checkpoint and loses nothing.
Every id listed is an id that still exists, so what the service stored and the full
listing no longer holds has been deleted at the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Protocol

from infra.outbound import OutboundRefused, host_check, url_check


class ConnectorError(Exception):
    """The source as a whole cannot be read (unreachable, misconfigured): the run fails.

    ``reason`` is for people: it names the problem, never a credential.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ItemError(Exception):
    """One item cannot be read or is refused; the run records it and goes on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Item:
    """One document-to-be in a source."""

    external_id: str
    name: str
    version: str
    fetch: Callable[[], bytes]
    readers: tuple[str, ...] = ()
    size: int | None = None
    # Set when the item was listed but must not be fetched (e.g. it escapes the root):
    # the run records it as failed with this reason.
    refused: str = ""
    # Anything else worth keeping, e.g. the source's URL of the item.
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SourceSpec:
    """What a connector is asked to sync: the source's settings, decrypted secrets included."""

    paths: tuple[str, ...]
    include_globs: tuple[str, ...] = ()
    exclude_globs: tuple[str, ...] = ()
    readers: tuple[str, ...] = ()
    config: dict = field(default_factory=dict)
    secrets: dict = field(default_factory=dict)

    def wanted(self, relative_name: str) -> bool:
        """True when ``relative_name`` passes the include globs and no exclude glob."""
        if self.include_globs and not any(
            fnmatchcase(relative_name, glob) for glob in self.include_globs
        ):
            return False
        return not any(fnmatchcase(relative_name, glob) for glob in self.exclude_globs)


class SourceConnector(Protocol):
    """What one connector module provides (see ``filesystem`` and ``s3``)."""

    KIND: str

    def items(self, spec: SourceSpec, *, after: str = "") -> Iterator[Item]:
        """Items with external id > ``after``, in ascending id order.

        Raises ConnectorError when the source cannot be listed at all.
        """
        ...

    def validate(self, spec: SourceSpec) -> None:
        """Raise ConnectorError when ``spec`` can never work (e.g. a path not allowed)."""
        ...


def outbound_check(url: str) -> None:
    """ConnectorError unless this installation may connect to ``url``'s host
    (``infra.outbound``: public addresses only, when private networks are not allowed)."""
    _outbound(url_check, url)


def outbound_host_check(host: str, port: int) -> None:
    """``outbound_check`` for a host and port (a mail server, not a URL)."""
    _outbound(host_check, host, port)


def _outbound(check: Callable, *args) -> None:
    try:
        check(*args)
    except OutboundRefused as exc:
        raise ConnectorError(str(exc)) from None
