"""Workspaces partition an organization's content; memberships give people a role in one."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# Not a workspace's slug: ``?workspace=all`` on a page that lists across workspaces
# (``portal.workspace_view(allow_all=True)``); no workspace may take it.
ALL_WORKSPACES = "all"


class Workspace(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set while the workspace is archived: out of use for everyone (``workspaces_readable``
    # leaves it out), its content kept until the owner restores or deletes it.
    archived_at = models.DateTimeField(null=True, blank=True)
    # Set on a member's personal workspace ("My Documents", ``workspaces.personal``): that
    # member alone reads and administers it, the organization's owner included.
    personal_of = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="personal_workspace",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            # At most one default workspace per organization (schema).
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_workspace",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    VIEWER = "viewer", _("Viewer")
    EDITOR = "editor", _("Editor")
    ADMIN = "admin", _("Admin")


# What each role may do; a role includes everything of the roles before it.
ROLE_ORDER = [Role.VIEWER, Role.EDITOR, Role.ADMIN]


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"

    def allows(self, role: str) -> bool:
        """True when this membership's role includes ``role``."""
        return ROLE_ORDER.index(Role(self.role)) >= ROLE_ORDER.index(Role(role))


class Group(models.Model):
    """A named set of members of the organization, e.g. "Finance" or "Contractors".

    A group can be a document reader (``group:<slug>`` in ``Document.readers``) and can
    hold a role in workspaces (``GroupRole``): its members get that role there. Not to
    be confused with ``django.contrib.auth``'s groups, which OPAA does not use.
    """

    name = models.CharField(max_length=200)
    # How readers name the group: ``group:<slug>``.
    slug = models.SlugField(max_length=63, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="GroupMember", related_name="member_groups", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "member group"

    def __str__(self) -> str:
        return self.name


class GroupMember(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="one_group_member_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"


class GroupRole(models.Model):
    """A group's role in a workspace: every member of the group holds it there.

    A member's effective role is the highest of their own membership's and their
    groups' roles (``workspaces.access.role_in``).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="group_roles")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "group"], name="one_role_per_group")
        ]

    def __str__(self) -> str:
        return f"{self.group} in {self.workspace} ({self.role})"
