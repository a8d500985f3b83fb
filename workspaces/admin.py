from django.contrib import admin

from accounts.audit import audit_context
from workspaces import services
from workspaces.models import Membership, Workspace


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
