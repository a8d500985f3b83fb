"""The portal's Workspaces page: the owner and workspace admins create workspaces,
rename and archive the ones they administer, and go to each one's members and groups;
the owner restores archived ones or deletes them for good. Every action checks the role
on the server."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.audit import audit_context
from workspaces import services
from workspaces.access import is_admin_anywhere, owner_check
from workspaces.models import Role, Workspace
from workspaces.portal import workspace_view
from workspaces.selectors import workspaces_administered, workspaces_archived


def _admin_anywhere_check(user) -> None:
    if not is_admin_anywhere(user):
        raise PermissionDenied(_("Managing workspaces needs the admin role in a workspace."))


def _page(request, *, errors: dict | None = None, form=None, status: int = 200):
    return render(
        request,
        "workspaces/workspace_list.html",
        {
            "workspaces": workspaces_administered(request.user),
            "archived": workspaces_archived(request.user),
            "errors": errors or {},
            "form": form or {},
        },
        status=status,
    )


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "error_dict") else {"workspace": exc.messages}


@never_cache
@login_required
def workspace_list(request):
    """The workspaces the person administers (archived ones too, for the owner)."""
    _admin_anywhere_check(request.user)
    return _page(request)


@login_required
@require_POST
def workspace_create(request):
    """Create a workspace; its creator becomes its admin."""
    _admin_anywhere_check(request.user)
    try:
        workspace = services.workspace_create(
            name=request.POST.get("name", ""),
            slug=request.POST.get("slug", ""),
            creator=request.user,
            audit=audit_context(request),
        )
    except ValidationError as exc:
        return _page(request, errors=_errors(exc), form=request.POST, status=400)
    messages.success(
        request,
        _("Created %(name)s. Add its members, then upload or connect a source.")
        % {"name": workspace.name},
    )
    return redirect(f"/workspaces/#workspace-{workspace.slug}")


@require_POST
@workspace_view(Role.ADMIN)
def workspace_rename(request):
    """Rename the workspace named by ``?workspace=`` (its admins)."""
    try:
        services.workspace_rename(
            workspace=request.workspace,
            name=request.POST.get("name", ""),
            audit=audit_context(request),
        )
    except ValidationError as exc:
        return _page(request, errors=_errors(exc), status=400)
    messages.success(
        request, _("Renamed the workspace to %(name)s.") % {"name": request.workspace.name}
    )
    return redirect(f"/workspaces/#workspace-{request.workspace.slug}")


@require_POST
@workspace_view(Role.ADMIN)
def workspace_archive(request):
    """Archive the workspace named by ``?workspace=`` (its admins)."""
    try:
        services.workspace_archive(workspace=request.workspace, audit=audit_context(request))
    except ValidationError as exc:
        return _page(request, errors=_errors(exc), status=400)
    archived = (
        _("Archived %(name)s. You can restore it here.")
        if request.user.is_owner
        else _("Archived %(name)s. The owner can restore it here.")
    )
    messages.success(request, archived % {"name": request.workspace.name})
    return redirect("/workspaces/")


@login_required
@require_POST
def workspace_restore(request):
    """Restore an archived workspace (the owner: nobody else sees archived ones)."""
    owner_check(request.user)
    workspace = Workspace.objects.filter(slug=request.POST.get("workspace", "")).first()
    if workspace is None:
        raise Http404("No such workspace.")
    try:
        services.workspace_restore(workspace=workspace, audit=audit_context(request))
    except ValidationError as exc:
        return _page(request, errors=_errors(exc), status=400)
    messages.success(request, _("Restored %(name)s.") % {"name": workspace.name})
    return redirect(f"/workspaces/#workspace-{workspace.slug}")


@login_required
@require_POST
def workspace_delete(request):
    """Delete an archived workspace with everything in it (the owner only). Deleting is
    for good, so it takes two steps: archive first, then confirm by typing the name."""
    owner_check(request.user)
    workspace = Workspace.objects.filter(slug=request.POST.get("workspace", "")).first()
    if workspace is None:
        raise Http404("No such workspace.")
    if workspace.archived_at is None:
        message = _("Archive %(name)s first: only an archived workspace can be deleted.")
        return _page(
            request, errors={"workspace": [message % {"name": workspace.name}]}, status=400
        )
    if " ".join(request.POST.get("confirm", "").split()) != workspace.name:
        message = _("Type the workspace's name, %(name)s, to delete it.")
        return _page(
            request, errors={"workspace": [message % {"name": workspace.name}]}, status=400
        )
    name = workspace.name
    try:
        count = services.workspace_delete(workspace=workspace, audit=audit_context(request))
    except ValidationError as exc:
        return _page(request, errors=_errors(exc), status=400)
    deleted = ngettext(
        "Deleted %(name)s and its %(count)s document.",
        "Deleted %(name)s and its %(count)s documents.",
        count,
    )
    messages.success(request, deleted % {"name": name, "count": count})
    return redirect("/workspaces/")
