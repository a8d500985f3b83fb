"""Members of a workspace, over the API and in the portal: list, add or invite, change a
role, remove; each change in the audit log, each refusal a clear 4xx."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.audit import AuditAction, AuditContext
from accounts.models import AuditEvent, User
from tests.conftest import PASSWORD, portal_client, token_client
from workspaces.models import Membership, Role, Workspace
from workspaces.services import membership_save


@pytest.fixture
def vera(acme) -> Membership:
    """vera: a viewer of Acme's General workspace."""
    user = User.objects.create_user("vera@acme.example", PASSWORD)
    general = Workspace.objects.get(slug="general")
    return membership_save(
        membership=Membership(workspace=general, user=user, role=Role.VIEWER),
        audit=AuditContext(),
    )


def _events(action: str):
    return AuditEvent.objects.filter(action=action).order_by("id")


def test_the_owner_lists_a_workspaces_members(acme, alice_api, vera):
    response = alice_api.get("/api/v1/members", {"workspace": "general"})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["email"], r["role"], r["workspace"]) for r in rows] == [
        ("alice@acme.example", "admin", "general"),
        ("vera@acme.example", "viewer", "general"),
    ]
    # Sales has bob only: nobody of General shows there.
    sales = alice_api.get("/api/v1/members", {"workspace": "sales"}).json()["results"]
    assert "vera@acme.example" not in [r["email"] for r in sales]
    assert "bob@acme.example" in [r["email"] for r in sales]


def test_an_editor_may_not_manage_members_and_an_outsider_sees_no_workspace(acme, bob_api, vera):
    # bob edits Sales (not an admin there), and is no member of General.
    assert bob_api.get("/api/v1/members", {"workspace": "sales"}).status_code == 403
    assert bob_api.get("/api/v1/members", {"workspace": "general"}).status_code == 404
    assert bob_api.patch(f"/api/v1/members/{vera.pk}", {"role": "admin"}).status_code == 404
    assert bob_api.delete(f"/api/v1/members/{vera.pk}").status_code == 404
    assert Membership.objects.get(pk=vera.pk).role == Role.VIEWER


def test_a_workspace_admin_adds_an_existing_person(acme, world, vera):
    from tests.conftest import api_client

    vera.role = Role.ADMIN
    vera.save(update_fields=["role"])
    client = api_client(world.acme, "vera@acme.example")

    response = client.post(
        "/api/v1/members",
        {"workspace": "general", "email": "BOB@acme.example", "role": "editor"},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["invited"] is False
    assert Membership.objects.get(user__email="bob@acme.example", workspace__slug="general").role
    event = _events(AuditAction.MEMBERSHIP_CREATED).last()
    assert event.actor_email == "vera@acme.example"
    assert event.extra == {
        "workspace": "general",
        "user_id": User.objects.get(email="bob@acme.example").pk,
        "user": "bob@acme.example",
        "role": "editor",
    }
    assert mail.outbox == []  # bob has an account already


def test_someone_new_is_invited_and_sets_a_password(
    acme, world, alice_api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            "/api/v1/members",
            {"workspace": "sales", "email": "Nina@Acme.example", "role": "viewer"},
            format="json",
        )

    assert response.status_code == 201, response.content
    assert response.json()["invited"] is True
    nina = User.objects.get(email="nina@acme.example")
    assert not nina.has_usable_password()
    assert _events(AuditAction.MEMBER_INVITED).get().extra["email"] == "nina@acme.example"
    [message] = mail.outbox
    assert message.to == ["nina@acme.example"]
    assert "Sales" in message.subject
    link = re.search(r"http://acme\.localhost(/accounts/password-reset/\S+)", message.body)[1]
    browser = Client(HTTP_HOST=world.acme.domain)
    form_page = browser.get(link, follow=True)
    assert form_page.status_code == 200
    done = browser.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
    )
    assert done.status_code == 302
    signed_in = Client(HTTP_HOST=world.acme.domain).post(
        "/accounts/login/", {"username": "nina@acme.example", "password": "a brand new passphrase"}
    )
    assert signed_in.status_code == 302


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not an email", "role": "viewer"}, "email"),
        ({"email": "x@acme.example", "role": "owner"}, "role"),
        ({"email": "bob@acme.example", "role": "viewer"}, "email"),  # a member already
        ({"role": "viewer"}, "email"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(acme, alice_api, body, field):
    response = alice_api.post("/api/v1/members", {"workspace": "sales", **body}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert mail.outbox == []


def test_role_change_and_removal_are_audited_and_take_effect(acme, world, alice_api, make_token):
    bob = Membership.objects.get(user__email="bob@acme.example")
    bobs_token = token_client(world.acme, make_token(world.acme, "bob@acme.example"))
    assert bobs_token.post("/api/v1/documents", {}, format="multipart").status_code == 400

    changed = alice_api.patch(f"/api/v1/members/{bob.pk}", {"role": "viewer"}, format="json")

    assert changed.status_code == 200
    assert changed.json()["role"] == "viewer"
    event = _events(AuditAction.MEMBERSHIP_CHANGED).get()
    assert (event.extra["role"], event.extra["previous_role"]) == ("viewer", "editor")
    # His token lost the editor's rights at once.
    assert bobs_token.post("/api/v1/documents", {}, format="multipart").status_code == 403
    # The same role again changes nothing and records nothing.
    alice_api.patch(f"/api/v1/members/{bob.pk}", {"role": "viewer"}, format="json")
    assert _events(AuditAction.MEMBERSHIP_CHANGED).count() == 1

    assert alice_api.delete(f"/api/v1/members/{bob.pk}").status_code == 204

    assert not Membership.objects.filter(pk=bob.pk).exists()
    assert _events(AuditAction.MEMBERSHIP_DELETED).get().extra["user"] == "bob@acme.example"
    assert bobs_token.get("/api/v1/documents", {"workspace": "sales"}).status_code == 404
    assert alice_api.delete(f"/api/v1/members/{bob.pk}").status_code == 404


def test_an_admin_cannot_change_or_remove_themself(acme, world, vera):
    from tests.conftest import api_client

    vera.role = Role.ADMIN
    vera.save(update_fields=["role"])
    client = api_client(world.acme, "vera@acme.example")
    response = client.patch(f"/api/v1/members/{vera.pk}", {"role": "viewer"}, format="json")
    assert response.status_code == 400
    assert "own membership" in response.json()["member"][0]
    assert client.delete(f"/api/v1/members/{vera.pk}").status_code == 400
    assert Membership.objects.get(pk=vera.pk).role == Role.ADMIN


def test_tokens_need_the_members_admin_scope(acme, world, make_token):
    without = token_client(world.acme, make_token(world.acme, "alice@acme.example", scopes=["ask"]))
    assert without.get("/api/v1/members", {"workspace": "sales"}).status_code == 403
    scoped = token_client(
        world.acme, make_token(world.acme, "alice@acme.example", scopes=["members:admin"])
    )
    assert scoped.get("/api/v1/members", {"workspace": "sales"}).status_code == 200


def test_member_list_query_count_does_not_grow(acme, alice_api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = alice_api.get("/api/v1/members", {"workspace": "sales"})
        assert response.status_code == 200
        return len(captured.captured_queries)

    few = queries()
    sales = Workspace.objects.get(slug="sales")
    for n in range(5):
        user = User.objects.create_user(f"m{n}@acme.example", PASSWORD)
        Membership.objects.create(workspace=sales, user=user, role=Role.VIEWER)
    assert queries() == few


def test_the_portal_lists_adds_changes_and_removes(acme, world, alice_portal, vera):
    page = alice_portal.get("/accounts/members/?workspace=general")
    assert page.status_code == 200
    assert b"vera@acme.example" in page.content
    assert b"bob@acme.example" not in page.content

    added = alice_portal.post(
        "/accounts/members/?workspace=general", {"email": "bob@acme.example", "role": "editor"}
    )
    assert added.status_code == 302
    bob = Membership.objects.get(user__email="bob@acme.example", workspace__slug="general")
    assert bob.role == Role.EDITOR

    alice_portal.post(f"/accounts/members/{bob.pk}/role", {"role": "admin"})
    assert Membership.objects.get(pk=bob.pk).role == Role.ADMIN
    alice_portal.post(f"/accounts/members/{bob.pk}/remove")
    assert not Membership.objects.filter(pk=bob.pk).exists()
    assert [e.action for e in AuditEvent.objects.filter(target_id=str(bob.pk)).order_by("id")] == [
        AuditAction.MEMBERSHIP_CREATED,
        AuditAction.MEMBERSHIP_CHANGED,
        AuditAction.MEMBERSHIP_DELETED,
    ]

    refused = alice_portal.post(
        "/accounts/members/?workspace=general", {"email": "nope", "role": "editor"}, follow=True
    )
    assert b"Enter a valid email address." in refused.content


def test_the_portal_refuses_viewers_and_non_members(acme, world, vera):
    viewer = portal_client(world.acme, "vera@acme.example")
    assert viewer.get("/accounts/members/?workspace=general").status_code == 403
    assert viewer.post(f"/accounts/members/{vera.pk}/role", {"role": "admin"}).status_code == 403
    bob = portal_client(world.acme, "bob@acme.example")
    assert bob.get("/accounts/members/?workspace=general").status_code == 404
    assert bob.post(f"/accounts/members/{vera.pk}/remove").status_code == 404
    assert Membership.objects.get(pk=vera.pk).role == Role.VIEWER
