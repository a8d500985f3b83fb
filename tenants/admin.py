from django.contrib import admin
from django_tenants.admin import TenantAdminMixin

from tenants.models import Domain, Organization


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "schema_name", "created_at")
    search_fields = ("name", "slug")
    inlines = [DomainInline]
