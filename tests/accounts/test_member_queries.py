"""The members list costs the same number of queries for one member as for three."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from tests.conftest import PASSWORD
from workspaces.models import Membership, Role, Workspace

# domain lookup, the workspace, count, page (with user and workspace); each after a
# search_path SET
MEMBER_LIST_QUERIES = 8


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/members", {"workspace": "sales"})
        assert response.status_code == 200
    return len(queries)


def test_member_list_queries_do_not_grow(acme, alice_api):
    one = _list_queries(alice_api)
    sales = Workspace.objects.get(slug="sales")
    for name in ("erin", "frank"):
        user = User.objects.create_user(f"{name}@acme.example", PASSWORD)
        Membership.objects.create(workspace=sales, user=user, role=Role.VIEWER)
    assert alice_api.get("/api/v1/members", {"workspace": "sales"}).json()["count"] == 3
    assert _list_queries(alice_api) == one == MEMBER_LIST_QUERIES
