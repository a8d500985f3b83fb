"""The platform operators' admin (public domain only): organizations, plans, usage.

Operators list organizations with today's usage, change an organization's plan and
overrides, suspend and resume it (actions), and delete it (the Delete button, which
asks for confirmation and calls ``tenants.services.organization_delete``). None of
this shows at an organization's own address: its owner administers only its schema.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django_tenants.admin import TenantAdminMixin
from django_tenants.utils import get_public_schema_name

from tenants import metering, services, suspension
from tenants.models import Domain, Organization, OrganizationStatus, Plan, UsageDay


class PublicOnlyAdmin(admin.ModelAdmin):
    """Visible to operators at the platform address, never at an organization's."""

    def _public(self) -> bool:
        return connection.schema_name == get_public_schema_name()

    def has_module_permission(self, request):
        return self._public() and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._public() and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return self._public() and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return self._public() and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._public() and super().has_delete_permission(request, obj)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


def _today_usage(field: str):
    today = UsageDay.objects.filter(organization=OuterRef("pk"), day=timezone.now().date())
    return Subquery(today.values(field)[:1])


@admin.register(Organization)
class OrganizationAdmin(TenantAdminMixin, PublicOnlyAdmin):
    list_display = (
        "name",
        "slug",
        "status",
        "plan",
        "questions_today",
        "llm_tokens_today",
        "documents",
        "storage_bytes",
        "created_at",
    )
    list_filter = ("status", "plan")
    list_select_related = ("plan",)
    search_fields = ("name", "slug")
    readonly_fields = ("schema_name", "status", "status_changed_at", "created_at")
    fields = (
        "name",
        "slug",
        "schema_name",
        "plan",
        "quota_overrides",
        "status",
        "status_changed_at",
        "suspension_reason",
        "created_at",
    )
    inlines = [DomainInline]
    actions = ["suspend", "resume", "measure_usage"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _questions=_today_usage("questions"),
                _tokens=_today_usage("llm_tokens"),
                _documents=_today_usage("documents"),
                _storage=_today_usage("storage_bytes"),
            )
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        # A bulk queryset delete would skip the schema drop and the erasure.
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="questions today", ordering="_questions")
    def questions_today(self, obj):
        return obj._questions or 0

    @admin.display(description="LLM tokens today", ordering="_tokens")
    def llm_tokens_today(self, obj):
        return obj._tokens or 0

    @admin.display(description="documents", ordering="_documents")
    def documents(self, obj):
        return obj._documents or 0

    @admin.display(description="storage (bytes)", ordering="_storage")
    def storage_bytes(self, obj):
        return obj._storage or 0

    @admin.action(description="Suspend the selected organizations")
    def suspend(self, request, queryset):
        done = 0
        for organization in queryset.filter(status=OrganizationStatus.ACTIVE):
            suspension.organization_suspend(
                organization=organization, reason=organization.suspension_reason
            )
            done += 1
        messages.success(request, f"Suspended {done} organization(s).")

    @admin.action(description="Resume the selected organizations")
    def resume(self, request, queryset):
        done = 0
        for organization in queryset.filter(status=OrganizationStatus.SUSPENDED):
            suspension.organization_resume(organization=organization)
            done += 1
        messages.success(request, f"Resumed {done} organization(s).")

    @admin.action(description="Measure today's usage now")
    def measure_usage(self, request, queryset):
        for organization in queryset.exclude(status=OrganizationStatus.SPARE):
            metering.usage_measure(organization=organization)
        messages.success(request, "Usage measured.")

    def delete_model(self, request, obj):
        services.organization_delete(organization=obj)

    def delete_queryset(self, request, queryset):
        for organization in queryset:
            services.organization_delete(organization=organization)


@admin.register(Plan)
class PlanAdmin(PublicOnlyAdmin):
    list_display = (
        "name",
        "code",
        "is_default",
        "members",
        "documents",
        "storage_bytes",
        "questions_per_day",
        "llm_tokens_per_month",
        "sources",
        "max_upload_bytes",
    )


@admin.register(UsageDay)
class UsageDayAdmin(PublicOnlyAdmin):
    list_display = (
        "organization",
        "day",
        "questions",
        "llm_tokens",
        "documents_added",
        "sync_runs",
        "documents",
        "storage_bytes",
        "measured_at",
    )
    list_filter = ("day",)
    list_select_related = ("organization",)
    search_fields = ("organization__name", "organization__slug")
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
