"""The base of every organization API view: resolves the caller's workspace, role and scope."""

from typing import final

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from accounts.models import ApiToken
from workspaces.access import (
    OWNER,
    object_for,
    owner_check,
    token_scope_check,
    workspace_for,
    workspace_of,
    workspaces_readable,
)
from workspaces.api_schema import ApiAutoSchema
from workspaces.models import Role, Workspace
from workspaces.readers import reader_scope


class WorkspaceAPIView(APIView):
    """Base of every organization API view: resolves the caller's workspace, role and scope.

    ``required_roles`` maps an HTTP method to the workspace role it needs (or ``OWNER``);
    ``required_scopes`` maps it to the scope an API token needs for it. A token request
    without the scope answers 403 (a method without a declared scope refuses tokens);
    session and basic requests are checked by role only. The workspace comes from the
    ``workspace`` parameter (its slug) or is the caller's default one; a workspace the
    caller is not a member of, or the token is not bound to, answers 404.

    Scoping is done here, once, and cannot be skipped: a subclass says what it reads in
    ``scoped_queryset()`` (the model, ``select_related``, its own narrowing such as "the
    caller's own"), and reads it through ``get_queryset()`` and ``get_object()``, which
    add the workspace (``workspace_field``) and, with ``reader_scoped``, the document
    readers. Neither may be overridden (tests/accounts/test_api_scoping_meta.py).
    """

    required_roles: dict[str, str] = {"GET": Role.VIEWER, "HEAD": Role.VIEWER}
    required_scopes: dict[str, str] = {}
    schema = ApiAutoSchema()
    # False for detail views: the object names its workspace, and ``get_object`` verifies
    # the caller's role there.
    workspace_from_request = True
    workspace: Workspace
    # The lookup from a row to its workspace ("workspace", "question__workspace", ...);
    # None for rows of the organization rather than of a workspace (groups, tokens, the
    # audit log), whose ``scoped_queryset`` is the caller's share of them by itself.
    workspace_field: str | None = "workspace"
    # True: the rows have ``readers`` (documents); only those the caller may read are seen.
    reader_scoped = False

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

    def scoped_queryset(self) -> QuerySet:
        """What the view reads, before scoping: subclasses narrow only (model,
        ``select_related``, their own filters); ``get_queryset()`` adds the scope."""
        raise NotImplementedError

    @final
    def get_queryset(self) -> QuerySet:
        """``scoped_queryset()`` within the caller's reach: the request's workspace (or,
        for a detail view, every workspace the caller may read, as one subquery), and
        with ``reader_scoped`` only the rows whose readers include the caller."""
        queryset = self.scoped_queryset()
        if self.workspace_field is None:
            return queryset
        if not self.workspace_from_request:
            return queryset.filter(**{f"{self.workspace_field}__in": self.readable_workspaces()})
        queryset = queryset.filter(**{self.workspace_field: self.workspace})
        if self.reader_scoped:
            queryset = queryset.filter(reader_scope(self.request.user, [self.workspace]).q())
        return queryset

    @final
    def get_object(self, **lookup) -> Model:
        """The one row matching ``lookup`` (``pk=...``): 404 when it is not in a workspace
        the caller may read, 404 when the caller may not read it (``reader_scoped``),
        and only then 403 when the caller's role in its workspace is too low
        (``workspaces.access.object_for``). The object's workspace becomes
        ``self.workspace``."""
        if self.workspace_field is None:
            return get_object_or_404(self.get_queryset(), **lookup)
        obj = object_for(
            self.request.user,
            self.scoped_queryset(),
            role=self.required_role(),
            token=self.token,
            workspace_field=self.workspace_field,
            readable=self.object_readable,
            **lookup,
        )
        self.workspace = workspace_of(obj, self.workspace_field)
        return obj

    def object_readable(self, obj: Model) -> bool:
        """Whether the caller may read ``obj`` (found in a workspace they may read); a
        subclass may add a rule of its own (an answer: only its asker, unless shared)."""
        if not self.reader_scoped:
            return True
        workspace = workspace_of(obj, self.workspace_field or "workspace")
        readers = reader_scope(self.request.user, [workspace])
        return readers.can_read(workspace_id=workspace.pk, readers=obj.readers)

    def workspace_named(self, slug: str) -> Workspace:
        """The workspace ``slug`` names, if the caller holds the required role there
        (404 for one they may not read, 403 for a role too low); it becomes
        ``self.workspace``."""
        self.workspace = workspace_for(
            self.request.user, slug, role=self.required_role(), token=self.token
        )
        return self.workspace

    def unscoped_queryset(self) -> QuerySet:
        """``scoped_queryset()`` without the workspace scope: the named escape hatch, for
        a read that must see past the caller's workspaces. Say why where it is used."""
        return self.scoped_queryset()
