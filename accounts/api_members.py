"""Members API: who belongs to a workspace, and adding, re-roling and removing them.

Workspace admins (or the owner); a token needs the ``members:admin`` scope.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from accounts import members
from accounts.audit import audit_context
from accounts.scopes import Scope
from workspaces.api_base import WorkspaceAPIView
from workspaces.api_schema import QUOTA_ERROR
from workspaces.models import Membership, Role


class MemberOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The membership's id.")
    workspace = serializers.CharField(source="workspace.slug")
    user_id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    role = serializers.CharField()
    service_account = serializers.BooleanField(source="user.is_service_account")
    created_at = serializers.DateTimeField()
    invitation_pending = serializers.SerializerMethodField(
        help_text="True while the invited person has not set a password or signed in."
    )

    def get_invitation_pending(self, membership: Membership) -> bool:
        return members.invitation_pending(membership)


class MemberAddedOutput(MemberOutput):
    invited = serializers.BooleanField(help_text="True when an invitation email was sent.")


class MemberInput(serializers.Serializer):
    workspace = serializers.SlugField(required=False, help_text="Defaults to your default one.")
    email = serializers.CharField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


class RoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class MemberListView(WorkspaceAPIView):
    """The workspace's members, or add one (someone new to the organization is invited)."""

    required_roles = {"GET": Role.ADMIN, "POST": Role.ADMIN}
    required_scopes = {"GET": Scope.MEMBERS_ADMIN, "POST": Scope.MEMBERS_ADMIN}
    pagination_class = LimitOffsetPagination

    def scoped_queryset(self):
        return members.with_invitation_state(
            Membership.objects.select_related("user", "workspace").order_by("user__email")
        )

    @extend_schema(
        parameters=[OpenApiParameter("workspace", str, description="A workspace's slug.")],
        responses=MemberOutput(many=True),
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(self.get_queryset(), request, view=self)
        return paginator.get_paginated_response(MemberOutput(page, many=True).data)

    @extend_schema(request=MemberInput, responses={201: MemberAddedOutput, 402: QUOTA_ERROR})
    def post(self, request):
        data = MemberInput(data=request.data)
        data.is_valid(raise_exception=True)
        added = members.member_add(
            workspace=self.workspace,
            email=data.validated_data["email"],
            role=data.validated_data["role"],
            actor=request.user,
            base_url=request.build_absolute_uri("/"),
            audit=audit_context(request),
        )
        body = {**MemberOutput(added.membership).data, "invited": added.invited}
        return Response(body, status=status.HTTP_201_CREATED)


class MemberDetailView(WorkspaceAPIView):
    """Change a member's role, or remove them from the workspace."""

    required_roles = {"PATCH": Role.ADMIN, "DELETE": Role.ADMIN}
    required_scopes = {"PATCH": Scope.MEMBERS_ADMIN, "DELETE": Scope.MEMBERS_ADMIN}
    workspace_from_request = False

    def scoped_queryset(self):
        return Membership.objects.select_related("user", "workspace")

    @extend_schema(request=RoleInput, responses=MemberOutput)
    def patch(self, request, pk: int):
        membership = self.get_object(pk=pk)
        data = RoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = members.member_role_change(
            membership=membership,
            role=data.validated_data["role"],
            actor=request.user,
            audit=audit_context(request),
        )
        return Response(MemberOutput(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        members.member_remove(
            membership=self.get_object(pk=pk), actor=request.user, audit=audit_context(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
