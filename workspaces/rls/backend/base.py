"""django-tenants' Postgres backend, with the caller's workspaces set for every statement.

Each statement that names a table carrying ``workspace_id`` runs inside a transaction
whose ``opaa.workspaces`` setting (``SET LOCAL``, via ``set_config(..., true)``) holds
the workspaces of the current scope (``workspaces.rls.scope``); the tables' policies
let through only those rows. Inside ``transaction.atomic`` the setting is made once
per transaction (again when the scope or schema changes, and after a rollback to a
savepoint); in autocommit mode such a statement gets a transaction of its own. The
setting statements run on the raw driver cursor, so they are not counted as queries.
"""

from __future__ import annotations

from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper

from workspaces.rls import scope


class DatabaseWrapper(TenantDatabaseWrapper):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # (schema, value) set in the current transaction; None: nothing set yet.
        self.rls_marker: tuple[str, str] | None = None
        # True while the scope is being resolved (its own queries pass through).
        self.rls_busy = False
        self.execute_wrappers.append(scope.execute_in_scope)

    def _commit(self):
        self.rls_marker = None
        return super()._commit()

    def _rollback(self):
        self.rls_marker = None
        return super()._rollback()

    def _savepoint_rollback(self, sid):
        # A setting made after the savepoint is undone with it.
        self.rls_marker = None
        return super()._savepoint_rollback(sid)

    def _close(self):
        self.rls_marker = None
        return super()._close()

    def _set_autocommit(self, autocommit):
        self.rls_marker = None
        return super()._set_autocommit(autocommit)
