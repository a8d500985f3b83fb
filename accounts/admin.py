from django.contrib import admin, messages
from django.db import connection
from django_tenants.utils import get_public_schema_name

from accounts import services
from accounts.audit import audit_context
from accounts.models import AccessSettings, ApiToken, AuditEvent, User
from tenants.quotas import member_admit


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("email", "full_name", "is_owner", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "full_name")
    list_filter = ("is_owner", "is_staff", "is_active")
    exclude = ("password",)

    def save_model(self, request, obj, form, change):
        if not change:
            member_admit()  # the plan's number of members (402 when reached)
        super().save_model(request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created in the portal or the API (the secret is shown there once)."""

    list_display = ("name", "prefix", "kind", "user", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("kind",)
    search_fields = ("name", "prefix", "user__email")
    readonly_fields = [f.name for f in ApiToken._meta.fields if f.name != "digest"]
    exclude = ("digest",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit log keeps pointing at it

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            services.token_revoke(token=token, audit=audit_context(request))
        messages.success(request, "Revoked.")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "actor_email", "target_type", "target_id", "ip")
    list_filter = ("action",)
    search_fields = ("actor_email", "target_id")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessSettings)
class AccessSettingsAdmin(admin.ModelAdmin):
    """The organization's maximum token lifetime; changes go through the audited service."""

    list_display = ("__str__", "token_max_days", "updated_at")
    fields = ("token_max_days",)

    def has_module_permission(self, request):
        # Hidden at the public domain: platform operators have no organization settings.
        if connection.schema_name == get_public_schema_name():
            return False
        return super().has_module_permission(request)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not AccessSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False  # empty the field instead: the environment's default applies

    def save_model(self, request, obj, form, change):
        saved = services.access_settings_update(
            token_max_days=obj.token_max_days, audit=audit_context(request)
        )
        obj.pk = saved.pk
