"""The documents list costs the same number of queries for one document as for three."""

from __future__ import annotations

import uuid

from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingestion.models import Document
from workspaces.models import Workspace

# domain lookup, the workspace, role (membership, group roles) twice (for the workspace
# and for the reader scope), the caller's groups, the documents shared into the workspace
# (docs/sharing.md), count, page; each after a search_path SET
DOCUMENT_LIST_QUERIES = 20


def _document(workspace: Workspace, title: str, readers: list[str]) -> Document:
    return Document.objects.create(
        workspace=workspace,
        title=title,
        original_filename=f"{title}.md",
        storage_key=f"test/{uuid.uuid4()}",
        mime_type="text/markdown",
        size_bytes=10,
        sha256="0" * 64,
        readers=readers,
    )


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/documents", {"workspace": "sales"})
        assert response.status_code == 200
    return len(queries)


def test_document_list_queries_do_not_grow(acme, bob_api):
    sales = Workspace.objects.get(slug="sales")
    _document(sales, "one", [])
    one = _list_queries(bob_api)
    _document(sales, "two", ["user:bob@acme.example"])
    _document(sales, "three", [])
    _document(sales, "hidden", ["user:alice@acme.example"])  # bob may not read it
    assert bob_api.get("/api/v1/documents", {"workspace": "sales"}).json()["count"] == 3
    assert _list_queries(bob_api) == one == DOCUMENT_LIST_QUERIES
