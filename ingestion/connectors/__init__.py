"""Connectors: one module per kind of source, found through ``CONNECTORS``.

Adding a kind of source means one new module implementing ``base.SourceConnector``
and one line here (and a ``ConnectorKind`` choice).
"""

from __future__ import annotations

from ingestion.connectors import confluence, filesystem, imap, s3, web
from ingestion.connectors.base import (
    ConnectorError,
    Item,
    ItemError,
    SourceConnector,
    SourceSpec,
)

__all__ = [
    "CONNECTORS",
    "ConnectorError",
    "Item",
    "ItemError",
    "SourceConnector",
    "SourceSpec",
    "connector_for",
]

CONNECTORS: dict[str, SourceConnector] = {
    filesystem.KIND: filesystem.FileSystemConnector(),
    s3.KIND: s3.S3Connector(),
    imap.KIND: imap.ImapConnector(),
    confluence.KIND: confluence.ConfluenceConnector(),
    web.KIND: web.WebDirectoryConnector(),
}


def connector_for(kind: str) -> SourceConnector:
    try:
        return CONNECTORS[kind]
    except KeyError:
        raise ConnectorError(f"There is no connector of kind {kind!r}.") from None
