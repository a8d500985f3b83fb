"""The two database roles: the application's, and the schema owner's for DDL.

The application (web, workers) connects as a role that owns no table and cannot bypass
row-level security. Creating and migrating schemas, and dropping them, needs the
owner: ``schema_owner_connection`` puts an owner's connection in place for a block.
Only migrations and organization provisioning and deletion use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections


@contextmanager
def schema_owner_connection(using: str = "default") -> Iterator[None]:
    """Run the block with ``connections[using]`` connected as the schema owner.

    A separate connection with the owner's credentials (``DATABASE_OWNER_URL``) takes
    the alias's place for the block and is closed afterwards; the application's
    connection, with any transaction it has open, is put back untouched. What the block
    does is committed on its own. Re-entrant; a no-op in a single-role installation.
    """
    app_connection = connections[using]
    settings_dict = app_connection.settings_dict
    owner = settings_dict.get("OWNER") or {}
    if getattr(app_connection, "rls_is_owner", False) or owner.get("USER") in (
        None,
        "",
        settings_dict["USER"],
    ):
        yield
        return
    owner_connection = app_connection.__class__(
        {
            **settings_dict,
            "USER": owner["USER"],
            "PASSWORD": owner.get("PASSWORD", ""),
            # Whom ``workspaces.rls.policies`` grants the tables to.
            "APP_USER": settings_dict["USER"],
        },
        alias=using,
    )
    owner_connection.rls_is_owner = True
    if not app_connection.in_atomic_block:
        # Nothing open on it to keep; and dropping a database needs it closed.
        app_connection.close()
    connections[using] = owner_connection
    try:
        yield
    finally:
        owner_connection.close()
        connections[using] = app_connection
        if not app_connection.in_atomic_block:
            # Reconnect on next use (the block may have changed NAME: test databases).
            app_connection.close()
        settings_dict["NAME"] = owner_connection.settings_dict["NAME"]


_executors: dict[str, type] = {}


def migration_executor(codename: str | None = None) -> type:
    """django-tenants' migration executor (``GET_EXECUTOR_FUNCTION``), run as the owner."""
    from django_tenants.migration_executors import get_executor

    base = get_executor(codename)
    if base.codename not in _executors:

        class OwnerExecutor(base):
            def run_migrations(self, tenants=None):
                with schema_owner_connection(self.options.get("database") or "default"):
                    return super().run_migrations(tenants)

            def run_multi_type_migrations(self, tenants):
                with schema_owner_connection(self.options.get("database") or "default"):
                    return super().run_multi_type_migrations(tenants)

        _executors[base.codename] = OwnerExecutor
    return _executors[base.codename]
