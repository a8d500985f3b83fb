"""Who may do what in which workspace: the one place access is decided.

Portal views and API views both resolve the workspace through ``workspace_for``;
nothing else looks up a workspace from request input.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import User
from workspaces.models import Membership, Role, Workspace


def workspaces_readable(user: User) -> QuerySet[Workspace]:
    """Workspaces ``user`` is a member of (the owner sees all of the organization's)."""
    if not user.is_authenticated or not user.is_active:
        return Workspace.objects.none()
    if user.is_owner:
        return Workspace.objects.all()
    return Workspace.objects.filter(memberships__user=user)


def role_in(user: User, workspace: Workspace) -> str | None:
    """The user's role in ``workspace``; owners are admins everywhere."""
    if user.is_owner:
        return Role.ADMIN
    membership = Membership.objects.filter(user=user, workspace=workspace).first()
    return membership.role if membership else None


def workspace_for(user: User, slug: str | None, *, role: str = Role.VIEWER) -> Workspace:
    """The workspace named by ``slug`` (or the default one) if ``user`` holds ``role`` there.

    Raises Http404 both when the workspace does not exist and when the user is not a
    member, so existence is never revealed; raises PermissionDenied when the user is a
    member whose role is too low.
    """
    readable = workspaces_readable(user)
    workspace = (
        readable.filter(slug=slug).first()
        if slug
        else readable.order_by("-is_default", "name").first()
    )
    if workspace is None:
        raise Http404("No such workspace.")
    current = role_in(user, workspace)
    membership = Membership(role=current or Role.VIEWER)
    if current is None or not membership.allows(role):
        raise PermissionDenied(f"This needs the {role} role in the workspace {workspace.name}.")
    return workspace
