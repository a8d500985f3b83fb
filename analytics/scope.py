"""Whose figures a caller sees: the workspaces they administer, or all for an owner."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from accounts.models import User
from workspaces.access import role_in, workspaces_readable
from workspaces.models import Role, Workspace


@dataclass(frozen=True)
class AnalyticsScope:
    """The workspaces counted together, and how the dashboard names them."""

    workspaces: list[Workspace]
    all_workspaces: bool  # an owner's "every workspace" view
    # The organization keeps question text (AUDIT_RECORD_QUESTION_TEXT) and the caller
    # administers every workspace counted: question text may be shown.
    show_text: bool

    @property
    def label(self) -> str:
        return "All workspaces" if self.all_workspaces else self.workspaces[0].name


def workspaces_administered(user: User) -> list[Workspace]:
    """The workspaces ``user`` administers (every one for an owner), by name."""
    readable = workspaces_readable(user).order_by("name")
    if user.is_owner:
        return list(readable)
    return [w for w in readable if role_in(user, w) == Role.ADMIN]


def analytics_scope(
    *, user: User, workspace: Workspace, every: bool, readable: QuerySet[Workspace]
) -> AnalyticsScope:
    """``workspace`` (its admin role already checked by the view), or with ``every``
    and an owner, every workspace of ``readable``: what the caller may read, i.e. the
    whole organization for an owner signed in, and only the workspaces an API token is
    bound to."""
    if every and user.is_owner:
        workspaces = list(readable.order_by("name"))
        return AnalyticsScope(workspaces, True, settings.AUDIT_RECORD_QUESTION_TEXT)
    return AnalyticsScope([workspace], False, settings.AUDIT_RECORD_QUESTION_TEXT)
