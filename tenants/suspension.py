"""Suspending and resuming an organization (platform operators only).

While suspended, every page and API call at the organization's address answers 403
with the reason (``tenants.middleware``), so nobody signs in, and beat queues none of
its syncs (``ingestion.tasks.sources_sync_due`` asks ``organizations_schedulable``).
Its data stays untouched; resuming restores everything as it was.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from tenants.models import Organization, OrganizationStatus
from tenants.quotas import organization_current

logger = logging.getLogger(__name__)


def organization_suspend(*, organization: Organization, reason: str = "") -> Organization:
    """Suspend ``organization``; suspending a suspended one only updates the reason.

    Written with UPDATE (not ``save()``), so it works from any schema, e.g. an
    operator's action while the connection last served an organization.
    """
    with transaction.atomic():
        current = Organization.objects.select_for_update().get(pk=organization.pk)
        if current.status not in (OrganizationStatus.ACTIVE, OrganizationStatus.SUSPENDED):
            raise ValueError(f"a {current.status} organization cannot be suspended")
        changes: dict = {"suspension_reason": reason[:500]}
        if current.status != OrganizationStatus.SUSPENDED:
            changes |= {"status": OrganizationStatus.SUSPENDED, "status_changed_at": timezone.now()}
        Organization.objects.filter(pk=current.pk).update(**changes)
    logger.info("organization suspended organization=%s", organization.pk)
    return Organization.objects.get(pk=organization.pk)


def organization_resume(*, organization: Organization) -> Organization:
    """Make a suspended ``organization`` active again (no-op when it is not suspended)."""
    resumed = Organization.objects.filter(
        pk=organization.pk, status=OrganizationStatus.SUSPENDED
    ).update(
        status=OrganizationStatus.ACTIVE, status_changed_at=timezone.now(), suspension_reason=""
    )
    if resumed:
        logger.info("organization resumed organization=%s", organization.pk)
    return Organization.objects.get(pk=organization.pk)


def organizations_schedulable():
    """Organizations whose scheduled work (syncs, retention, metering) may run."""
    return Organization.objects.filter(status=OrganizationStatus.ACTIVE).exclude(
        schema_name="public"
    )


def organization_is_active(organization: Organization | None = None) -> bool:
    """Whether ``organization`` (default: the current schema's) is active right now.

    Reads the row (not the copy a long task started with), so a suspension reaches
    work already queued.
    """
    organization = organization or organization_current()
    if organization is None:
        return True
    status = Organization.objects.filter(pk=organization.pk).values_list("status", flat=True)
    return status.first() == OrganizationStatus.ACTIVE
