"""Restoring one organization into a running installation, from a backup archive.

The archive is an organization's own (``manage.py backup --organization``) or the whole
installation's; either holds the organization's schema in its dump, its public rows
(organization, domains, usage) in the manifest and its stored objects under
``org/<schema>/``. Every checksum is verified first, and nothing of the installation is
touched unless the organization is absent from it: its slug, schema, domains and storage
prefix all free. Then:

1. the schema is created and ``pg_restore --schema`` fills it in one transaction, owned
   by the schema owner role (privileges are not restored: they are granted again below);
2. the public rows are created again (the plan found by its code);
3. the stored objects are written back under their keys;
4. sign-in sessions are dropped (everyone signs in again), the schema is migrated to
   this version of OPAA, which also re-applies row-level security and the application
   role's grants (``workspaces.rls.policies``);
5. documents the backup caught before they were indexed (pending or processing: their
   task was in the old installation's queue) are queued for indexing again;
6. an ``organization.restored`` event goes to the platform's audit log.

A failure at any step removes what the restore had made, so it can simply be run again.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.postgresql_backend.base import is_valid_schema_name
from django_tenants.utils import get_public_schema_name, schema_context

from opaa.backup import (
    DUMP,
    OBJECTS,
    PREFIX,
    SCOPE_INSTALLATION,
    BackupError,
    Database,
    backup_verify,
    objects_in,
    pg_restore,
    psql_run,
    slug_checked,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoredOrganization:
    slug: str
    schema: str
    domains: list[str]
    objects: int
    backup_created_at: str
    # What could not be restored as it was (e.g. a plan this installation lacks).
    warnings: list[str] = field(default_factory=list)
    # Documents queued for indexing again (caught pending or processing by the backup).
    reindexed: int = 0


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def organization_record(manifest: dict, slug: str | None) -> dict:
    """The organization's public rows from ``manifest``; BackupError if it lacks them."""
    organizations = manifest.get("organizations", [])
    if manifest.get("scope", SCOPE_INSTALLATION) == SCOPE_INSTALLATION and slug is None:
        raise BackupError("Name the organization to restore from this archive (--organization).")
    if slug is not None:
        organizations = [o for o in organizations if o.get("slug") == slug_checked(slug)]
    if len(organizations) != 1:
        raise BackupError(f"This archive does not hold the organization {slug!r}.")
    record = organizations[0]
    if "domains" not in record:
        raise BackupError(
            "This archive predates per-organization restore (its manifest lacks the "
            "organization's domains); restore the whole installation instead."
        )
    if record["status"] == "spare":
        raise BackupError(f"{record['slug']!r} is a spare schema, not an organization.")
    slug_checked(record["slug"])
    schema = record.get("schema") or ""
    if not is_valid_schema_name(schema) or schema == get_public_schema_name():
        raise BackupError(f"The archive names an invalid schema {schema!r}.")
    return record


def _migrations_known(manifest: dict) -> None:
    """Refuse an archive made by a newer OPAA: its schema has migrations unknown here."""
    known = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    unknown = sorted(f"{app}.{name}" for app, name in manifest["migrations"].items()
                     if (app, name) not in known)  # fmt: skip
    if unknown:
        raise BackupError(
            f"The backup was made by a newer OPAA (migrations unknown here: "
            f"{', '.join(unknown)}); upgrade this installation first."
        )


def _target_free(record: dict, storage: Storage) -> None:
    from tenants.models import Domain, Organization

    slug, schema = record["slug"], record["schema"]
    if Organization.objects.filter(slug=slug).exists():
        raise BackupError(
            f"The organization {slug!r} exists in this installation; delete it first "
            "(operators' admin) to restore it from the backup."
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        if cursor.fetchone() or Organization.objects.filter(schema_name=schema).exists():
            raise BackupError(f"The schema {schema!r} exists in this installation.")
    taken = sorted(
        Domain.objects.filter(domain__in=[d["domain"] for d in record["domains"]]).values_list(
            "domain", flat=True
        )
    )
    if taken:
        raise BackupError(f"Domains already in use here: {', '.join(taken)}.")
    if objects_in(storage, f"{PREFIX}{schema}/"):
        raise BackupError(f"The storage already holds objects under {PREFIX}{schema}/.")


def _restore_role(database: Database) -> str | None:
    """The schema owner role the restored objects must belong to, when the connection's
    role is another one (the embedded Postgres's superuser)."""
    owner = (settings.DATABASES["default"].get("OWNER") or {}).get("USER") or None
    return owner if owner and owner != database.user else None


def _public_rows_create(record: dict, warnings: list[str]):
    from tenants.models import Domain, Organization, Plan, UsageDay

    plan = None
    if record.get("plan"):
        plan = Plan.objects.filter(code=record["plan"]).first()
        if plan is None:
            plan = Plan.objects.filter(is_default=True).first()
            warnings.append(
                f"The plan {record['plan']!r} does not exist here; the organization got "
                f"{plan.code if plan else 'no plan (unlimited)'!s} instead."
            )
    organization = Organization(
        schema_name=record["schema"],
        slug=record["slug"],
        name=record["name"],
        status=record["status"],
        status_changed_at=record.get("status_changed_at"),
        suspension_reason=record.get("suspension_reason") or "",
        quota_overrides=record.get("quota_overrides") or {},
        plan=plan,
    )
    organization.auto_create_schema = False  # restored by pg_restore, not created
    organization.save()
    Organization.objects.filter(pk=organization.pk).update(created_at=record["created_at"])
    for domain in record["domains"]:
        Domain.objects.create(
            domain=domain["domain"], tenant=organization, is_primary=domain["is_primary"]
        )
    fields = {f.name for f in UsageDay._meta.concrete_fields} - {"id", "organization"}
    UsageDay.objects.bulk_create(
        UsageDay(organization=organization, **{k: v for k, v in row.items() if k in fields})
        for row in record["usage"]
    )
    return organization


def organization_restore(
    *,
    archive: Path,
    slug: str | None = None,
    storage: Storage | None = None,
    audit=None,
) -> RestoredOrganization:
    """Restore one organization from ``archive`` into this installation (see above).

    ``slug`` picks the organization out of a whole installation's archive; for an
    organization's own archive it is optional and, when given, must match.
    Raises BackupError, having left nothing behind.
    """
    from accounts.audit import AuditAction, audit_record

    storage = storage or default_storage
    manifest = backup_verify(archive)
    record = organization_record(manifest, slug)
    _migrations_known(manifest)
    schema, prefix = record["schema"], f"{PREFIX}{record['schema']}/"
    warnings: list[str] = []
    database = Database.from_settings()
    role = _restore_role(database)
    set_role = f"SET ROLE {_quote(role)}; " if role else ""
    with schema_context(get_public_schema_name()):
        _target_free(record, storage)
        organization = None
        written: list[str] = []
        # Only what this run made is undone: a schema that another restore of the same
        # organization created meanwhile makes CREATE SCHEMA fail, and is left alone.
        psql_run(database, f"{set_role}CREATE SCHEMA {_quote(schema)}")
        try:
            with tempfile.TemporaryDirectory() as work, tarfile.open(archive, "r") as tar:
                dump = Path(work) / DUMP
                with tar.extractfile(DUMP) as source, dump.open("wb") as target:
                    shutil.copyfileobj(source, target)
                options = ["--single-transaction", "--no-owner", "--no-privileges"]
                options += ["--schema", schema, *([f"--role={role}"] if role else [])]
                pg_restore(database, dump, *options)
                with transaction.atomic():
                    organization = _public_rows_create(record, warnings)
                objects = [o for o in manifest["objects"] if o["key"].startswith(prefix)]
                for item in objects:
                    data = tar.extractfile(OBJECTS + item["key"]).read()
                    saved = storage.save(item["key"], ContentFile(data))
                    written.append(saved)
                    if saved != item["key"]:
                        raise BackupError(f"Storage renamed {item['key']} to {saved}.")
            psql_run(database, f"{set_role}DELETE FROM {_quote(schema)}.django_session")  # noqa: S608
            call_command("migrate_schemas", schema_name=schema, interactive=False, verbosity=0)
        except BaseException:
            _undo(database, set_role, schema, organization, written, storage)
            raise
        finally:
            connection.set_schema_to_public()
        reindexed = _indexing_resume(schema, warnings)
        audit_record(
            action=AuditAction.ORGANIZATION_RESTORED,
            context=audit,
            target_type="organization",
            target_id=record["slug"],
            extra={"backup_created_at": manifest["created_at"], "objects": len(objects)},
        )
    return RestoredOrganization(
        slug=record["slug"],
        schema=schema,
        domains=[d["domain"] for d in record["domains"]],
        objects=len(objects),
        backup_created_at=manifest["created_at"],
        warnings=warnings,
        reindexed=reindexed,
    )


def _indexing_resume(schema: str, warnings: list[str]) -> int:
    """Queue for indexing the restored documents still pending or processing; returns
    how many. A failure to queue (the broker down) is a warning, not a failed restore:
    Retry on each document queues it later."""
    from ingestion.enqueue import document_reindex
    from ingestion.models import Document, DocumentStatus
    from workspaces.rls import organization_scope

    busy = [DocumentStatus.PENDING, DocumentStatus.PROCESSING]
    try:
        with schema_context(schema), organization_scope():
            documents = list(Document.objects.filter(status__in=busy).order_by("pk"))
            for document in documents:
                document_reindex(document=document)
    except Exception:
        logger.exception("restored documents could not be queued for indexing")
        warnings.append(
            "Documents that were being indexed at the backup could not be queued for "
            "indexing again: use Retry on each."
        )
        return 0
    finally:
        connection.set_schema_to_public()
    return len(documents)


def _undo(database, set_role, schema, organization, written, storage) -> None:
    """Remove what a failed restore made: objects, public rows, the schema. Each step is
    tried even if one before failed; failures are logged, the original error is the one
    reported."""
    steps = [lambda key=key: storage.delete(key) for key in written]
    if organization is not None:
        steps.append(lambda: type(organization).objects.filter(pk=organization.pk).delete())
    steps.append(
        lambda: psql_run(database, f"{set_role}DROP SCHEMA IF EXISTS {_quote(schema)} CASCADE")
    )
    for step in steps:
        try:
            with schema_context(get_public_schema_name()):
                step()
        except Exception:
            logger.exception("undoing the restore of schema %s", schema)
