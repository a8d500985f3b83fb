"""The base of every organization API view: resolves the caller's workspace, role and scope."""

from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from accounts.models import ApiToken
from workspaces.access import (
    OWNER,
    owner_check,
    token_scope_check,
    workspace_for,
    workspaces_readable,
)
from workspaces.api_schema import ApiAutoSchema
from workspaces.models import Role, Workspace


class WorkspaceAPIView(APIView):
    """Base of every organization API view: resolves the caller's workspace, role and scope.

    ``required_roles`` maps an HTTP method to the workspace role it needs (or ``OWNER``);
    ``required_scopes`` maps it to the scope an API token needs for it. A token request
    without the scope answers 403 (a method without a declared scope refuses tokens);
    session and basic requests are checked by role only. The workspace comes from the
    ``workspace`` parameter (its slug) or is the caller's default one; a workspace the
    caller is not a member of, or the token is not bound to, answers 404. Subclasses read
    data only through ``scoped_queryset()``, never an unscoped manager.
    """

    required_roles: dict[str, str] = {"GET": Role.VIEWER, "HEAD": Role.VIEWER}
    required_scopes: dict[str, str] = {}
    schema = ApiAutoSchema()
    # False for detail views: the object names its workspace, and ``object_workspace_check``
    # verifies the caller's role there.
    workspace_from_request = True
    workspace: Workspace

    def handle_exception(self, exc):
        # An error is JSON whatever the request asked for (the audit log's ``?format=csv``,
        # a streamed answer): the schema promises ``detail``, and a client parses it.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    def required_role(self) -> str:
        role = self.required_roles.get(self.request.method)
        if role is None:
            raise exceptions.MethodNotAllowed(self.request.method)
        return role

    def required_scope(self) -> str | None:
        method = self.request.method
        return self.required_scopes.get("GET" if method == "HEAD" else method)

    @property
    def token(self) -> ApiToken | None:
        """The API token the request came with, if any."""
        auth = self.request.auth
        return auth if isinstance(auth, ApiToken) else None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        role = self.required_role()
        token_scope_check(self.token, self.required_scope())
        if role == OWNER:
            owner_check(request.user)
            return
        if not self.workspace_from_request:
            return
        slug = request.query_params.get("workspace")
        if slug is None and hasattr(request.data, "get"):
            slug = request.data.get("workspace")
        self.workspace = workspace_for(request.user, slug or None, role=role, token=self.token)

    def readable_workspaces(self):
        """The workspaces the caller may read (those the token is bound to, for a token)."""
        return workspaces_readable(self.request.user, token=self.token)

    def object_workspace_check(self, workspace: Workspace) -> None:
        """Raise 404/403 unless the caller holds the required role in ``workspace``."""
        self.workspace = workspace_for(
            self.request.user, workspace.slug, role=self.required_role(), token=self.token
        )

    def scoped_queryset(self):
        raise NotImplementedError
