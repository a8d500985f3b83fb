"""Groups API: named sets of members, usable as document readers and in role grants.

The organization's owner creates, renames and deletes groups and changes their
members; a workspace's admins see the groups and give them a role in that workspace.
Members' emails are shown to the owner only; an admin sees how many members a group
has (``member_count``) and ``members`` is null (docs/access.md, "Who sees a group's
members"). Every call needs the ``members:admin`` scope with a token.
"""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.audit import audit_context
from accounts.scopes import Scope
from workspaces import services
from workspaces.access import OWNER
from workspaces.api_base import WorkspaceAPIView
from workspaces.models import Group, GroupMember, GroupRole, Role

MAX_MEMBERS_PER_CHANGE = 500


class GroupRoleOutput(serializers.Serializer):
    workspace = serializers.CharField(source="workspace.slug")
    role = serializers.CharField()


class GroupOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField(help_text="Readers name the group as group:<slug>.")
    reader = serializers.SerializerMethodField(help_text="The group as a document reader.")
    members = serializers.SerializerMethodField(
        help_text="Members' emails, for the owner; null for a workspace admin (docs/access.md)."
    )
    member_count = serializers.SerializerMethodField(help_text="How many members the group has.")
    roles = GroupRoleOutput(many=True)
    created_at = serializers.DateTimeField()

    def get_reader(self, group) -> str:
        return f"group:{group.slug}"

    @extend_schema_field(serializers.ListField(child=serializers.EmailField(), allow_null=True))
    def get_members(self, group) -> list[str] | None:
        if not self.context.get("members_visible", True):
            return None
        return [membership.user.email for membership in group.memberships.all()]

    def get_member_count(self, group) -> int:
        return len(group.memberships.all())


def group_members_visible(user) -> bool:
    """Whether ``user`` may see who belongs to groups: the organization's owner only.

    A workspace admin could otherwise read any group's members by giving it a role in
    their workspace, reading, and taking the role away again; whatever the rule were
    tied to (roles held, workspaces administered) an admin can change, so admins see
    a group's name, slug, roles and member count, never its members.
    """
    return bool(user.is_owner)


class GroupInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(
        max_length=63, required=False, help_text="Defaults to the slugified name; never changes."
    )
    members = serializers.ListField(
        child=serializers.EmailField(), required=False, max_length=MAX_MEMBERS_PER_CHANGE
    )


class GroupChangeInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    add_members = serializers.ListField(
        child=serializers.EmailField(), required=False, max_length=MAX_MEMBERS_PER_CHANGE
    )
    remove_members = serializers.ListField(
        child=serializers.EmailField(), required=False, max_length=MAX_MEMBERS_PER_CHANGE
    )


class GroupRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


def _groups():
    return Group.objects.prefetch_related(
        Prefetch("memberships", queryset=GroupMember.objects.select_related("user")),
        Prefetch("roles", queryset=GroupRole.objects.select_related("workspace")),
    )


class GroupListView(WorkspaceAPIView):
    """The organization's groups (for an admin of the ``workspace``), or create one (owner)."""

    required_roles = {"GET": Role.ADMIN, "POST": OWNER}
    required_scopes = {"GET": Scope.MEMBERS_ADMIN, "POST": Scope.MEMBERS_ADMIN}
    # Groups belong to the organization (this schema), not to a workspace.
    workspace_field = None

    def scoped_queryset(self):
        return _groups()

    @extend_schema(
        parameters=[OpenApiParameter("workspace", str, description="A workspace you administer.")],
        responses=GroupOutput(many=True),
    )
    def get(self, request):
        context = {"members_visible": group_members_visible(request.user)}
        return Response(GroupOutput(self.get_queryset(), many=True, context=context).data)

    @extend_schema(request=GroupInput, responses={201: GroupOutput})
    def post(self, request):
        data = GroupInput(data=request.data)
        data.is_valid(raise_exception=True)
        audit = audit_context(request)
        group = services.group_create(
            name=data.validated_data["name"], slug=data.validated_data.get("slug", ""), audit=audit
        )
        if data.validated_data.get("members"):
            services.group_members_change(
                group=group, add=data.validated_data["members"], audit=audit
            )
        group = self.get_object(pk=group.pk)
        return Response(GroupOutput(group).data, status=status.HTTP_201_CREATED)


class GroupDetailView(WorkspaceAPIView):
    """One group; PATCH renames it or adds/removes members, DELETE deletes it (owner)."""

    required_roles = {"GET": Role.ADMIN, "PATCH": OWNER, "DELETE": OWNER}
    required_scopes = {
        "GET": Scope.MEMBERS_ADMIN,
        "PATCH": Scope.MEMBERS_ADMIN,
        "DELETE": Scope.MEMBERS_ADMIN,
    }
    workspace_field = None  # as for the list: the organization's groups

    def scoped_queryset(self):
        return _groups()

    @extend_schema(responses=GroupOutput)
    def get(self, request, slug: str):
        context = {"members_visible": group_members_visible(request.user)}
        return Response(GroupOutput(self.get_object(slug=slug), context=context).data)

    @extend_schema(request=GroupChangeInput, responses=GroupOutput)
    def patch(self, request, slug: str):
        group = self.get_object(slug=slug)
        data = GroupChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        audit = audit_context(request)
        if "name" in data.validated_data:
            services.group_rename(group=group, name=data.validated_data["name"], audit=audit)
        services.group_members_change(
            group=group,
            add=data.validated_data.get("add_members", []),
            remove=data.validated_data.get("remove_members", []),
            audit=audit,
        )
        return Response(GroupOutput(self.get_object(slug=slug)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, slug: str):
        services.group_delete(group=self.get_object(slug=slug), audit=audit_context(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupRoleView(WorkspaceAPIView):
    """The group's role in a workspace you administer: PUT gives it, DELETE takes it away."""

    required_roles = {"PUT": Role.ADMIN, "DELETE": Role.ADMIN}
    required_scopes = {"PUT": Scope.MEMBERS_ADMIN, "DELETE": Scope.MEMBERS_ADMIN}
    workspace_from_request = False
    workspace_field = None  # the group is the organization's; the workspace is in the URL

    def scoped_queryset(self):
        return Group.objects.all()

    def _resolve(self, slug: str, workspace_slug: str):
        workspace = self.workspace_named(workspace_slug)
        return self.get_object(slug=slug), workspace

    @extend_schema(request=GroupRoleInput, responses=GroupRoleOutput)
    def put(self, request, slug: str, workspace: str):
        group, target = self._resolve(slug, workspace)
        data = GroupRoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        grant = services.group_role_set(
            group=group,
            workspace=target,
            role=data.validated_data["role"],
            audit=audit_context(request),
        )
        return Response(GroupRoleOutput(grant).data)

    @extend_schema(responses={204: None})
    def delete(self, request, slug: str, workspace: str):
        group, target = self._resolve(slug, workspace)
        services.group_role_set(
            group=group, workspace=target, role=None, audit=audit_context(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
