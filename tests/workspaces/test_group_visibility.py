"""Who sees a group's members: the owner only; a workspace admin sees the member count
(issue 11, 7).

The old rule (an admin saw the members of groups holding a role in a workspace they
administer) could be gamed: give any group a role in your workspace, read its members,
take the role away again.
"""

from __future__ import annotations

import pytest

from accounts.models import User
from tests.conftest import PASSWORD, portal_client, token_client
from workspaces.models import Role


@pytest.fixture
def hr(acme, alice_api):
    """HR: erin and frank; holds no role anywhere bob administers."""
    for email in ("erin@acme.example", "frank@acme.example"):
        User.objects.create_user(email, PASSWORD)
    response = alice_api.post(
        "/api/v1/groups",
        {"name": "HR", "members": ["erin@acme.example", "frank@acme.example"]},
        format="json",
    )
    assert response.status_code == 201
    return response.json()


@pytest.fixture
def bob_admin(acme):
    """bob, made an admin of Sales."""
    User.objects.get(email="bob@acme.example").memberships.update(role=Role.ADMIN)


def test_granting_a_role_does_not_reveal_a_groups_members(world, hr, bob_admin, bob_api):
    """The attack: grant HR a role in Sales, read its members, remove the grant."""
    granted = bob_api.put("/api/v1/groups/hr/roles/sales", {"role": "viewer"}, format="json")
    assert granted.status_code == 200
    listed = {g["slug"]: g for g in bob_api.get("/api/v1/groups?workspace=sales").json()}
    detail = bob_api.get("/api/v1/groups/hr?workspace=sales").json()
    page = portal_client(world.acme, "bob@acme.example").get("/groups/?workspace=sales")
    assert bob_api.delete("/api/v1/groups/hr/roles/sales").status_code == 204

    for seen in (listed["hr"], detail):
        assert seen["members"] is None
        assert seen["member_count"] == 2
        assert seen["roles"] == [{"workspace": "sales", "role": "viewer"}]
    body = page.content.decode()
    assert "erin@acme.example" not in body
    assert "frank@acme.example" not in body
    assert "2 members" in body


def test_an_admin_never_sees_members_even_of_groups_in_their_workspace(
    world, hr, bob_admin, bob_api, alice_api, make_token
):
    alice_api.put("/api/v1/groups/hr/roles/sales", {"role": "editor"}, format="json")
    assert bob_api.get("/api/v1/groups/hr").json()["members"] is None
    token = make_token(world.acme, "bob@acme.example", scopes=["members:admin"])
    via_token = token_client(world.acme, token).get("/api/v1/groups/hr?workspace=sales")
    assert via_token.status_code == 200
    assert via_token.json()["members"] is None
    assert via_token.json()["member_count"] == 2


def test_the_owner_sees_every_groups_members(world, hr, alice_api):
    listed = {g["slug"]: g for g in alice_api.get("/api/v1/groups").json()}
    assert sorted(listed["hr"]["members"]) == ["erin@acme.example", "frank@acme.example"]
    assert listed["hr"]["member_count"] == 2
    page = portal_client(world.acme, "alice@acme.example").get("/groups/").content.decode()
    assert "erin@acme.example" in page
    assert "frank@acme.example" in page


def test_a_member_who_is_not_an_admin_sees_no_groups(hr, bob_api):
    assert bob_api.get("/api/v1/groups?workspace=sales").status_code == 403
