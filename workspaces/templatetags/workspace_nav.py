"""Top-bar helpers: which workspace a non-owner's "Members" link leads to."""

from __future__ import annotations

from django import template
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from workspaces.access import role_in, workspaces_readable
from workspaces.models import GroupRole, Membership, Role

register = template.Library()


@register.simple_tag(takes_context=True)
def administered_workspace(context) -> str:
    """The slug of a workspace the signed-in person administers, or "" (no link).

    The current page's workspace when they administer it; on a page without one, the
    first workspace they administer. Owners have their own links and get "".
    """
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_owner:
        return ""
    workspace = getattr(request, "workspace", None)
    if workspace is not None and workspace.personal_of_id is None:
        return workspace.slug if role_in(user, workspace) == Role.ADMIN else ""
    # "My Documents" has no members to manage (workspaces.personal).
    administered = workspaces_readable(user).filter(personal_of__isnull=True).filter(
        pk__in=Membership.objects.filter(user=user, role=Role.ADMIN).values("workspace_id")
    ) | workspaces_readable(user).filter(personal_of__isnull=True).filter(
        pk__in=GroupRole.objects.filter(group__memberships__user=user, role=Role.ADMIN).values(
            "workspace_id"
        )
    )
    first = administered.order_by("-is_default", "name").first()
    return first.slug if first else ""


@register.simple_tag(takes_context=True)
def role_allows(context, role: str, workspace=None) -> bool:
    """Whether the signed-in person holds ``role`` in ``workspace`` (default: the page's).

    Pages offer only what the person's role allows (issue 16: viewers were offered Upload,
    Delete and Sources, then refused). On a page without a workspace: whether they hold
    ``role`` anywhere, the owner everywhere.
    """
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    if user.is_owner:
        return True
    workspace = workspace or getattr(request, "workspace", None)
    if workspace is None:
        if role == Role.ADMIN:
            return bool(administered_workspace(context))
        return any(role_allows(context, role, ws) for ws in workspaces_readable(user))
    current = role_in(user, workspace)
    return current is not None and Membership(role=current).allows(role)


@register.simple_tag(takes_context=True)
def nav_current(context, prefix: str) -> str:
    """``aria-current="page"`` for the top bar's link to the page being shown."""
    request = context.get("request")
    path = getattr(request, "path", "") or ""
    return mark_safe(' aria-current="page"') if path.startswith(prefix) else ""


@register.filter
def workspace_label(workspace, user) -> str:
    """A workspace's name as ``user`` sees it: someone else's "My Documents" (a document
    shared from it) names its person (``workspaces.personal``)."""
    if workspace.personal_of_id and workspace.personal_of_id != getattr(user, "pk", None):
        return _("My Documents of %(email)s") % {"email": workspace.personal_of.email}
    return workspace.name
