"""The groups list costs the same number of queries for one group as for three."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from tests.conftest import PASSWORD
from workspaces.models import Group, GroupMember, GroupRole, Role, Workspace

# domain lookup, the workspace, groups, their members, their roles; each after a
# search_path SET
GROUP_LIST_QUERIES = 10


def _group(name: str, member: User, workspace: Workspace) -> Group:
    group = Group.objects.create(name=name, slug=name)
    GroupMember.objects.create(group=group, user=member)
    GroupRole.objects.create(group=group, workspace=workspace, role=Role.VIEWER)
    return group


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/groups", {"workspace": "sales"})
        assert response.status_code == 200
    return len(queries)


def test_group_list_queries_do_not_grow(acme, alice_api):
    sales = Workspace.objects.get(slug="sales")
    members = [User.objects.create_user(f"{n}@acme.example", PASSWORD) for n in "xyz"]
    _group("one", members[0], sales)
    one = _list_queries(alice_api)
    _group("two", members[1], sales)
    _group("three", members[2], sales)
    assert len(alice_api.get("/api/v1/groups", {"workspace": "sales"}).json()) == 3
    assert _list_queries(alice_api) == one == GROUP_LIST_QUERIES
