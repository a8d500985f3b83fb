"""Moving one organization to another Postgres cluster (docs/scaling.md, "Past one node").

OPAA grows past one Postgres as cells: each cluster is a complete OPAA database (its own
public schema, migrated by its own migrate job) with its own web and workers, all cells
sharing one object storage (``org/<schema>/`` keys are unique across cells). Which cell
serves an organization is decided by its domains at the edge (the ingress); inside a
cell nothing changes, row-level security included. ``organization_move`` moves one
organization from this installation's database (the source) into another cell's:

1. **suspend** it here with ``MOVING_REASON`` (every page answers 403 with it, beat
   queues none of its syncs), so nothing is written after the copy's snapshot;
2. **copy**: ``backup_create`` of the organization (its schema and public rows, no
   objects: the storage is shared), restored into the target by
   ``organization_restore`` with this process's connection bound to the target
   (``cluster_bound``): schema, public rows, migrations, row-level security, grants;
   the copy stays suspended there;
3. **verify**: every table's row count equal on both sides, and keyword and exact
   vector searches for sample passages return the same chunks in the same order on both;
4. **switch**: the target's copy is resumed, and the source's reason becomes
   ``MOVED_REASON`` (it stays suspended, untouched, as the fallback); the operator then
   routes the organization's domains to the target cell.

Each step is decided from the state of the two databases, so running the move again
after a crash or a refusal carries on where it stopped: a copy that does not verify is
removed and made again; a move is aborted (``organization_move_abort``) until it is
switched. The source's copy is removed only by ``organization_source_drop``, after the
switch, and without touching the shared objects (``organization_delete`` would erase
them).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from django.conf import settings
from django.core.files.storage import Storage
from django.db import connection, connections
from django_tenants.utils import get_public_schema_name, schema_context

from opaa.backup import BackupError, Database, backup_create, psql_run, slug_checked
from opaa.settings.env import env

logger = logging.getLogger(__name__)

# The suspension reasons that mark a move's state on the organization itself (shown to
# its people while the move runs, and to anyone reaching the old cell afterwards).
MOVING_REASON = "Moving to another database server: back in a few minutes."
MOVED_REASON = "Moved to another database server ({target})."
_MOVED_PREFIX = MOVED_REASON.split("(", 1)[0]
# How many passages' searches must agree between the two copies.
VERIFY_SEARCHES = 5
# Tables not compared: sign-in sessions are dropped by the restore (everyone signs in
# again on the target cell).
_NOT_COMPARED = {"django_session"}


class MoveError(BackupError):
    """A move cannot proceed; the message says why and what to do (never a password)."""


@dataclass(frozen=True)
class Cluster:
    """Another cell's database: the application's and the schema owner's URLs, as that
    cell's ``DATABASE_URL`` and ``DATABASE_OWNER_URL``; ``name`` is how it is shown."""

    url: str
    owner_url: str = ""
    name: str = ""

    def label(self) -> str:
        if self.name:
            return self.name
        config = env.db_url_config(self.url)
        return f"{unquote(config.get('HOST') or 'localhost')}/{config.get('NAME')}"


@dataclass
class MoveResult:
    slug: str
    schema: str
    target: str
    domains: list[str] = field(default_factory=list)
    # The steps this run did, in order (copy, verify, switch; or none when already moved).
    steps: list[str] = field(default_factory=list)
    # Rows per table, equal on both sides.
    rows: dict[str, int] = field(default_factory=dict)
    searches: int = 0
    warnings: list[str] = field(default_factory=list)


class _NoObjects(Storage):
    """The shared storage as the copy sees it: its objects stay where they are, so the
    archive holds none and the restore writes none."""

    def exists(self, name):
        return False

    def listdir(self, path):
        return [], []

    def _save(self, name, content):
        return name

    def delete(self, name):
        return None


def _settings_for(cluster: Cluster) -> dict:
    """This installation's database settings with ``cluster``'s server, database and
    roles (``opaa.settings.tenancy`` builds the same from the environment)."""
    for url in (cluster.url, cluster.owner_url or cluster.url):
        Database.from_url(url)  # a postgres:// URL, or a clear refusal
    app = env.db_url_config(cluster.url)
    owner = env.db_url_config(cluster.owner_url or cluster.url)
    if (owner.get("NAME"), owner.get("HOST")) != (app.get("NAME"), app.get("HOST")):
        raise MoveError("The target's owner URL must name the same server and database.")
    bound = {**settings.DATABASES["default"]}
    for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
        bound[key] = app.get(key) or ""
    bound["HOST"] = unquote(bound["HOST"])
    bound["OWNER"] = {"USER": owner.get("USER", ""), "PASSWORD": owner.get("PASSWORD", "")}
    return bound


@contextmanager
def cluster_bound(cluster: Cluster) -> Iterator[None]:
    """Run the block with this process's database (``connection`` and the settings the
    backup tools read) being ``cluster``'s; everything is put back afterwards.

    Process-wide (the settings are): for management commands and tests, never while
    serving requests. The block's own connection is closed at its end.
    """
    target = _settings_for(cluster)
    previous_settings = settings.DATABASES["default"]
    previous = connections["default"]
    bound = previous.__class__(target, alias="default")
    settings.DATABASES["default"] = target
    connections["default"] = bound
    try:
        yield
    finally:
        bound.close()
        connections["default"] = previous
        settings.DATABASES["default"] = previous_settings


def _organization(slug: str):
    from tenants.models import Organization

    with schema_context(get_public_schema_name()):
        return Organization.objects.filter(slug=slug).first()


def _reads_every_row(database: Database, side: str) -> None:
    with _connect(database) as db:
        row = db.execute(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    if not row or not row[0]:
        raise MoveError(
            f"The {side}'s role {database.user!r} cannot read every row past row-level "
            "security, so the copy cannot be verified: use a superuser or BYPASSRLS role."
        )


def _connect(database: Database):
    import psycopg

    try:
        return psycopg.connect(database.conninfo(), password=database.password or None)
    except psycopg.Error as exc:
        raise MoveError(f"Could not connect to {database.host}/{database.name}: {exc}") from exc


def _rows(database: Database, schema: str) -> dict[str, int]:
    """Rows of every table of ``schema``, read by a role that sees them all."""
    quoted = '"' + schema.replace('"', '""') + '"'
    with _connect(database) as db:
        tables = [
            row[0]
            for row in db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", [schema]
            )
        ]
        return {
            table: db.execute(f'SELECT count(*) FROM {quoted}."{table}"').fetchone()[0]  # noqa: S608 - names from pg_tables
            for table in tables
            if table not in _NOT_COMPARED
        }


def _public_migrations(database: Database) -> set[tuple[str, str]]:
    with _connect(database) as db:
        exists = db.execute("SELECT to_regclass('public.django_migrations')").fetchone()[0]
        if exists is None:
            return set()
        return set(db.execute("SELECT app, name FROM public.django_migrations").fetchall())


def _searches(schema: str, samples: list[int] | None = None) -> tuple[list[int], list[list[int]]]:
    """Keyword searches for sample passages of ``schema``, and exact nearest-neighbour
    searches for their vectors (the HNSW index is rebuilt by the restore, so only the
    exact ranking must agree), as everyone in its workspaces would see them: (the sample
    chunk ids, each search's chunk ids best first). With ``samples`` the same passages
    are searched (on the other copy)."""
    from ingestion.index import bm25_ranking, vector_ranking
    from ingestion.models import Chunk
    from workspaces.readers import ReaderScope
    from workspaces.rls import organization_scope

    with schema_context(schema), organization_scope():
        chunks = Chunk.objects.exclude(text="").only("id", "text", "workspace_id", "embedding")
        if samples is None:
            chunks = chunks.order_by("id")[:VERIFY_SEARCHES]
        else:
            chunks = chunks.filter(id__in=samples).order_by("id")
        found = []
        for chunk in chunks:
            scope = {
                "workspace_ids": [chunk.workspace_id],
                "readers": ReaderScope.everything([chunk.workspace_id]),
                "limit": 10,
            }
            query = " ".join(chunk.text.split()[:12])
            found.append([r.chunk_id for r in bm25_ranking(query, **scope)])
            if chunk.embedding is not None:
                nearest = vector_ranking(list(chunk.embedding), exact=True, **scope)
                found.append([r.chunk_id for r in nearest])
        return [c.id for c in chunks], found


def _copy_remove(cluster: Cluster, schema: str) -> None:
    """Remove the target's copy (public rows and schema), never any stored object."""
    with cluster_bound(cluster):
        database = Database.from_settings()
        organization = _organization_by_schema(schema)
        if organization is not None:
            with schema_context(get_public_schema_name()):
                type(organization).objects.filter(pk=organization.pk).delete()
        quoted = '"' + schema.replace('"', '""') + '"'
        psql_run(database, f"DROP SCHEMA IF EXISTS {quoted} CASCADE")


def _organization_by_schema(schema: str):
    from tenants.models import Organization

    with schema_context(get_public_schema_name()):
        return Organization.objects.filter(schema_name=schema).first()


def _target_state(cluster: Cluster, slug: str, schema: str) -> str:
    """``absent``, ``copy`` (a suspended copy of this move), ``switched`` (active there),
    or ``foreign`` (something else holds the slug or the schema there)."""
    from tenants.models import OrganizationStatus

    with cluster_bound(cluster):
        organization = _organization(slug)
        if organization is None:
            if _organization_by_schema(schema) is not None:
                return "foreign"
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
                held = cursor.fetchone() is not None
            return "leftover" if held else "absent"
        if organization.schema_name != schema:
            return "foreign"
        if organization.status == OrganizationStatus.ACTIVE:
            return "switched"
        if organization.suspension_reason == MOVING_REASON:
            return "copy"
        return "foreign"


def organization_move(
    *,
    slug: str,
    target: Cluster,
    source_database: Database | None = None,
) -> MoveResult:
    """Move the organization ``slug`` into ``target`` (see above); idempotent.

    ``source_database`` is how the backup tools reach this installation's database
    (default: its settings; a role that reads every row). Raises MoveError, with the
    organization still served here unless the move got as far as the switch.
    """
    from tenants.models import OrganizationStatus
    from tenants.suspension import organization_resume, organization_suspend

    slug = slug_checked(slug)
    _settings_for(target)  # a bad URL is refused before anything else
    source = _organization(slug)
    if source is None:
        raise MoveError(f"There is no organization {slug!r} here.")
    schema = source.schema_name
    result = MoveResult(slug=slug, schema=schema, target=target.label())
    source_database = source_database or Database.from_settings()
    _reads_every_row(source_database, "source")
    with cluster_bound(target):
        target_database = Database.from_settings()
    _reads_every_row(target_database, "target")
    if source_database.host == target_database.host and (
        source_database.port == target_database.port
        and source_database.name == target_database.name
    ):
        raise MoveError("The target is this installation's own database.")
    missing = _public_migrations(source_database) - _public_migrations(target_database)
    if missing:
        raise MoveError(
            "The target database is not migrated to this version of OPAA "
            f"({len(missing)} migrations missing, e.g. {'.'.join(sorted(missing)[0])}): run "
            "`manage.py migrate_schemas --shared` with its DATABASE_URL first."
        )
    moved = source.suspension_reason.startswith(_MOVED_PREFIX)
    state = _target_state(target, slug, schema)
    if state == "foreign" or (
        state == "switched" and not moved and source.suspension_reason != MOVING_REASON
    ):
        raise MoveError(
            f"The target already holds an organization with the slug {slug!r} or the "
            f"schema {schema!r} that this move did not make; nothing was changed."
        )
    if moved or state == "switched":
        if state != "switched":
            raise MoveError(
                f"{slug!r} is marked as moved here, but the target does not serve it: "
                "it may have been moved elsewhere; nothing was changed."
            )
        if not moved:  # switched there, interrupted before the source was marked
            organization_suspend(
                organization=source, reason=MOVED_REASON.format(target=result.target)
            )
            result.steps.append("switch")
        result.domains = list(source.domains.values_list("domain", flat=True))
        return result
    if source.status == OrganizationStatus.SUSPENDED and source.suspension_reason != MOVING_REASON:
        raise MoveError(
            f"{slug!r} is suspended ({source.suspension_reason or 'no reason given'}); "
            "resume it first, or move it later."
        )
    if source.status not in (OrganizationStatus.ACTIVE, OrganizationStatus.SUSPENDED):
        raise MoveError(f"{slug!r} is {source.status}, not an organization to move.")
    if state == "leftover":
        _leftover_remove(target, schema)
        state = "absent"

    if state == "copy" and source.suspension_reason != MOVING_REASON:
        # A copy from an earlier move that was resumed here since: it may lack writes.
        _copy_remove(target, schema)
        state = "absent"
    source = organization_suspend(organization=source, reason=MOVING_REASON)
    for attempt in (1, 2):
        if state == "absent":
            _copy(target, slug, result)
            state = "copy"
            result.steps.append("copy")
        # Read after the copy: a task that was still writing when the organization was
        # suspended shows as a difference instead of slipping past the snapshot.
        expected = _rows(source_database, schema)
        samples, source_found = _searches(schema)
        failure = _verify(target, target_database, schema, expected, samples, source_found)
        result.steps.append("verify")
        if failure is None:
            break
        logger.warning("moved copy of %s does not verify: %s", slug, failure)
        _copy_remove(target, schema)
        state = "absent"
        if attempt == 2:
            raise MoveError(
                f"The copy on the target does not match ({failure}); it was removed. "
                f"{slug!r} is still suspended here: run the move again, or --abort it."
            )
    result.rows, result.searches = expected, len(samples)
    with cluster_bound(target):
        organization_resume(organization=_organization(slug))
    organization_suspend(organization=source, reason=MOVED_REASON.format(target=result.target))
    result.steps.append("switch")
    result.domains = list(source.domains.values_list("domain", flat=True))
    logger.info("organization moved organization=%s target=%s", source.pk, result.target)
    return result


def _copy(target: Cluster, slug: str, result: MoveResult) -> None:
    from opaa.backup_organization import organization_restore

    with tempfile.TemporaryDirectory(prefix="opaa-move-") as work:
        archive = backup_create(
            destination=Path(work), storage=_NoObjects(), organization=slug
        ).path
        connection.set_schema_to_public()
        with cluster_bound(target):
            restored = organization_restore(archive=archive, slug=slug, storage=_NoObjects())
    result.warnings += restored.warnings


def _verify(
    target: Cluster,
    target_database: Database,
    schema: str,
    expected: dict[str, int],
    samples: list[int],
    source_found: list[list[int]],
) -> str | None:
    """None when the target's copy matches; else what differs."""
    rows = _rows(target_database, schema)
    differing = sorted(t for t in expected.keys() | rows.keys() if expected.get(t) != rows.get(t))
    if differing:
        table = differing[0]
        return f"{table}: {expected.get(table)} rows here, {rows.get(table)} there"
    with cluster_bound(target):
        _, target_found = _searches(schema, samples)
    if target_found != source_found:
        return "a search returns other passages there"
    return None


def _leftover_remove(target: Cluster, schema: str) -> None:
    """A schema without its organization on the target: what a copy killed during the
    restore leaves. Removed only when it holds no table (pg_restore runs in one
    transaction, so a killed one leaves the schema empty)."""
    with cluster_bound(target):
        database = Database.from_settings()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", [schema])
            tables = cursor.fetchone()[0]
    if tables:
        raise MoveError(
            f"The target has a schema {schema!r} with {tables} tables but no organization "
            "for it; nothing was changed: look at it and drop it by hand if it is a leftover."
        )
    quoted = '"' + schema.replace('"', '""') + '"'
    psql_run(database, f"DROP SCHEMA IF EXISTS {quoted}")


def organization_move_abort(*, slug: str, target: Cluster) -> list[str]:
    """Undo a move not yet switched: remove the target's copy, resume the organization
    here. Returns what was done. Refused once the target serves it."""
    from tenants.suspension import organization_resume

    source = _organization(slug_checked(slug))
    if source is None:
        raise MoveError(f"There is no organization {slug!r} here.")
    if source.suspension_reason != MOVING_REASON:
        raise MoveError(f"{slug!r} is not being moved ({source.status}); nothing was changed.")
    done = []
    state = _target_state(target, slug, source.schema_name)
    if state == "switched":
        raise MoveError(f"The target serves {slug!r} already: the move is finished.")
    if state == "copy":
        _copy_remove(target, source.schema_name)
        done.append("removed the target's copy")
    elif state == "leftover":
        _leftover_remove(target, source.schema_name)
        done.append("removed an empty schema on the target")
    organization_resume(organization=source)
    done.append("resumed the organization here")
    return done


def organization_source_drop(*, slug: str, target: Cluster) -> None:
    """Remove the source's copy of a moved organization (public rows and schema) once
    the target serves it. Its stored objects are not touched: the target uses them."""
    source = _organization(slug_checked(slug))
    if source is None:
        raise MoveError(f"There is no organization {slug!r} here.")
    if not source.suspension_reason.startswith(_MOVED_PREFIX):
        raise MoveError(f"{slug!r} has not been moved; nothing was changed.")
    if _target_state(target, slug, source.schema_name) != "switched":
        raise MoveError(f"The target does not serve {slug!r}; nothing was changed.")
    schema = source.schema_name
    with schema_context(get_public_schema_name()):
        type(source).objects.filter(pk=source.pk).delete()
    quoted = '"' + schema.replace('"', '""') + '"'
    psql_run(Database.from_settings(), f"DROP SCHEMA IF EXISTS {quoted} CASCADE")
    logger.info("moved organization's source copy dropped organization=%s", source.pk)
