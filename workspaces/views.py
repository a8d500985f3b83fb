"""The portal's groups page: the owner manages groups and their members; a workspace's
admins see the groups, how many members each has, and give them a role in their
workspace; only the owner sees who the members are (``group_members_visible``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.audit import audit_context
from workspaces import services
from workspaces.access import owner_check
from workspaces.api import group_members_visible
from workspaces.models import Group, GroupMember, GroupRole, Role
from workspaces.portal import workspace_view


def _group(slug: str) -> Group:
    group = Group.objects.filter(slug=slug).first()
    if group is None:
        raise Http404("No such group.")
    return group


def _owner_action(request, action: str, audit) -> str:
    """Run an owner-only action; returns the message to show."""
    owner_check(request.user)
    post = request.POST
    if action == "create":
        group = services.group_create(
            name=post.get("name", ""), slug=post.get("slug", ""), audit=audit
        )
        return _("Created the group %(name)s (reader: group:%(slug)s).") % {
            "name": group.name,
            "slug": group.slug,
        }
    group = _group(post.get("group", ""))
    if action == "add-member":
        services.group_members_change(group=group, add=[post.get("email", "")], audit=audit)
        return _("Added %(email)s to %(group)s.") % {
            "email": post.get("email", "").strip(),
            "group": group.name,
        }
    if action == "remove-member":
        services.group_members_change(group=group, remove=[post.get("email", "")], audit=audit)
        return _("Removed %(email)s from %(group)s.") % {
            "email": post.get("email", "").strip(),
            "group": group.name,
        }
    if action == "delete":
        services.group_delete(group=group, audit=audit)
        return _("Deleted the group %(name)s.") % {"name": group.name}
    raise ValidationError(_("Unknown action."))


@workspace_view(Role.ADMIN)
def group_list(request):
    """GET lists groups; POST runs one action (``action`` field)."""
    if request.method == "POST":
        action = request.POST.get("action", "")
        audit = audit_context(request)
        try:
            if action == "role":
                group = _group(request.POST.get("group", ""))
                role = request.POST.get("role") or None
                services.group_role_set(
                    group=group, workspace=request.workspace, role=role, audit=audit
                )
                shown = Role(role).label if role else _("no role")
                messages.success(
                    request,
                    _("%(group)s now has %(role)s in %(workspace)s.")
                    % {"group": group.name, "role": shown, "workspace": request.workspace},
                )
            else:
                messages.success(request, _owner_action(request, action, audit))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except PermissionDenied:
            messages.error(request, _("Only the organization's owner may change groups."))
        return redirect(f"{reverse('workspaces:groups')}?workspace={request.workspace.slug}")
    groups = Group.objects.prefetch_related(
        Prefetch("memberships", queryset=GroupMember.objects.select_related("user")),
        Prefetch(
            "roles",
            queryset=GroupRole.objects.filter(workspace=request.workspace),
            to_attr="roles_here",
        ),
    )
    return render(
        request,
        "workspaces/group_list.html",
        {
            "groups": groups,
            "roles": Role.choices,
            "can_manage": request.user.is_owner,
            "members_visible": group_members_visible(request.user),
        },
    )
