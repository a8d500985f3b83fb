"""Groups: managed by the owner (API, portal, admin), usable in role grants.

A group's role in a workspace gives its members that role there; the effective role
is the highest of the direct and group grants, re-read on every request.
"""

from __future__ import annotations

import pytest

from accounts.models import AuditEvent, User
from tests.conftest import PASSWORD, api_client, named_file, portal_client
from workspaces.access import role_in, workspaces_readable
from workspaces.models import Group, GroupRole, Membership, Role, Workspace

NOTE = b"# Desk booking\n\nDesks on floor 3 are booked in the app.\n"


@pytest.fixture
def dave(acme) -> User:
    """A member of Acme with no workspace of his own."""
    return User.objects.create_user("dave@acme.example", PASSWORD)


@pytest.fixture
def ops(dave, alice_api) -> dict:
    response = alice_api.post(
        "/api/v1/groups", {"name": "Ops team", "members": [dave.email]}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_owner_creates_a_group_with_members_audited(ops, alice_api):
    assert ops["slug"] == "ops-team"
    assert ops["reader"] == "group:ops-team"
    assert ops["members"] == ["dave@acme.example"]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"group.created", "group.member_added"} <= actions
    assert [g["slug"] for g in alice_api.get("/api/v1/groups").json()] == ["ops-team"]
    assert alice_api.get("/api/v1/groups/ops-team").json()["members"] == ["dave@acme.example"]


def test_bad_group_input_is_400(ops, alice_api):
    assert alice_api.post("/api/v1/groups", {"name": ""}, format="json").status_code == 400
    again = alice_api.post("/api/v1/groups", {"name": "Ops team"}, format="json")
    assert again.status_code == 400
    assert "exists already" in again.content.decode()
    unknown = alice_api.patch(
        "/api/v1/groups/ops-team", {"add_members": ["nobody@acme.example"]}, format="json"
    )
    assert unknown.status_code == 400
    assert "nobody@acme.example" in unknown.content.decode()
    bad_role = alice_api.put("/api/v1/groups/ops-team/roles/sales", {"role": "god"}, format="json")
    assert bad_role.status_code == 400
    assert alice_api.get("/api/v1/groups/no-such-group").status_code == 404


def test_group_role_gives_its_members_the_role_until_they_leave(world, dave, ops, alice_api):
    client = api_client(world.acme, dave.email)
    assert client.get("/api/v1/documents", {"workspace": "sales"}).status_code == 404
    granted = alice_api.put(
        "/api/v1/groups/ops-team/roles/sales", {"role": "editor"}, format="json"
    )
    assert granted.status_code == 200, granted.content
    assert granted.json() == {"workspace": "sales", "role": "editor"}
    assert client.get("/api/v1/documents", {"workspace": "sales"}).status_code == 200
    upload = {"file": named_file("desk.md", NOTE), "workspace": "sales"}
    assert client.post("/api/v1/documents", upload, format="multipart").status_code == 201
    assert AuditEvent.objects.filter(action="group.role_changed").exists()
    # Leaving the group takes the role away on the next request.
    removed = alice_api.patch(
        "/api/v1/groups/ops-team", {"remove_members": [dave.email]}, format="json"
    )
    assert removed.status_code == 200
    assert removed.json()["members"] == []
    assert client.get("/api/v1/documents", {"workspace": "sales"}).status_code == 404


def test_effective_role_is_the_highest_of_direct_and_group_grants(acme, alice_api):
    bob = User.objects.get(email="bob@acme.example")  # an editor of Sales directly
    sales = Workspace.objects.get(slug="sales")
    alice_api.post("/api/v1/groups", {"name": "Sellers", "members": [bob.email]}, format="json")
    url = "/api/v1/groups/sellers/roles/sales"
    alice_api.put(url, {"role": "viewer"}, format="json")
    assert role_in(bob, sales) == Role.EDITOR  # a lower group role does not demote
    alice_api.put(url, {"role": "admin"}, format="json")
    assert role_in(bob, sales) == Role.ADMIN
    assert alice_api.delete(url).status_code == 204
    assert role_in(bob, sales) == Role.EDITOR
    assert not GroupRole.objects.exists()


def test_group_role_lists_the_workspace_once(world, dave, ops, alice_api):
    bob = User.objects.get(email="bob@acme.example")
    alice_api.patch("/api/v1/groups/ops-team", {"add_members": [bob.email]}, format="json")
    alice_api.put("/api/v1/groups/ops-team/roles/sales", {"role": "viewer"}, format="json")
    assert [w.slug for w in workspaces_readable(bob)] == ["sales"]
    assert [w.slug for w in workspaces_readable(dave)] == ["sales"]


def test_who_may_manage_groups(world, ops, alice_api, bob_api, carol_api, make_token):
    # bob (an editor) may neither see nor change groups; a viewer's role is too low.
    assert bob_api.get("/api/v1/groups").status_code == 403
    assert bob_api.post("/api/v1/groups", {"name": "Mine"}, format="json").status_code == 403
    assert bob_api.patch("/api/v1/groups/ops-team", {"name": "x"}, format="json").status_code == 403
    assert (
        bob_api.put(
            "/api/v1/groups/ops-team/roles/sales", {"role": "admin"}, format="json"
        ).status_code
        == 403
    )
    # A workspace admin sees groups and grants roles in their workspace, but may not
    # change a group's members (that could reach other workspaces).
    bob = User.objects.get(email="bob@acme.example")
    bob.memberships.update(role=Role.ADMIN)
    assert bob_api.get("/api/v1/groups").status_code == 200
    assert (
        bob_api.put(
            "/api/v1/groups/ops-team/roles/sales", {"role": "viewer"}, format="json"
        ).status_code
        == 200
    )
    assert (
        bob_api.put(
            "/api/v1/groups/ops-team/roles/general", {"role": "viewer"}, format="json"
        ).status_code
        == 404
    )
    assert (
        bob_api.patch(
            "/api/v1/groups/ops-team", {"add_members": [bob.email]}, format="json"
        ).status_code
        == 403
    )
    assert bob_api.delete("/api/v1/groups/ops-team").status_code == 403
    # carol, at Globex, finds no such group.
    assert carol_api.get("/api/v1/groups/ops-team").status_code == 404
    assert carol_api.get("/api/v1/groups").json() == []
    # A token needs members:admin.
    token = make_token(world.acme, "alice@acme.example", scopes=["documents:read"])
    from tests.conftest import token_client

    assert token_client(world.acme, token).get("/api/v1/groups").status_code == 403


def test_owner_deletes_a_group(ops, alice_api):
    assert alice_api.delete("/api/v1/groups/ops-team").status_code == 204
    assert not Group.objects.exists()
    assert AuditEvent.objects.filter(action="group.deleted").exists()


def test_portal_groups_page(world, dave, alice_portal):
    page = alice_portal.get("/groups/?workspace=sales")
    assert page.status_code == 200
    created = alice_portal.post(
        "/groups/?workspace=sales", {"action": "create", "name": "Field crew"}
    )
    assert created.status_code == 302
    assert Group.objects.filter(slug="field-crew").exists()
    alice_portal.post(
        "/groups/?workspace=sales",
        {"action": "add-member", "group": "field-crew", "email": dave.email},
    )
    alice_portal.post(
        "/groups/?workspace=sales", {"action": "role", "group": "field-crew", "role": "viewer"}
    )
    assert role_in(dave, Workspace.objects.get(slug="sales")) == Role.VIEWER
    listing = alice_portal.get("/groups/?workspace=sales").content.decode()
    assert "group:field-crew" in listing
    assert dave.email in listing
    # bob is no admin: 403; carol's organization has no such page for Acme's groups.
    bob = portal_client(world.acme, "bob@acme.example")
    assert bob.get("/groups/?workspace=sales").status_code == 403
    carol = portal_client(world.globex, "carol@globex.example")
    assert "field-crew" not in carol.get("/groups/").content.decode()


def test_admin_site_lists_groups(acme, alice_portal):
    from accounts.models import User as Account

    Account.objects.filter(email="alice@acme.example").update(is_staff=True, is_superuser=True)
    Group.objects.create(name="Auditors", slug="auditors")
    response = alice_portal.get("/admin/workspaces/group/")
    assert response.status_code == 200
    assert "Auditors" in response.content.decode()


def test_group_list_queries_do_not_grow_with_groups(acme, alice_api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alice_api.get("/api/v1/groups").status_code == 200
        return len(captured)

    alice_api.post(
        "/api/v1/groups", {"name": "One", "members": ["bob@acme.example"]}, format="json"
    )
    one = queries()
    for name in ("Two", "Three", "Four"):
        alice_api.post(
            "/api/v1/groups", {"name": name, "members": ["bob@acme.example"]}, format="json"
        )
        alice_api.put(
            f"/api/v1/groups/{name.lower()}/roles/sales", {"role": "viewer"}, format="json"
        )
    assert queries() == one


def test_workspace_admins_see_the_members_link(world, acme):
    from django.urls import reverse

    bob = portal_client(world.acme, "bob@acme.example")
    members_link = f'<a href="{reverse("accounts:members")}?workspace=sales">Members</a>'
    assert ">Members</a>" not in bob.get("/documents/?workspace=sales").content.decode()
    User.objects.get(email="bob@acme.example").memberships.update(role=Role.ADMIN)
    assert members_link in bob.get("/documents/?workspace=sales").content.decode()
    # On a page without a workspace the link leads to the workspace bob administers.
    assert members_link in bob.get(reverse("accounts:tokens")).content.decode()
    assert bob.get(f"{reverse('accounts:members')}?workspace=sales").status_code == 200
    # A member of General (not an admin there) sees no link while in General.
    Membership.objects.create(
        workspace=Workspace.objects.get(slug="general"),
        user=User.objects.get(email="bob@acme.example"),
        role=Role.VIEWER,
    )
    assert ">Members</a>" not in bob.get("/documents/?workspace=general").content.decode()
