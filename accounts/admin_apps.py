"""django.contrib.admin with the audited site (a module apart: it loads before models)."""

from django.contrib.admin.apps import AdminConfig


class AuditedAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.AuditedAdminSite"
