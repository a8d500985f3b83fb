"""A system check: warn when the application connects as the schema owner."""

from __future__ import annotations

from django.core.checks import Tags, Warning, register


def single_role_warnings(settings_dict: dict) -> list[Warning]:
    """W001 when ``DATABASE_URL`` and ``DATABASE_OWNER_URL`` name the same role."""
    owner = (settings_dict.get("OWNER") or {}).get("USER")
    if owner and owner != settings_dict.get("USER"):
        return []
    return [
        Warning(
            "The application connects as the role that owns the tables: row-level security "
            "filters its queries, but that role could switch it off.",
            hint="Set DATABASE_OWNER_URL to a separate owner role and DATABASE_URL to a role "
            "that owns nothing (docs/security.md).",
            id="opaa.rls.W001",
        )
    ]


@register(Tags.security, deploy=True)
def database_roles_check(app_configs=None, **kwargs) -> list[Warning]:
    from django.db import connections

    return single_role_warnings(connections["default"].settings_dict)
