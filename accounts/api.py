"""Tokens and audit log API."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts import selectors, services
from accounts.audit import AuditAction, audit_context
from accounts.exports import CSVRenderer, JSONLinesRenderer, event_row, export_response
from accounts.models import TokenKind
from accounts.scopes import SIGNED_IN_ONLY, Scope
from workspaces.access import OWNER
from workspaces.api_base import WorkspaceAPIView
from workspaces.models import Role


class TokenInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=TokenKind.choices, default=TokenKind.PERSONAL)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices))
    workspaces = serializers.ListField(
        child=serializers.SlugField(), help_text="Slugs of the workspaces it may act in."
    )
    expires_in_days = serializers.IntegerField(help_text="1 to TOKEN_MAX_DAYS (required).")


class TokenOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    prefix = serializers.CharField()
    owner = serializers.EmailField(source="user.email")
    scopes = serializers.ListField(child=serializers.CharField())
    workspaces = serializers.ListField(child=serializers.CharField(), source="workspace_slugs")
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    last_used_ip = serializers.IPAddressField(allow_null=True)


class TokenCreatedOutput(TokenOutput):
    token = serializers.CharField(help_text="The token itself: shown this once, never again.")


class TokenListView(WorkspaceAPIView):
    """Your tokens (the owner: every token), or create one. Needs a signed-in person."""

    required_roles = {"GET": Role.VIEWER, "POST": Role.VIEWER}
    required_scopes = {"GET": SIGNED_IN_ONLY, "POST": SIGNED_IN_ONLY}
    workspace_from_request = False
    workspace_field = None  # tokens belong to people; the selector keeps the caller's own
    pagination_class = LimitOffsetPagination

    def scoped_queryset(self):
        return selectors.tokens_manageable(user=self.request.user)

    @extend_schema(responses=TokenOutput(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(self.get_queryset(), request, view=self)
        tokens = selectors.tokens_with_workspaces(page)
        return paginator.get_paginated_response(TokenOutput(tokens, many=True).data)

    @extend_schema(request=TokenInput, responses={201: TokenCreatedOutput})
    def post(self, request):
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.token_create(
            creator=request.user,
            kind=data.validated_data["kind"],
            name=data.validated_data["name"],
            scopes=data.validated_data["scopes"],
            workspace_slugs=data.validated_data["workspaces"],
            expires_in_days=data.validated_data["expires_in_days"],
            audit=audit_context(request),
        )
        [token] = selectors.tokens_with_workspaces([created.token])
        body = {**TokenOutput(token).data, "token": created.secret}
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class TokenDetailView(WorkspaceAPIView):
    """Revoke a token; it fails from the next request on."""

    required_roles = {"DELETE": Role.VIEWER}
    required_scopes = {"DELETE": SIGNED_IN_ONLY}
    workspace_from_request = False
    workspace_field = None  # as for the list: the caller's own tokens (the owner: all)

    def scoped_queryset(self):
        return selectors.tokens_manageable(user=self.request.user)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        token = self.get_object(pk=pk)
        services.token_revoke(token=token, audit=audit_context(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.CharField()
    action = serializers.CharField()
    actor_user_id = serializers.IntegerField(allow_null=True)
    actor_email = serializers.CharField()
    actor_token_id = serializers.IntegerField(allow_null=True)
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    ip = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField()
    organization = serializers.CharField()
    extra = serializers.DictField()


class AuditListView(WorkspaceAPIView):
    """The organization's audit log, newest first: the owner only.

    ``?format=jsonl`` or ``?format=csv`` exports every matching event instead of a page.
    """

    required_roles = {"GET": OWNER}
    required_scopes = {"GET": Scope.AUDIT_READ}
    workspace_from_request = False
    workspace_field = None  # the organization's log, for its owner only
    pagination_class = LimitOffsetPagination
    renderer_classes = [JSONRenderer, JSONLinesRenderer, CSVRenderer]

    def scoped_queryset(self):
        filters = selectors.audit_filters_parse(self.request.query_params)
        return selectors.audit_events(filters=filters)

    @extend_schema(
        parameters=[
            OpenApiParameter("action", str, enum=AuditAction.values),
            OpenApiParameter("user", str, description="An email or a user id."),
            OpenApiParameter("since", str, description="ISO date or date-time (inclusive)."),
            OpenApiParameter("until", str, description="ISO date (whole day) or date-time."),
            OpenApiParameter("format", str, enum=["json", "jsonl", "csv"]),
        ],
        responses={
            (200, "application/json"): AuditEventOutput(many=True),
            (200, "application/jsonl"): str,
            (200, "text/csv"): str,
        },
    )
    def get(self, request):
        events = self.get_queryset()
        fmt = request.accepted_renderer.format
        if fmt in ("jsonl", "csv"):
            return export_response(events, fmt=fmt)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response([event_row(e) for e in page])
