"""API-wide plumbing: the exception handler that keeps every error a clear JSON 4xx."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from workspaces.access import workspace_for
from workspaces.models import Role, Workspace


def exception_handler(exc, context):
    """DRF's handler, plus Django's ValidationError as a 400 with its messages."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)


class WorkspaceAPIView(APIView):
    """Base of every organization API view: resolves the caller's workspace and role.

    ``required_roles`` maps an HTTP method to the workspace role it needs. The
    workspace comes from the ``workspace`` parameter (its slug) or is the caller's
    default one; a workspace the caller is not a member of answers 404. Subclasses
    read data only through ``scoped_queryset()``, never an unscoped manager.
    """

    required_roles: dict[str, str] = {"GET": Role.VIEWER, "HEAD": Role.VIEWER}
    # False for detail views: the object names its workspace, and ``object_workspace_check``
    # verifies the caller's role there.
    workspace_from_request = True
    workspace: Workspace

    def required_role(self) -> str:
        role = self.required_roles.get(self.request.method)
        if role is None:
            raise exceptions.MethodNotAllowed(self.request.method)
        return role

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        role = self.required_role()
        if not self.workspace_from_request:
            return
        slug = request.query_params.get("workspace")
        if slug is None and hasattr(request.data, "get"):
            slug = request.data.get("workspace")
        self.workspace = workspace_for(request.user, slug or None, role=role)

    def object_workspace_check(self, workspace: Workspace) -> None:
        """Raise 404/403 unless the caller holds the required role in ``workspace``."""
        self.workspace = workspace_for(self.request.user, workspace.slug, role=self.required_role())

    def scoped_queryset(self):
        raise NotImplementedError
