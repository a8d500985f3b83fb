"""Row-level security policies and the application role's privileges, applied after migrate.

``schema_secure`` runs (as the schema owner) after every ``migrate`` of a schema, the
public one included, and for each organization schema created later: it finds every
table of the schema that has a ``workspace_id`` column, whichever app made it, and
gives it an enabled, forced policy; then it grants the application's role what it
needs on the schema's tables and sequences, and nothing more (no TRUNCATE, which row
security does not cover; no DDL). It is idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

POLICY = "opaa_workspace_isolation"
# Rows of the workspaces listed in the transaction's opaa.workspaces setting; with the
# setting missing or empty, none (fail closed). A malformed setting is an error.
# The ids are read in a subquery (an empty array when the setting is missing or empty),
# so Postgres parses and casts the setting once per query (an InitPlan), not per row:
# when another permissive policy is OR-ed with this one (``ExtraPolicy``), the condition
# is a filter, no longer an index condition, and parsing the setting for every row of a
# 50k-chunk workspace cost 300 ms (bench/retrieval_scale.py).
SCOPE_IDS = (
    "ARRAY(SELECT unnest(string_to_array("
    "nullif(current_setting('opaa.workspaces', true), ''), ','))::bigint)"
)
POLICY_CONDITION = f"workspace_id = ANY ({SCOPE_IDS})"


@dataclass(frozen=True)
class ExtraPolicy:
    """A second, permissive policy on one table, OR-ed with the workspace policy for
    ``command``: e.g. ingestion's documents shared into a workspace in scope are readable
    there (``SELECT`` only, so they cannot be changed from it). ``condition`` may use
    ``{scope}``, the scope's workspace ids (``SCOPE_IDS``)."""

    table: str
    name: str
    condition: str
    command: str = "SELECT"


_extra_policies: dict[tuple[str, str], ExtraPolicy] = {}


def extra_policy_register(policy: ExtraPolicy) -> None:
    """Have ``policy`` created on its table by every ``schema_secure`` from now on (an
    app registers it in its ``AppConfig.ready()``; this app never names other apps'
    tables). Registering the same one again changes nothing."""
    _extra_policies[(policy.table, policy.name)] = policy


_TABLES_WITH_WORKSPACE_SQL = """
SELECT c.table_name FROM information_schema.columns AS c
JOIN information_schema.tables AS t USING (table_schema, table_name)
WHERE c.table_schema = %s AND c.column_name = 'workspace_id' AND t.table_type = 'BASE TABLE'
ORDER BY c.table_name
"""

_UNPROTECTED_SQL = """
SELECT n.nspname, c.relname,
       c.relrowsecurity, c.relforcerowsecurity,
       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s
               AND pg_get_expr(p.polqual, p.polrelid) IS NOT NULL
               AND pg_get_expr(p.polwithcheck, p.polrelid) IS NOT NULL
               AND p.polcmd = '*' AND p.polpermissive)
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'
ORDER BY 1, 2
"""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def app_role(connection: BaseDatabaseWrapper) -> str | None:
    """The application's role, when it differs from the schema owner's."""
    owner = (connection.settings_dict.get("OWNER") or {}).get("USER")
    # Inside ``schema_owner_connection`` USER is the owner's and APP_USER the app's.
    app = connection.settings_dict.get("APP_USER") or connection.settings_dict.get("USER")
    return app if owner and app and owner != app else None


def _table_secure(connection, cursor, qualified: str) -> None:
    # One transaction: the policy is replaced, never missing for a moment.
    with transaction.atomic(using=connection.alias):
        cursor.execute(f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY")
        cursor.execute(f"ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY")
        # Re-created each time, so a changed condition reaches existing schemas.
        cursor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {qualified}")
        # On the driver's cursor: statements through Django's may not name the setting.
        with connection.connection.cursor() as raw:
            raw.execute(
                f"CREATE POLICY {POLICY} ON {qualified} AS PERMISSIVE FOR ALL"
                f" USING ({POLICY_CONDITION}) WITH CHECK ({POLICY_CONDITION})"
            )
            table = qualified.rsplit(".", 1)[1].strip('"')
            for policy in _extra_policies.values():
                if policy.table != table:
                    continue
                condition = policy.condition.format(scope=SCOPE_IDS)
                writes = policy.command in ("ALL", "INSERT", "UPDATE")
                check = f" WITH CHECK ({condition})" if writes else ""
                cursor.execute(f"DROP POLICY IF EXISTS {_quote(policy.name)} ON {qualified}")
                raw.execute(
                    f"CREATE POLICY {_quote(policy.name)} ON {qualified} AS PERMISSIVE"
                    f" FOR {policy.command} USING ({condition}){check}"
                )


def schema_secure(connection: BaseDatabaseWrapper, schema: str) -> list[str]:
    """Give every workspace_id table of ``schema`` its policy; grant the app role DML.

    Returns the tables that carry the policy. Must run as the tables' owner.
    """
    with connection.cursor() as cursor:
        cursor.execute(_TABLES_WITH_WORKSPACE_SQL, [schema])
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            qualified = f"{_quote(schema)}.{_quote(table)}"
            _table_secure(connection, cursor, qualified)
        role = app_role(connection)
        if role is not None:
            quoted_schema, quoted_role = _quote(schema), _quote(role)
            cursor.execute(f"GRANT USAGE ON SCHEMA {quoted_schema} TO {quoted_role}")
            cursor.execute(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA"
                f" {quoted_schema} TO {quoted_role}"
            )
            cursor.execute(
                f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {quoted_schema}"
                f" TO {quoted_role}"
            )
    return tables


def tables_unprotected(connection: BaseDatabaseWrapper) -> list[str]:
    """Every table in the database with a workspace_id column but without row-level
    security enabled, forced and this policy (``schema.table``); empty when all hold."""
    with connection.cursor() as cursor:
        cursor.execute(_UNPROTECTED_SQL, [POLICY])
        return [
            f"{schema}.{table}"
            for schema, table, enabled, forced, has_policy in cursor.fetchall()
            if not (enabled and forced and has_policy)
        ]


def secure_after_migrate(sender, *, using: str = "default", **kwargs) -> None:
    """post_migrate receiver: secure the schema that was just migrated.

    django-tenants runs ``migrate`` once per schema with the connection in that schema.
    Only the ``workspaces`` app's signal is used, so it runs once per migrate.
    """
    connection = connections[using]
    schema = getattr(connection, "schema_name", None) or "public"
    tables = schema_secure(connection, schema)
    logger.debug("row-level security on %s: %s", schema, ", ".join(tables) or "no tables")
