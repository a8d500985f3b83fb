"""The admins' list of conflicting sources: documents to reconcile."""

from __future__ import annotations

from django.shortcuts import render

from search.conflict_reports import workspace_conflicts
from workspaces.models import Role
from workspaces.portal import workspace_view


@workspace_view(Role.ADMIN)
def conflicts(request):
    """Documents whose passages, cited for one question, state different values."""
    found = workspace_conflicts(workspace=request.workspace, viewer=request.user)
    return render(request, "search/conflicts.html", {"conflicts": found[:200]})
