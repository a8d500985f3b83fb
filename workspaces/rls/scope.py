"""Which workspaces the database lets the current code see: the row-level security scope.

A *scope* is set by the trusted code that knows who is acting, for as long as it acts:

- a request: the caller's readable workspaces (``RowLevelSecurityMiddleware``), resolved
  on the first statement that needs them and again when the caller changes (an API
  token is only known once DRF has authenticated the request);
- a Celery task: its organization, or the workspace of the object it works on
  (``workspaces.rls.tasks.OrganizationTask``);
- organization-wide work (provisioning, the evaluation command, operators' scripts):
  every workspace of the current organization, listed by ``organization_scope()``.

With no scope, the setting is empty and the policies return no rows (fail closed). The
scope is a list of workspace ids in ``opaa.workspaces``; there is no value that means
"everything", so no statement can widen its own view beyond a list of ids.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache

from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError
from django.utils.functional import SimpleLazyObject, empty
from django_tenants.utils import get_public_schema_name

SETTING = "opaa.workspaces"

_SET_SQL = "SELECT set_config('opaa.workspaces', %s, true)"
# Every workspace of the organization whose schema is first on the search path. The
# workspace table itself carries no workspace_id and has no policy.
_ORGANIZATION_SQL = (
    "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM workspaces_workspace"
)
_ORGANIZATION_SET_SQL = f"SELECT set_config('opaa.workspaces', ({_ORGANIZATION_SQL}), true)"


class ScopeTampering(DatabaseError):
    """A statement tried to read or change the row-level security setting itself."""


class Scope:
    """The workspaces a piece of work may see; ``ids_literal`` lists them for the setting."""

    def prepare(self) -> None:
        """Load what ``ids_literal`` needs, outside the transaction (may run queries)."""

    def ids_literal(self, connection, cursor) -> str:
        """The comma-separated workspace ids for the connection's current schema.

        ``cursor`` is a raw driver cursor inside the statement's transaction.
        """
        raise NotImplementedError


class WorkspacesScope(Scope):
    """Exactly these workspaces."""

    def __init__(self, workspace_ids: Iterable[int]) -> None:
        self.literal = ",".join(str(int(pk)) for pk in sorted(set(workspace_ids)))

    def ids_literal(self, connection, cursor) -> str:
        return self.literal


class OrganizationScope(Scope):
    """Every workspace of the current organization: listed once per transaction and
    schema (inside ``transaction.atomic``), again after a workspace of this process was
    created or deleted (``workspace_list_changed``); in autocommit mode for each
    statement. A workspace another transaction creates meanwhile is seen from the next
    transaction on: the list can only miss a workspace new to this one, which fails
    closed (its rows look absent, an insert into it is refused)."""

    def ids_literal(self, connection, cursor) -> str:
        in_transaction = not connection.get_autocommit()
        listed = connection.rls_organization
        if in_transaction and listed is not None and listed[0] == connection.schema_name:
            return listed[1]
        cursor.execute(_ORGANIZATION_SQL)
        literal = cursor.fetchone()[0]
        if in_transaction:
            connection.rls_organization = (connection.schema_name, literal)
        return literal


def workspace_list_changed(sender=None, using: str = "default", **kwargs) -> None:
    """A workspace was created or deleted: ``OrganizationScope`` lists them again on the
    connection's next statement (a receiver of ``Workspace``'s post_save and
    post_delete)."""
    from django.db import connections

    if kwargs.get("created", True):
        connections[using].rls_organization = None


def _organization_wide(connection, cursor) -> None:
    """Let the transaction see the whole organization while a narrower scope is resolved."""
    cursor.execute(_ORGANIZATION_SET_SQL)
    connection.rls_marker = None


class ObjectWorkspaceScope(Scope):
    """The workspace of one row (a task's document or source), looked up once per schema."""

    def __init__(self, model, pk: int) -> None:
        self.table = model._meta.db_table
        self.pk = int(pk)
        self._resolved: dict[str, str] = {}

    def ids_literal(self, connection, cursor) -> str:
        if connection.schema_name not in self._resolved:
            _organization_wide(connection, cursor)
            cursor.execute(
                f'SELECT workspace_id::text FROM "{self.table}" WHERE id = %s',  # noqa: S608 - a model's table name
                (self.pk,),
            )
            row = cursor.fetchone()
            self._resolved[connection.schema_name] = row[0] if row else ""
        return self._resolved[connection.schema_name]


class CallerScope(Scope):
    """The workspaces the request's caller may read (``workspaces_readable``): for a user
    their memberships (all workspaces for the owner), for an API token only those of
    them it is bound to. Resolved once per caller and schema."""

    def __init__(self, request) -> None:
        self.request = request
        self._resolved: dict[tuple, str] = {}

    def _caller(self):
        user = self.request.__dict__.get("user")
        if isinstance(user, SimpleLazyObject):
            if user._wrapped is empty:
                user._setup()
            user = user._wrapped
        return user, self.request.__dict__.get("auth")

    def prepare(self) -> None:
        self._caller()

    def ids_literal(self, connection, cursor) -> str:
        user, auth = self._caller()
        if user is None or not user.is_authenticated or not user.is_active:
            return ""
        from accounts.models import ApiToken
        from workspaces.access import workspaces_readable

        token = auth if isinstance(auth, ApiToken) else None
        key = (
            connection.schema_name,
            user.pk,
            user.is_owner,
            token.pk if token else None,
            tuple(token.workspace_ids) if token else None,
        )
        if key not in self._resolved:
            readable = workspaces_readable(user, token=token).values("pk").order_by()
            try:
                sql, params = readable.query.sql_with_params()
            except EmptyResultSet:
                self._resolved[key] = ""
            else:
                # Memberships carry workspace_id themselves: read them organization-wide.
                _organization_wide(connection, cursor)
                readable_sql = f"SELECT coalesce(string_agg(DISTINCT readable.pk::text, ','), '') FROM ({sql}) AS readable(pk)"  # noqa: E501, S608 - compiled by the ORM
                cursor.execute(readable_sql, params)
                self._resolved[key] = cursor.fetchone()[0]
        return self._resolved[key]


_current: contextvars.ContextVar[Scope | None] = contextvars.ContextVar(
    "opaa_rls_scope", default=None
)


def current() -> Scope | None:
    return _current.get()


@contextmanager
def scope_enter(scope: Scope | None) -> Iterator[Scope | None]:
    """Run the block in ``scope`` (None: no rows at all); the previous scope comes back after."""
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def organization_scope():
    """Every workspace of the current organization: for trusted organization-wide work."""
    return scope_enter(OrganizationScope())


def workspaces_scope(workspace_ids: Iterable[int]):
    """Exactly the workspaces ``workspace_ids``."""
    return scope_enter(WorkspacesScope(workspace_ids))


def no_scope():
    """No workspace at all: every table with a workspace_id looks empty."""
    return scope_enter(None)


@lru_cache(maxsize=1)
def _protected_tables_re() -> re.Pattern[str]:
    from django.apps import apps

    names = sorted(
        {
            model._meta.db_table
            for model in apps.get_models(include_auto_created=True)
            if any(f.column == "workspace_id" for f in model._meta.concrete_fields)
        }
    )
    return re.compile("|".join(re.escape(name) for name in names) or r"(?!)")


def names_protected_table(sql: str) -> bool:
    """True when ``sql`` may read or write a table that carries workspace_id."""
    from django.apps import apps

    if not apps.ready:
        return True
    return _protected_tables_re().search(sql) is not None


def _scope_set(connection) -> None:
    scope = _current.get()
    with connection.connection.cursor() as cursor:
        literal = scope.ids_literal(connection, cursor) if scope is not None else ""
        marker = (connection.schema_name, literal)
        if connection.rls_marker != marker:
            cursor.execute(_SET_SQL, (literal,))
            connection.rls_marker = marker


def execute_in_scope(execute, sql, params, many, context):
    """Execute wrapper (installed by ``workspaces.rls.backend``): see its docstring."""
    connection = context["connection"]
    if SETTING in sql.lower():
        # Only this module sets the scope (on the driver's cursor, not through here).
        raise ScopeTampering(f"statements may not read or set {SETTING}; use workspaces.rls")
    if (
        connection.rls_busy
        or connection.schema_name in (None, get_public_schema_name())
        or not names_protected_table(sql)
    ):
        return execute(sql, params, many, context)
    scope = _current.get()
    if scope is not None:
        connection.rls_busy = True
        try:
            scope.prepare()
        finally:
            connection.rls_busy = False
    if not connection.get_autocommit():
        if not connection.needs_rollback:  # else Django refuses the statement itself
            with connection.wrap_database_errors:
                _scope_set(connection)
        return execute(sql, params, many, context)
    # Autocommit: a transaction of its own, so that the setting is local to it.
    with connection.wrap_database_errors, connection.connection.transaction():
        connection.rls_marker = None
        _scope_set(connection)
        try:
            return execute(sql, params, many, context)
        finally:
            connection.rls_marker = None
