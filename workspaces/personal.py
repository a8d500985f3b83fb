"""Personal workspaces: every member's "My Documents", for their own uploads.

A personal workspace (``Workspace.personal_of``) has one member, its person, as admin;
``workspaces.access`` gives nobody else a role there and leaves it out of everyone
else's workspaces, the organization's owner's included, and out of the Workspaces page
(it is not a workspace to manage members of). Documents in it are shared into team
workspaces one by one (ingestion's sharing, docs/sharing.md).

It is made when its person signs in to the organization's site (``user_logged_in``),
checked again on the portal's pages (``workspaces.portal.workspace_view``: a session
older than this feature), and for the members there already by workspaces migration
0005.
"""

from __future__ import annotations

import secrets

from django.db import IntegrityError, connection, transaction
from django_tenants.utils import get_public_schema_name

from accounts.models import User
from workspaces.models import Membership, Role, Workspace
from workspaces.rls import workspaces_scope

# The name it is listed under; a personal workspace is always "My Documents" to its person.
PERSONAL_NAME = "My Documents"


def personal_slug(user_id: int) -> str:
    """The slug of a person's workspace, unless a team's workspace took it first."""
    return f"personal-{user_id}"


def personal_workspace_ensure(user: User) -> Workspace | None:
    """``user``'s personal workspace, made now if they have none (with their admin
    membership, in one transaction); None for who has none (signed out, inactive, a
    service account). Safe to run twice at once: the second finds the first's."""
    if not user.is_authenticated or not user.is_active or user.is_service_account:
        return None
    existing = Workspace.objects.filter(personal_of=user).first()
    if existing is not None:
        return existing
    slug = personal_slug(user.pk)
    if Workspace.objects.filter(slug=slug).exists():
        slug = f"{slug}-{secrets.token_hex(3)}"
    try:
        with transaction.atomic():
            workspace = Workspace.objects.create(name=PERSONAL_NAME, slug=slug, personal_of=user)
            # Not in the caller's row-level security scope yet: made in this one.
            with workspaces_scope([workspace.pk]):
                Membership.objects.create(workspace=workspace, user=user, role=Role.ADMIN)
    except IntegrityError:
        return Workspace.objects.filter(personal_of=user).first()
    return workspace


def personal_workspace_on_login(sender, request, user, **kwargs) -> None:
    """``user_logged_in``: the person's "My Documents" exists from their first page on
    (on an organization's site; the public site has no workspaces)."""
    if getattr(connection, "schema_name", None) in (None, get_public_schema_name()):
        return
    personal_workspace_ensure(user)
