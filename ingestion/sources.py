"""Connectors and sources: create, edit, schedule, request syncs, re-index.

The sync itself lives in ``ingestion.sync``; this module decides *when* and *what*.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import AuditAction, audit_record
from infra import crypto
from ingestion.connectors import ConnectorError, SourceSpec, connector_for
from ingestion.enqueue import document_reindex
from ingestion.erasure import documents_erase
from ingestion.locks import source_sync_locked
from ingestion.models import Connector, Document, Source, SyncRun, SyncStatus, SyncTrigger
from tenants.quotas import source_admit
from tenants.suspension import organization_is_active
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

UNFINISHED = (SyncStatus.QUEUED, SyncStatus.RUNNING)
MAX_GLOBS = 50
QUEUED_LOST_AFTER = timedelta(hours=1)


def connector_create(
    *, name: str, kind: str, config: dict | None = None, secrets: dict | None = None
) -> Connector:
    """A connector whose ``secrets`` are stored encrypted (never logged)."""
    connector_for(kind)  # an unknown kind raises ConnectorError
    return Connector.objects.create(
        name=name,
        kind=kind,
        config=config or {},
        secrets_encrypted=crypto.encrypt(json.dumps(secrets)) if secrets else "",
    )


def connector_secrets_set(*, connector: Connector, secrets: dict) -> None:
    """Replace the connector's secrets (stored encrypted; the caller saves the row)."""
    connector.secrets_encrypted = crypto.encrypt(json.dumps(secrets)) if secrets else ""


def source_check(source: Source) -> None:
    """Raise ValidationError unless the source's schedule and paths can work."""
    source.schedule = schedule_validate(source.schedule)
    try:
        connector_for(source.connector.kind).validate(source_spec(source))
    except ConnectorError as exc:
        raise ValidationError({"paths": exc.reason}) from exc


def connector_secrets(connector: Connector) -> dict:
    return json.loads(crypto.decrypt(connector.secrets_encrypted) or "{}")


def source_spec(source: Source) -> SourceSpec:
    connector = source.connector
    return SourceSpec(
        paths=tuple(source.paths),
        include_globs=tuple(source.include_globs),
        exclude_globs=tuple(source.exclude_globs),
        readers=tuple(source.readers),
        config=dict(connector.config),
        secrets=connector_secrets(connector),
    )


def schedule_validate(schedule: str) -> str:
    schedule = " ".join(schedule.split())
    if len(schedule.split(" ")) != 5 or not croniter.is_valid(schedule):
        raise ValidationError(
            {
                "schedule": _("%(schedule)r is not a cron schedule such as '0 * * * *' (hourly).")
                % {"schedule": schedule}
            }
        )
    return schedule


def schedule_next(schedule: str, *, after: datetime | None = None) -> datetime:
    return croniter(schedule, after or timezone.now()).get_next(datetime)


def globs_validate(globs: list[str], *, field: str) -> list[str]:
    cleaned = [glob.strip() for glob in globs if glob.strip()]
    if len(cleaned) > MAX_GLOBS or any(len(glob) > 300 for glob in cleaned):
        raise ValidationError(
            {field: _("At most %(count)s patterns of 300 characters.") % {"count": MAX_GLOBS}}
        )
    return cleaned


def source_create(
    *,
    connector: Connector,
    workspace: Workspace,
    name: str,
    paths: list[str],
    include_globs: list[str] | None = None,
    exclude_globs: list[str] | None = None,
    readers: list[str] | None = None,
    schedule: str = "0 * * * *",
    enabled: bool = True,
) -> Source:
    """A source, checked by its connector (e.g. its folders are allowed) and scheduled.

    Raises ``QuotaExceeded`` (402) when the plan's number of sources is reached.
    """
    source_admit()
    source = Source(
        connector=connector,
        workspace=workspace,
        name=name,
        paths=paths,
        include_globs=globs_validate(include_globs or [], field="include_globs"),
        exclude_globs=globs_validate(exclude_globs or [], field="exclude_globs"),
        readers=readers or [],
        schedule=schedule,
        enabled=enabled,
    )
    source_check(source)
    source.next_run_at = schedule_next(source.schedule)
    source.save()
    return source


def source_update(
    *,
    source: Source,
    schedule: str | None = None,
    include_globs: list[str] | None = None,
    exclude_globs: list[str] | None = None,
    enabled: bool | None = None,
) -> Source:
    """Change what a workspace admin may change from the portal.

    Raises ValidationError naming every field's problem; nothing changes then.
    """
    fields: list[str] = []
    errors: dict[str, list[str]] = {}
    if schedule is not None:
        try:
            source.schedule = schedule_validate(schedule)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        else:
            source.next_run_at = schedule_next(source.schedule)
            fields += ["schedule", "next_run_at"]
    for field, globs in (("include_globs", include_globs), ("exclude_globs", exclude_globs)):
        if globs is None:
            continue
        try:
            setattr(source, field, globs_validate(globs, field=field))
        except ValidationError as exc:
            errors.update(exc.message_dict)
        else:
            fields.append(field)
    if errors:
        raise ValidationError(errors)
    if enabled is not None:
        source.enabled = enabled
        fields.append("enabled")
        if enabled:
            source.next_run_at = schedule_next(source.schedule)
            fields.append("next_run_at")
    if fields:
        source.save(update_fields=sorted(set(fields)))
    return source


def _enqueue(source_id: int) -> None:
    # Imported here: ``ingestion.tasks`` imports this module, so at the top it would be a cycle.
    from ingestion.tasks import sync_source

    transaction.on_commit(lambda: sync_source.delay(source_id))


def source_sync_request(*, source: Source, trigger: str, full: bool = False) -> SyncRun:
    """Queue a sync of ``source``; returns its run.

    Idempotent while a run is unfinished: asking again returns that run instead of
    queueing a second one (a full re-index still marks the waiting run as full).
    """
    with transaction.atomic():
        Source.objects.select_for_update().get(pk=source.pk)
        run = source.runs.filter(status__in=UNFINISHED).order_by("id").first()
        if run is None:
            run = SyncRun.objects.create(
                source=source, trigger=trigger, full=full, heartbeat_at=timezone.now()
            )
        elif full and not run.full:
            run.full = True
            run.save(update_fields=["full"])
        _enqueue(source.pk)
    logger.info("sync requested source=%s run=%s trigger=%s", source.pk, run.pk, trigger)
    return run


def workspace_reindex(*, workspace: Workspace) -> int:
    """Re-index everything in ``workspace``: a full sync of each source, uploads again.

    Returns the number of uploaded documents queued; sources' documents follow their runs.
    """
    for source in workspace.sources.select_related("connector"):
        source_sync_request(source=source, trigger=SyncTrigger.REINDEX, full=True)
    uploads = Document.objects.filter(workspace=workspace, synced_from__isnull=True)
    count = 0
    for document in uploads.iterator():
        document_reindex(document=document)
        count += 1
    return count


def sources_sync_due(*, now: datetime | None = None) -> list[int]:
    """Queue the organization's sources whose cron is due; resume runs a dead worker left.

    Called every minute by beat in each organization. A source is due when enabled and
    its ``next_run_at`` has passed; its next time is computed from now, so a beat that
    was down for hours runs a source once, not once per missed slot.
    """
    if not organization_is_active():
        return []  # suspended since beat listed it: nothing runs
    now = now or timezone.now()
    queued = []
    # An archived workspace is out of use: its sources wait until it is restored.
    due = Source.objects.filter(
        enabled=True, next_run_at__lte=now, workspace__archived_at__isnull=True
    )
    for source in due:
        source_sync_request(source=source, trigger=SyncTrigger.SCHEDULE)
        source.next_run_at = schedule_next(source.schedule, after=now)
        source.save(update_fields=["next_run_at"])
        queued.append(source.pk)
    # A running run whose heartbeat stopped was interrupted; a queued one that waited this
    # long lost its task (a queue may hold a backlog, so it is given much longer).
    stale = SyncRun.objects.filter(
        Q(
            status=SyncStatus.RUNNING,
            heartbeat_at__lt=now - timedelta(seconds=2 * settings.SYNC_LOCK_TTL_S),
        )
        | Q(status=SyncStatus.QUEUED, heartbeat_at__lt=now - QUEUED_LOST_AFTER)
    )
    for run in stale.exclude(source_id__in=queued):
        if not source_sync_locked(run.source_id):
            logger.warning("resuming interrupted sync run=%s source=%s", run.pk, run.source_id)
            _enqueue(run.source_id)
            queued.append(run.source_id)
    return queued


def source_delete(*, source: Source, audit=None) -> int:
    """Erase a source: every document it brought in (``documents_erase``), its sync
    runs, the source itself; returns how many documents went. Audited as ``audit``.

    Its connector stays (other sources may use it; an admin deletes it separately).
    A sync running meanwhile would find its source gone and stop; the sync lock is
    not needed, because every document goes through the same erasure either way.
    """
    source_id = source.pk
    with transaction.atomic():
        count = documents_erase(documents=Document.objects.filter(synced_from=source), audit=audit)
        audit_record(
            action=AuditAction.SOURCE_DELETED,
            context=audit,
            target_type="source",
            target_id=source_id,
            extra={"workspace": source.workspace.slug, "documents": count},
        )
        source.delete()  # its sync runs go with it (ON DELETE CASCADE)
    logger.info("source deleted id=%s documents=%s", source_id, count)
    return count
