"""Workspace resolution for portal views (the API's twin is ``api_base.WorkspaceAPIView``)."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required

from workspaces.access import workspace_for, workspaces_readable
from workspaces.models import Role


def workspace_view(role: str = Role.VIEWER, *, post_role: str | None = None):
    """Decorate a portal view: sign-in required, ``request.workspace`` resolved.

    The workspace is the ``workspace`` query parameter (a slug) or the user's default;
    404 when the user is not a member, 403 when the role is too low. ``post_role``
    raises the bar for POST requests (e.g. viewers may look, editors may upload).
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            needed = post_role if (post_role and request.method == "POST") else role
            request.workspace = workspace_for(
                request.user, request.GET.get("workspace") or None, role=needed
            )
            request.workspaces = workspaces_readable(request.user)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
