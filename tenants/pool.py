"""Provisioning ahead of demand: a pool of spare, fully migrated organization schemas.

Creating a schema runs every organization migration, which takes far longer than a
signup should (measured: bench/provisioning.py, bench/RESULTS.md). So Celery beat keeps
``ORGANIZATION_POOL_SIZE`` spares ready, and a signup *claims* one: the spare's schema
is renamed (``ALTER SCHEMA ... RENAME``, transactional and instant) and its row becomes
the new organization.

A spare is an ordinary ``Organization`` row with status ``spare`` and no domain, so
nobody can reach it, beat skips it, and ``migrate_schemas`` keeps it migrated on
upgrade like every other organization. A claim still checks for unapplied migrations
(an upgrade may have run between) and applies them.
"""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django_redis import get_redis_connection
from django_tenants.utils import schema_context

from tenants.models import Organization, OrganizationStatus, Plan

logger = logging.getLogger(__name__)

SPARE_SLUG_PREFIX = "spare-"
# Replenishing creates schemas one by one for minutes; one replenisher at a time.
_LOCK_KEY = "opaa:pool:replenish"
_LOCK_TTL_S = 30 * 60


def spare_create() -> Organization:
    """Create one spare organization schema (slow: runs every organization migration)."""
    token = secrets.token_hex(6)
    spare = Organization(
        name="Spare",
        slug=f"{SPARE_SLUG_PREFIX}{token}",
        schema_name=f"spare_{token}",
        status=OrganizationStatus.SPARE,
    )
    spare.save()
    return spare


def spares_count() -> int:
    return Organization.objects.filter(status=OrganizationStatus.SPARE).count()


def pool_replenish(*, size: int | None = None) -> int:
    """Create spares until the pool holds ``size`` (default ``ORGANIZATION_POOL_SIZE``).

    Returns how many were created. Safe to run concurrently and repeatedly: a Redis
    lock lets one replenisher work at a time (the others return 0 at once), and each
    run only tops up what is missing.
    """
    size = settings.ORGANIZATION_POOL_SIZE if size is None else size
    redis = get_redis_connection("default")
    lock = redis.lock(_LOCK_KEY, timeout=_LOCK_TTL_S, blocking=False)
    if not lock.acquire():
        return 0
    created = 0
    try:
        while spares_count() < size:
            spare_create()
            created += 1
    finally:
        lock.release()
    if created:
        logger.info("provisioning pool topped up created=%s size=%s", created, size)
    return created


def _migrate_if_behind(schema_name: str) -> None:
    from workspaces.rls import schema_owner_connection

    with schema_owner_connection(), schema_context(schema_name):
        executor = MigrationExecutor(connection)
        behind = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if behind:
        logger.info("claimed spare is behind, migrating schema=%s", schema_name)
        call_command("migrate_schemas", schema_name=schema_name, interactive=False, verbosity=0)


def _schema_rename(old: str, new: str) -> None:
    """Rename a schema, as its owner (the application's role owns no schema)."""
    from workspaces.rls import schema_owner_connection

    with schema_owner_connection(), connection.cursor() as cursor:
        quoted = connection.ops.quote_name
        cursor.execute(f"ALTER SCHEMA {quoted(old)} RENAME TO {quoted(new)}")


def spare_claim(*, name: str, slug: str, plan: Plan | None, status: str) -> Organization | None:
    """Turn a spare into the organization ``slug``; None when the pool is empty.

    The row is locked with SKIP LOCKED, so concurrent signups each get their own spare.
    The rename runs on the schema owner's connection (committed at once); if the row
    update then fails (a concurrent signup took ``slug``), the schema is renamed back
    and the spare stays a spare. The caller has validated ``slug`` (the schema name
    derives from it).
    """
    schema_name = slug.replace("-", "_")
    with transaction.atomic():
        spare = (
            Organization.objects.select_for_update(skip_locked=True)
            .filter(status=OrganizationStatus.SPARE)
            .order_by("pk")
            .first()
        )
        if spare is None:
            return None
        _schema_rename(spare.schema_name, schema_name)
        now = timezone.now()
        try:
            with transaction.atomic():
                Organization.objects.filter(pk=spare.pk).update(
                    name=name,
                    slug=slug,
                    schema_name=schema_name,
                    plan=plan,
                    status=status,
                    status_changed_at=now,
                    created_at=now,
                )
        except Exception:
            _schema_rename(schema_name, spare.schema_name)
            raise
    organization = Organization.objects.get(pk=spare.pk)
    _migrate_if_behind(schema_name)
    return organization
