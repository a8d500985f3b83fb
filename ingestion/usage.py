"""Ingestion's counts for the organization's usage (``tenants.usage``).

Registered in ``IngestionConfig.ready()``: documents, stored bytes and sources are levels
the plan limits; sync runs and documents added are a day's activity. Each counts the whole
organization (every workspace), whoever's request asks.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Sum

from ingestion.models import Document, Source, SyncRun
from tenants.usage import Activity
from workspaces.rls import organization_scope


def documents_count() -> int:
    with organization_scope():
        return Document.objects.count()


def storage_bytes() -> int:
    with organization_scope():
        return int(Document.objects.aggregate(size=Sum("size_bytes"))["size"] or 0)


def sources_count() -> int:
    with organization_scope():
        return Source.objects.count()


def activity_of(*, start: datetime, end: datetime) -> dict[Activity, int]:
    """Sync runs started and documents added in ``[start, end)``."""
    with organization_scope():
        return {
            "sync_runs": SyncRun.objects.filter(started_at__gte=start, started_at__lt=end).count(),
            "documents_added": Document.objects.filter(
                created_at__gte=start, created_at__lt=end
            ).count(),
        }
