from django.contrib import admin
from django.db import connection
from django_tenants.utils import get_public_schema_name

from accounts.audit import audit_context
from sso.forms import IdentityProviderForm
from sso.models import ExternalIdentity, IdentityProvider


class OrganizationOnlyAdmin(admin.ModelAdmin):
    """Hidden at the public domain, where organization tables do not exist."""

    def has_module_permission(self, request):
        if connection.schema_name == get_public_schema_name():
            return False
        return super().has_module_permission(request)


@admin.register(IdentityProvider)
class IdentityProviderAdmin(OrganizationOnlyAdmin):
    form = IdentityProviderForm
    list_display = ("name", "issuer", "enabled", "password_sign_in_disabled", "updated_at")

    def has_add_permission(self, request):
        # One provider per organization.
        return super().has_add_permission(request) and not IdentityProvider.objects.exists()

    def get_fields(self, request, obj=None):
        return IdentityProviderForm.Meta.fields

    def save_model(self, request, obj, form, change):
        form.save(audit=audit_context(request))


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(OrganizationOnlyAdmin):
    """Linking a local account to an SSO identity by hand is adding a row here."""

    list_display = ("user", "issuer", "subject", "created_at", "last_sign_in_at")
    search_fields = ("user__email", "subject")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "last_sign_in_at")
