"""django-tenants' Postgres backend, with the caller's workspaces set for every statement.

Each statement that names a table carrying ``workspace_id`` runs inside a transaction
whose ``opaa.workspaces`` setting (``SET LOCAL``, via ``set_config(..., true)``) holds
the workspaces of the current scope (``workspaces.rls.scope``); the tables' policies
let through only those rows. Inside ``transaction.atomic`` the setting is made once
per transaction (again when the scope or schema changes, and after a rollback to a
savepoint); in autocommit mode such a statement gets a transaction of its own. The
setting statements run on the raw driver cursor, so they are not counted as queries.

django-tenants sends ``SET search_path`` on every cursor. Inside
``search_path_once_per_transaction()`` a cursor of a transaction that already sent the
same search path does not send it again: the path is sent again after a commit, a
rollback, a rollback to a savepoint and a reconnection, so a search path a rollback took
back is never trusted (django-tenants' own ``TENANT_LIMIT_SET_CALLS`` trusts it across
transactions, and stays off).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections
from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper

from workspaces.rls import scope


class DatabaseWrapper(TenantDatabaseWrapper):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # (schema, value) set in the current transaction; None: nothing set yet.
        self.rls_marker: tuple[str, str] | None = None
        # (schema, ids) of the organization's workspaces as listed in the current
        # transaction by ``scope.OrganizationScope``; None: not listed yet, or again.
        self.rls_organization: tuple[str, str] | None = None
        # True while the scope is being resolved (its own queries pass through).
        self.rls_busy = False
        # The search path sent in the current transaction (None: none yet, or taken back
        # since); trusted only while ``search_path_once`` is above 0.
        self.search_path_sent: list[str] | None = None
        self.search_path_once = 0
        self.execute_wrappers.append(scope.execute_in_scope)

    def _handle_search_path(self, cursor=None):
        if (
            self.search_path_once
            and not self.autocommit
            and self.schema_name
            and self.search_path_sent == self._get_cursor_search_paths()
        ):
            return
        self.search_path_sent = None
        # Set again by django-tenants only if its SET succeeds.
        self.search_path_set_schemas = None
        super()._handle_search_path(cursor)
        if not self.autocommit and self.search_path_set_schemas is not None:
            self.search_path_sent = list(self.search_path_set_schemas)

    def _transaction_ended(self) -> None:
        self.rls_marker = None
        self.rls_organization = None
        self.search_path_sent = None

    # Forgotten after the statement: getting the cursor for a savepoint's rollback may
    # send the search path (before the rollback, which then takes it back).
    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._transaction_ended()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._transaction_ended()

    def _savepoint_rollback(self, sid):
        # A setting made after the savepoint is undone with it.
        try:
            return super()._savepoint_rollback(sid)
        finally:
            self._transaction_ended()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._transaction_ended()

    def _set_autocommit(self, autocommit):
        try:
            return super()._set_autocommit(autocommit)
        finally:
            self._transaction_ended()


@contextmanager
def search_path_once_per_transaction(using: str = "default") -> Iterator[None]:
    """In the block, each transaction of ``connections[using]`` sends django-tenants'
    ``SET search_path`` once instead of before every statement (indexing's and the
    embedding queue's write transactions: about ten statements each). Outside a
    transaction nothing changes. Re-entrant."""
    connection = connections[using]
    if not isinstance(connection, DatabaseWrapper):
        yield
        return
    connection.search_path_once += 1
    try:
        yield
    finally:
        connection.search_path_once -= 1
