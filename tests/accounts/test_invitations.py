"""Pending invitations on the members page: marked, sent again, withdrawn; each action
audited, refused for a person who accepted already (400), and only for the workspace's
admins (403 for a viewer, 404 for someone outside the workspace)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.utils import timezone

from accounts.audit import AuditAction, AuditContext
from accounts.members import invitation_pending, member_add
from accounts.models import AuditEvent, User
from tests.conftest import PASSWORD, portal_client
from workspaces.models import Group, GroupMember, Membership, Role, Workspace
from workspaces.services import membership_save


@pytest.fixture
def nina(acme, django_capture_on_commit_callbacks) -> Membership:
    """nina: invited to General as a viewer, has not accepted yet."""
    with django_capture_on_commit_callbacks(execute=True):
        added = member_add(
            workspace=Workspace.objects.get(slug="general"),
            email="nina@acme.example",
            role=Role.VIEWER,
            actor=User.objects.get(email="alice@acme.example"),
            base_url="http://acme.localhost/",
            audit=AuditContext(),
        )
    assert added.invited
    mail.outbox.clear()
    return added.membership


@pytest.fixture
def vera(acme) -> Membership:
    """vera: a viewer of General with a password (no invitation pending)."""
    user = User.objects.create_user("vera@acme.example", PASSWORD)
    general = Workspace.objects.get(slug="general")
    return membership_save(
        membership=Membership(workspace=general, user=user, role=Role.VIEWER),
        audit=AuditContext(),
    )


def _row(content: bytes, membership: Membership) -> str:
    html = content.decode()
    return re.search(rf'<tr id="member-{membership.pk}".*?</tr>', html, re.S)[0]


def test_pending_invitations_are_marked(acme, alice_portal, nina, vera):
    page = alice_portal.get("/accounts/members/?workspace=general")
    assert page.status_code == 200
    assert "Invitation pending" in _row(page.content, nina)
    assert "Resend" in _row(page.content, nina)
    assert "Invitation pending" not in _row(page.content, vera)
    assert "Resend" not in _row(page.content, vera)
    assert b"1 invitation pending" in page.content


def test_an_invitation_stops_being_pending_once_accepted(acme, nina):
    assert invitation_pending(nina)
    user = nina.user
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    assert not invitation_pending(Membership.objects.select_related("user").get(pk=nina.pk))
    user.last_login = None
    user.set_password("a long new passphrase")
    user.save()
    assert not invitation_pending(Membership.objects.select_related("user").get(pk=nina.pk))


def test_resend_sends_a_new_link_and_is_audited(
    acme, world, alice_portal, nina, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_portal.post(f"/accounts/members/{nina.pk}/resend")
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == ["nina@acme.example"]
    assert "/accounts/password-reset/" in message.body
    event = AuditEvent.objects.get(action=AuditAction.MEMBER_INVITATION_RESENT)
    assert event.actor_email == "alice@acme.example"
    assert event.extra == {"email": "nina@acme.example", "workspace": "general"}


def test_withdraw_removes_the_membership_and_the_unused_account(acme, alice_portal, nina):
    response = alice_portal.post(f"/accounts/members/{nina.pk}/withdraw")
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=nina.pk).exists()
    assert not User.objects.filter(email="nina@acme.example").exists()
    event = AuditEvent.objects.get(action=AuditAction.MEMBER_INVITATION_WITHDRAWN)
    assert event.extra == {
        "email": "nina@acme.example",
        "workspace": "general",
        "account_deleted": True,
    }
    assert AuditEvent.objects.filter(action=AuditAction.MEMBERSHIP_DELETED).exists()
    # The link of the email sent before names nobody now; inviting again works.
    again = alice_portal.post(
        "/accounts/members/?workspace=general", {"email": "nina@acme.example", "role": "viewer"}
    )
    assert again.status_code == 302
    assert Membership.objects.filter(user__email="nina@acme.example").exists()


def test_withdraw_keeps_an_account_invited_elsewhere_too(acme, alice_portal, nina):
    sales = Workspace.objects.get(slug="sales")
    Membership.objects.create(workspace=sales, user=nina.user, role=Role.VIEWER)
    alice_portal.post(f"/accounts/members/{nina.pk}/withdraw")
    assert not Membership.objects.filter(pk=nina.pk).exists()
    assert User.objects.filter(email="nina@acme.example").exists()

    # A group keeps the account too.
    Membership.objects.filter(user=nina.user).delete()
    group = Group.objects.create(name="Finance", slug="finance")
    GroupMember.objects.create(group=group, user=nina.user)
    again = Membership.objects.create(workspace=sales, user=nina.user, role=Role.VIEWER)
    alice_portal.post(f"/accounts/members/{again.pk}/withdraw")
    assert User.objects.filter(email="nina@acme.example").exists()


@pytest.mark.parametrize("action", ["resend", "withdraw"])
def test_an_accepted_invitation_cannot_be_resent_or_withdrawn(acme, alice_portal, vera, action):
    response = alice_portal.post(f"/accounts/members/{vera.pk}/{action}")
    assert response.status_code == 400
    assert b"has accepted the invitation already" in response.content
    assert Membership.objects.filter(pk=vera.pk).exists()
    assert mail.outbox == []


@pytest.mark.parametrize("action", ["resend", "withdraw"])
def test_only_the_workspaces_admins_may(acme, world, nina, vera, action):
    viewer = portal_client(world.acme, "vera@acme.example")
    assert viewer.post(f"/accounts/members/{nina.pk}/{action}").status_code == 403
    # bob is in Sales only: General's memberships do not exist for him.
    bob = portal_client(world.acme, "bob@acme.example")
    assert bob.post(f"/accounts/members/{nina.pk}/{action}").status_code == 404
    assert bob.get(f"/accounts/members/{nina.pk}/{action}").status_code in (404, 405)
    assert Membership.objects.filter(pk=nina.pk).exists()
    assert mail.outbox == []


def test_a_workspace_admin_may(acme, world, nina, vera):
    vera.role = Role.ADMIN
    vera.save(update_fields=["role"])
    admin = portal_client(world.acme, "vera@acme.example")
    assert admin.post(f"/accounts/members/{nina.pk}/withdraw").status_code == 302
    assert not Membership.objects.filter(pk=nina.pk).exists()


def test_the_members_api_says_which_invitations_are_pending(acme, alice_api, nina, vera):
    rows = alice_api.get("/api/v1/members", {"workspace": "general"}).json()["results"]
    pending = {row["email"]: row["invitation_pending"] for row in rows}
    assert pending == {
        "alice@acme.example": False,
        "nina@acme.example": True,
        "vera@acme.example": False,
    }
