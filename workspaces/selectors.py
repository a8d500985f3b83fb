"""Reads of workspaces for the portal's Workspaces page."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from accounts.models import User
from workspaces.access import workspaces_readable
from workspaces.models import GroupRole, Membership, Role, Workspace


def workspaces_administered(user: User) -> QuerySet[Workspace]:
    """The workspaces in use that ``user`` administers (the owner: all of them), each
    with ``member_count`` (people's own memberships), by name."""
    # Not the person's "My Documents": nobody else can be given a role there.
    readable = workspaces_readable(user).filter(personal_of__isnull=True)
    if not user.is_owner:
        direct = Membership.objects.filter(user=user, role=Role.ADMIN).values("workspace_id")
        via_groups = GroupRole.objects.filter(
            group__memberships__user=user, role=Role.ADMIN
        ).values("workspace_id")
        readable = readable.filter(Q(pk__in=direct) | Q(pk__in=via_groups))
    return readable.annotate(member_count=Count("memberships")).order_by("-is_default", "name")


def workspaces_archived(user: User) -> QuerySet[Workspace]:
    """The archived workspaces, for the owner only (nobody else sees them)."""
    if not (user.is_authenticated and user.is_active and user.is_owner):
        return Workspace.objects.none()
    return (
        Workspace.objects.filter(archived_at__isnull=False)
        .annotate(member_count=Count("memberships"))
        .order_by("name")
    )
