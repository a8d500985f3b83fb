"""Workspace resolution for portal views (the API's twin is ``api_base.WorkspaceAPIView``)."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required

from workspaces.access import workspace_for, workspaces_readable
from workspaces.models import ALL_WORKSPACES, Role
from workspaces.personal import personal_workspace_ensure


def workspace_view(
    role: str = Role.VIEWER, *, post_role: str | None = None, allow_all: bool = False
):
    """Decorate a portal view: sign-in required, ``request.workspace`` resolved.

    The workspace is the ``workspace`` query parameter (a slug) or the user's default;
    404 when the user is not a member, 403 when the role is too low. ``post_role``
    raises the bar for POST requests (e.g. viewers may look, editors may upload).

    With ``allow_all``, a GET with ``?workspace=all`` sets ``request.all_workspaces``
    (else False): the view reads every workspace in ``request.workspaces`` (where the
    person holds at least a viewer's role), and ``request.workspace`` is their default.
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            needed = post_role if (post_role and request.method == "POST") else role
            slug = request.GET.get("workspace") or None
            request.all_workspaces = (
                allow_all and slug == ALL_WORKSPACES and request.method in ("GET", "HEAD")
            )
            if request.all_workspaces:
                slug = None
            # Every member has "My Documents" (workspaces.personal), made on the first
            # page they open (a GET: a form's refusal changes nothing).
            if request.method == "GET":
                personal_workspace_ensure(request.user)
            request.workspace = workspace_for(request.user, slug, role=needed)
            request.workspaces = workspaces_readable(request.user)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
