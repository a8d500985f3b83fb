"""The admin site, audited: every add, change and delete made in the Django admin is
recorded in the audit log, whichever app registered the model.

``accounts.admin_apps.AuditedAdminConfig`` replaces ``django.contrib.admin`` in
INSTALLED_APPS; its site wraps every registered ModelAdmin in ``AuditedAdminMixin`` at
registration, so a new ModelAdmin cannot forget it.
"""

from __future__ import annotations

from django.contrib import admin

from accounts.audit import AuditAction, audit_context, audit_record


def _record(request, action: str, obj, message="") -> None:
    audit_record(
        action=action,
        context=audit_context(request),
        target_type=obj._meta.label_lower,
        target_id=obj.pk,
        extra={"repr": str(obj)[:200], "change": message if isinstance(message, list) else []},
    )


class AuditedAdminMixin:
    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        _record(request, AuditAction.ADMIN_ADDED, obj, message)
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        _record(request, AuditAction.ADMIN_CHANGED, obj, message)
        return entry

    def log_deletions(self, request, queryset):
        # Called before the deletion, with every object about to go.
        objects = list(queryset)
        entries = super().log_deletions(request, objects)
        for obj in objects:
            _record(request, AuditAction.ADMIN_DELETED, obj)
        return entries


class AuditedAdminSite(admin.AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, AuditedAdminMixin):
            admin_class = type(
                admin_class.__name__,
                (AuditedAdminMixin, admin_class),
                {"__module__": admin_class.__module__},
            )
        return super().register(model_or_iterable, admin_class, **options)
