from django.contrib import admin, messages

from accounts.audit import audit_context
from workspaces import services
from workspaces.models import Group, GroupMember, GroupRole, Membership, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_default", "created_at")
    inlines = [MembershipInline]

    # Deleting erases the workspace's documents with their stored originals
    # (``services.workspace_delete``), not only its rows.
    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_default:
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        services.workspace_delete(workspace=obj, audit=audit_context(request))

    def delete_queryset(self, request, queryset):
        audit = audit_context(request)
        if queryset.filter(is_default=True).exists():
            self.message_user(
                request, "The default workspace cannot be deleted; it was kept.", messages.WARNING
            )
        for workspace in queryset.exclude(is_default=True):
            services.workspace_delete(workspace=workspace, audit=audit)

    def save_formset(self, request, form, formset, change):
        """Memberships change through the service, so each change is audited."""
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        audit = audit_context(request)
        memberships = formset.save(commit=False)
        for membership in formset.deleted_objects:
            services.membership_delete(membership=membership, audit=audit)
        for membership in memberships:
            services.membership_save(membership=membership, audit=audit)
        formset.save_m2m()


class GroupMemberInline(admin.TabularInline):
    model = GroupMember
    extra = 0
    autocomplete_fields = ["user"]


class GroupRoleInline(admin.TabularInline):
    model = GroupRole
    extra = 0


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    """Groups with their members and workspace roles; the slug is fixed once created
    (readers name the group by it)."""

    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    inlines = [GroupMemberInline, GroupRoleInline]

    def get_readonly_fields(self, request, obj=None):
        return ("slug",) if obj is not None else ()
