"""The conversations list costs the same number of queries for one conversation as for three."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from search.models import Conversation
from workspaces.models import Workspace

# domain lookup, the workspace, role (membership, group roles), count, page; each after
# a search_path SET
CONVERSATION_LIST_QUERIES = 12


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/conversations", {"workspace": "sales"})
        assert response.status_code == 200
    return len(queries)


def test_conversation_list_queries_do_not_grow(acme, bob_api):
    sales = Workspace.objects.get(slug="sales")
    bob = User.objects.get(email="bob@acme.example")
    alice = User.objects.get(email="alice@acme.example")
    Conversation.objects.create(workspace=sales, owner=bob, title="one")
    one = _list_queries(bob_api)
    Conversation.objects.create(workspace=sales, owner=bob, title="two")
    Conversation.objects.create(workspace=sales, owner=bob, title="three")
    Conversation.objects.create(workspace=sales, owner=alice, title="not bob's")
    assert bob_api.get("/api/v1/conversations", {"workspace": "sales"}).json()["count"] == 3
    assert _list_queries(bob_api) == one == CONVERSATION_LIST_QUERIES
