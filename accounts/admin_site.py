"""The admin site, audited: every add, change and delete made in the Django admin, and
every admin action run on selected objects, is recorded in the audit log, whichever app
registered the model.

``accounts.admin_apps.AuditedAdminConfig`` replaces ``django.contrib.admin`` in
INSTALLED_APPS; its site wraps every registered ModelAdmin in ``AuditedAdminMixin`` at
registration, so a new ModelAdmin cannot forget it.
"""

from __future__ import annotations

import functools
from functools import wraps

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.db import connection
from django_tenants.utils import get_public_schema_name

from accounts.audit import AuditAction, audit_context, audit_record


def _record(request, action: str, obj, message="") -> None:
    audit_record(
        action=action,
        context=audit_context(request),
        target_type=obj._meta.label_lower,
        target_id=obj.pk,
        extra={"repr": str(obj)[:200], "change": message if isinstance(message, list) else []},
    )


# Its deletions are recorded one by one by ``log_deletions``; its first call only asks
# for confirmation.
ACTIONS_RECORDED_OTHERWISE = {"delete_selected"}
# The most object ids one admin.action event lists (the count is always recorded).
ACTION_IDS_RECORDED = 100


def _audited_action(func, name: str):
    @wraps(func)
    def run(modeladmin, request, queryset):
        ids = [str(pk) for pk in queryset.values_list("pk", flat=True)[:ACTION_IDS_RECORDED]]
        count = queryset.count()
        response = func(modeladmin, request, queryset)
        audit_record(
            action=AuditAction.ADMIN_ACTION,
            context=audit_context(request),
            target_type=queryset.model._meta.label_lower,
            target_id=ids[0] if count == 1 else "",
            extra={"action": name, "count": count, "ids": ids},
        )
        return response

    return run


@functools.cache
def _labels(entries: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        config.label
        for config in apps.get_app_configs()
        if config.name in entries or f"{type(config).__module__}.{type(config).__name__}" in entries
    )


def model_belongs_here(model) -> bool:
    """True when ``model``'s table is one of this schema's: the platform's own (SHARED_APPS)
    at the public domain, an organization's (TENANT_APPS) at an organization's domain.

    At an organization's domain the public tables (organizations, plans, ...) are on the
    search path too, so without this an owner could list every organization.
    """
    public = connection.schema_name == get_public_schema_name()
    entries = settings.SHARED_APPS if public else settings.TENANT_APPS
    return model._meta.app_label in _labels(tuple(entries))


class AuditedAdminMixin:
    """Audits every change and action, and shows a model only where its table lives."""

    def has_module_permission(self, request):
        return model_belongs_here(self.model) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return model_belongs_here(self.model) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return model_belongs_here(self.model) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return model_belongs_here(self.model) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return model_belongs_here(self.model) and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        return {
            name: (
                (func if name in ACTIONS_RECORDED_OTHERWISE else _audited_action(func, name)),
                name,
                description,
            )
            for name, (func, _, description) in actions.items()
        }

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
