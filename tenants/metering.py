"""Usage metering: one ``UsageDay`` row per organization per UTC day (public schema).

Two writers keep it:

- the services, as things happen (``question_metered`` after an answer is logged,
  ``document_metered`` after an upload is stored), with one atomic upsert each;
- ``usage_measure`` (Celery beat, every few minutes, and on demand), which measures
  the levels — documents, stored bytes — and today's sync runs in the organization's
  schema, and raises today's question and token counts to what the query log holds
  (so a count lost with a failed write is repaired; counts never go down). The apps
  that own those rows count them (``tenants.usage``); metering imports none of them.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants import quotas, usage
from tenants.models import Organization, OrganizationStatus, UsageDay

logger = logging.getLogger(__name__)

_COUNTERS: tuple[usage.Activity, ...] = ("questions", "llm_tokens", "documents_added", "sync_runs")


def _bump(organization_id: int, day: date, **deltas: int) -> None:
    """Add ``deltas`` to the day's counters in one statement (safe under concurrency)."""
    if not any(deltas.get(name) for name in _COUNTERS):
        return
    values = [int(deltas.get(name) or 0) for name in _COUNTERS]
    columns = ", ".join(_COUNTERS)
    updates = ", ".join(f"{name} = usage.{name} + EXCLUDED.{name}" for name in _COUNTERS)
    table = f"public.{UsageDay._meta.db_table}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} AS usage (organization_id, day, {columns}, "  # noqa: S608
            f"documents, storage_bytes) VALUES (%s, %s, {', '.join(['%s'] * len(values))}, 0, 0) "
            f"ON CONFLICT (organization_id, day) DO UPDATE SET {updates}",
            [organization_id, day, *values],
        )


def question_metered(*, tokens: int) -> None:
    """Count one answered question and its LLM tokens for the current organization."""
    organization = quotas.organization_current()
    if organization is None:
        return
    # Redis first: a missing counter is seeded from the rows, which must not yet hold
    # these tokens (else they would count twice).
    quotas.llm_tokens_add(organization, tokens)
    _bump(organization.pk, timezone.now().date(), questions=1, llm_tokens=max(0, tokens))


def document_metered(*, size: int) -> None:
    """Count one stored upload for the current organization, and add it to today's
    levels so the owner sees it at once: to the last measurement's (beat measures every
    few minutes), or, not measured yet today, to a count of every document (once a day:
    counting a large organization's documents with each upload would cost each upload
    more, the larger the organization)."""
    organization = quotas.organization_current()
    if organization is None:
        return
    day = timezone.now().date()
    _bump(organization.pk, day, documents_added=1)
    today = UsageDay.objects.filter(organization_id=organization.pk, day=day)
    if today.filter(measured_at__isnull=False).update(
        documents=F("documents") + 1, storage_bytes=F("storage_bytes") + size
    ):
        return
    documents, stored = quotas.documents_level()
    today.update(documents=documents, storage_bytes=stored)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def usage_measure(*, organization: Organization, day: date | None = None) -> UsageDay:
    """Measure ``organization``'s usage for ``day`` (default today) in its schema.

    The counts come from the apps that own the rows (``tenants.usage``). Idempotent:
    running it twice writes the same row. Counts kept by the services are only ever
    raised to what the organization's own tables show, never lowered (a retention purge
    must not give back questions already asked today).
    """
    day = day or timezone.now().date()
    start, end = _day_bounds(day)
    # Beat runs this in the public schema; each counter counts the whole organization.
    with schema_context(organization.schema_name):
        documents, stored = quotas.documents_level()
        activity = usage.activity_count(start=start, end=end)
    row, _ = UsageDay.objects.get_or_create(organization=organization, day=day)
    row.documents = documents
    row.storage_bytes = stored
    for name in _COUNTERS:
        setattr(row, name, max(getattr(row, name), activity[name]))
    row.measured_at = timezone.now()
    row.save()
    return row


def usage_measure_all() -> int:
    """Measure every organization that is in use (active or suspended); returns how many."""
    organizations = Organization.objects.filter(
        status__in=[OrganizationStatus.ACTIVE, OrganizationStatus.SUSPENDED]
    ).exclude(schema_name="public")
    count = 0
    for organization in organizations:
        try:
            usage_measure(organization=organization)
            count += 1
        except Exception:
            # One broken schema must not stop the others being measured.
            logger.exception("usage measurement failed organization=%s", organization.pk)
    return count


def usage_recent(organization: Organization, *, days: int = 30) -> list[UsageDay]:
    """The organization's last ``days`` days of usage, newest first."""
    since = timezone.now().date() - timedelta(days=days - 1)
    return list(UsageDay.objects.filter(organization=organization, day__gte=since))
