from django.contrib import admin

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
