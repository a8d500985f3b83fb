"""Who may do what in which workspace: the one place access is decided.

Portal views and API views both resolve the workspace through ``workspace_for``;
nothing else looks up a workspace from request input.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import F, Model, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from accounts.models import ApiToken, User
from accounts.scopes import SIGNED_IN_ONLY
from infra.errors import ApplicationError
from workspaces.models import ROLE_ORDER, GroupRole, Membership, Role, Workspace

# Not a workspace role: what only the organization's owner may do (e.g. read the audit log).
OWNER = "owner"

ObjectT = TypeVar("ObjectT", bound=Model)


def workspaces_readable(user: User, *, token: ApiToken | None = None) -> QuerySet[Workspace]:
    """Workspaces ``user`` is a member of (the owner sees all of the organization's);
    with an API token, only those of them the token is bound to. Archived workspaces are
    nobody's: out of use until the owner restores them (``services.workspace_archive``)."""
    if not user.is_authenticated or not user.is_active:
        return Workspace.objects.none()
    # A personal workspace ("My Documents") is its member's alone, whoever else holds a
    # role anywhere (the owner included; ``workspaces.personal``).
    in_use = Workspace.objects.filter(archived_at__isnull=True).filter(
        Q(personal_of__isnull=True) | Q(personal_of=user)
    )
    if user.is_owner:
        readable = in_use
    else:
        # A direct membership or a group's role: ids in a subquery, so no duplicates.
        direct = Membership.objects.filter(user=user).values("workspace_id")
        via_groups = GroupRole.objects.filter(group__memberships__user=user).values("workspace_id")
        readable = in_use.filter(Q(pk__in=direct) | Q(pk__in=via_groups) | Q(personal_of=user))
    if token is not None:
        readable = readable.filter(pk__in=token.workspace_ids)
    return readable


class ScopeMissing(ApplicationError):
    """403: the API token lacks the scope an operation needs. The answer names it
    (``{"detail": ..., "code": "scope_missing", "required_scope": "search:read"}``), so a
    script's author knows which token to make; a scope is no secret."""

    status_code = 403

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"This needs a token with the {scope} scope.",
            payload={"code": "scope_missing", "required_scope": scope},
        )
        self.scope = scope


class TokenRefused(ApplicationError):
    """403: no API token may do this (managing tokens, an undeclared method)."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__(
            "API tokens cannot do this; sign in instead.", payload={"code": "token_refused"}
        )


def token_scope_check(token: ApiToken | None, scope: str | None) -> None:
    """Raise ``ScopeMissing`` (403, naming ``scope``) unless ``token`` holds ``scope``; no
    token: no check.

    A method that declares no scope refuses every token (fail closed): ``TokenRefused``.
    """
    if token is None:
        return
    if scope is None or scope == SIGNED_IN_ONLY:
        raise TokenRefused()
    if scope not in token.scopes:
        raise ScopeMissing(scope)


def is_admin_anywhere(user: User) -> bool:
    """True when ``user`` is the owner or an admin of at least one workspace."""
    return (
        user.is_owner
        # Not counting "My Documents", which everyone administers (workspaces.personal).
        or Membership.objects.filter(
            user=user, role=Role.ADMIN, workspace__personal_of__isnull=True
        ).exists()
        or GroupRole.objects.filter(group__memberships__user=user, role=Role.ADMIN).exists()
    )


def owner_check(user: User) -> None:
    """Raise PermissionDenied unless ``user`` is the organization's owner."""
    if not (user.is_authenticated and user.is_active and user.is_owner):
        raise PermissionDenied(_("Only the organization's owner may do this."))


def role_in(user: User, workspace: Workspace) -> str | None:
    """The user's role in ``workspace``; owners are admins everywhere.

    The highest of the user's own membership's role and the roles their groups hold
    there (``GroupRole``); None when neither gives one.
    """
    if workspace.personal_of_id is not None:
        # "My Documents": its member administers it, nobody else has a role there.
        return Role.ADMIN if user.is_authenticated and workspace.personal_of_id == user.pk else None
    if user.is_owner:
        return Role.ADMIN
    roles = {
        *Membership.objects.filter(user=user, workspace=workspace).values_list("role", flat=True),
        *GroupRole.objects.filter(group__memberships__user=user, workspace=workspace).values_list(
            "role", flat=True
        ),
    }
    return max(roles, key=lambda role: ROLE_ORDER.index(Role(role))) if roles else None


def workspace_for(
    user: User, slug: str | None, *, role: str = Role.VIEWER, token: ApiToken | None = None
) -> Workspace:
    """The workspace named by ``slug`` (or the default one) if ``user`` holds ``role`` there.

    Raises Http404 both when the workspace does not exist and when the user is not a
    member (or the API ``token`` is not bound to it), so existence is never revealed;
    raises PermissionDenied when the user is a member whose role is too low.
    """
    readable = workspaces_readable(user, token=token)
    workspace = (
        readable.filter(slug=slug).first()
        if slug
        # The default workspace, else a team's before "My Documents".
        else readable.order_by(
            "-is_default", F("personal_of").asc(nulls_first=True), "name"
        ).first()
    )
    if workspace is None:
        raise Http404("No such workspace.")
    current = role_in(user, workspace)
    membership = Membership(role=current or Role.VIEWER)
    if current is None or not membership.allows(role):
        raise PermissionDenied(
            _("This needs the %(role)s role in the workspace %(workspace)s.")
            % {"role": Role(role).label, "workspace": workspace.name}
        )
    return workspace


def workspace_of(obj: Model, workspace_field: str = "workspace") -> Workspace:
    """The workspace ``obj`` belongs to, following ``workspace_field`` (``a__workspace``)."""
    return attrgetter(workspace_field.replace("__", "."))(obj)


def object_for(
    user: User,
    queryset: QuerySet[ObjectT],
    *,
    role: str,
    token: ApiToken | None = None,
    workspace_field: str = "workspace",
    readable: Callable[[ObjectT], bool] | None = None,
    **lookup,
) -> ObjectT:
    """The object of ``queryset`` matching ``lookup`` if ``user`` holds ``role`` in its
    workspace: the portal's and the API's one way to open an object by its id.

    In this order: Http404 when no such object lies in a workspace ``user`` may read
    (with a ``token``, one it is bound to); Http404 when ``readable(obj)`` is False (an
    object the person may not read is as missing as an unknown id, whatever the
    action); only then PermissionDenied (403) when their role there is too low.
    ``workspace_field`` leads from the object to its workspace (``question__workspace``);
    select it with ``queryset`` (``select_related``) to spare a query.
    """
    obj = get_object_or_404(
        queryset.filter(**{f"{workspace_field}__in": workspaces_readable(user, token=token)}),
        **lookup,
    )
    if readable is not None and not readable(obj):
        # Existence is not revealed: the same 404 as for an unknown id.
        raise Http404(f"No such {queryset.model._meta.verbose_name}.")
    workspace_for(user, workspace_of(obj, workspace_field).slug, role=role, token=token)
    return obj
