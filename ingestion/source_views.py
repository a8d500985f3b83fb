"""Portal pages for sources (workspace admins): status, live progress, sync, edit, history."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.audit import AuditAction, audit_context, audit_record, audit_source
from ingestion import sources
from ingestion.enqueue import document_reindex
from ingestion.models import (
    Chunk,
    Document,
    DocumentStatus,
    Source,
    SyncRun,
    SyncStatus,
    SyncTrigger,
)
from workspaces.access import object_for, workspace_for, workspaces_readable
from workspaces.models import Role
from workspaces.portal import workspace_view

RUNS_SHOWN = 20
FAILED_SHOWN = 100
BUSY = (DocumentStatus.PENDING, DocumentStatus.PROCESSING)
# Searchable documents whose vectors are still coming (not given up: those have a reason).
IMPROVING = Q(documents__status=DocumentStatus.SEARCHABLE, documents__error_message="")


def _admin_source(request, pk: int) -> Source:
    """The source if the user is an admin of its workspace; 404 for non-members."""
    source = object_for(
        request.user,
        Source.objects.select_related("workspace", "connector"),
        pk=pk,
        role=Role.ADMIN,
    )
    request.workspace = source.workspace
    request.workspaces = workspaces_readable(request.user)
    return source


def _sources(workspace):
    latest = SyncRun.objects.order_by("-id")
    return (
        Source.objects.filter(workspace=workspace)
        .select_related("connector")
        .annotate(
            document_count=Count("documents"),
            indexing_count=Count("documents", filter=Q(documents__status__in=BUSY)),
            improving_count=Count("documents", filter=IMPROVING),
        )
        .prefetch_related(Prefetch("runs", queryset=latest[:1], to_attr="latest_runs"))
    )


def _passages_embedded(sources: list[Source]) -> dict[int, tuple[int, int]]:
    """(passages embedded, passages) of each source's improving documents, in one query."""
    ids = [source.pk for source in sources if source.improving_count]
    if not ids:
        return {}
    rows = (
        Chunk.objects.filter(
            document__synced_from__in=ids,
            document__status=DocumentStatus.SEARCHABLE,
            document__error_message="",
        )
        .order_by()
        .values("document__synced_from")
        .annotate(total=Count("id"), embedded=Count("id", filter=Q(embedding__isnull=False)))
    )
    return {row["document__synced_from"]: (row["embedded"], row["total"]) for row in rows}


def _progress(source: Source, passages: dict[int, tuple[int, int]]) -> dict:
    """The source's latest run as JSON, with a progress estimate while it runs, and its
    documents' vectors still coming ("improving": their count; "passages": {embedded,
    total} of theirs, or null)."""
    run = source.latest_runs[0] if source.latest_runs else None
    embedded, total = passages.get(source.pk, (None, None))
    state = {
        "id": source.pk,
        "enabled": source.enabled,
        "flagged": source.flagged,
        "next_run_at": source.next_run_at.isoformat() if source.next_run_at else None,
        "documents": source.document_count,
        "indexing": source.indexing_count,
        "improving": source.improving_count,
        "passages": None if total is None else {"embedded": embedded, "total": total},
        "run": None,
    }
    if run is None:
        return state
    done = run.status in (SyncStatus.SUCCEEDED, SyncStatus.FAILED)
    percent: int | None = 100
    if not done:
        # Until the sync has counted its items (run.total) the bar is indeterminate.
        percent = None if run.total is None else min(99, round(100 * run.seen / max(run.total, 1)))
    eta = None if done else _eta_seconds(run)
    state["run"] = {
        "id": run.pk,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "seen": run.seen,
        "added": run.added,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "deleted": run.deleted,
        "failed": run.failed,
        "total": run.total,
        "percent": percent,
        "eta_seconds": eta,
        "eta_text": _time_left(eta) if eta is not None else "",
        "error_message": run.error_message,
    }
    return state


def _eta_seconds(run: SyncRun) -> int | None:
    """Seconds a running sync still needs at its pace so far, when that can be told."""
    if run.status != SyncStatus.RUNNING or not run.total or not run.seen or not run.started_at:
        return None
    elapsed = (timezone.now() - run.started_at).total_seconds()
    return max(0, round(elapsed / run.seen * (run.total - run.seen)))


def _time_left(seconds: int) -> str:
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60} min left"


@workspace_view(Role.ADMIN)
def source_list(request):
    rows = list(_sources(request.workspace))
    passages = _passages_embedded(rows)
    # Failed, or searchable with their embedding given up (ingestion.embedding_queue).
    failed = (
        Document.objects.filter(workspace=request.workspace)
        .filter(
            Q(status=DocumentStatus.FAILED)
            | (Q(status=DocumentStatus.SEARCHABLE) & ~Q(error_message=""))
        )
        .select_related("synced_from")[:FAILED_SHOWN]
    )
    return render(
        request,
        "ingestion/source_list.html",
        {
            "rows": [(source, _progress(source, passages)) for source in rows],
            "flagged": [source for source in rows if source.flagged],
            "failed_documents": failed,
        },
    )


@workspace_view(Role.ADMIN)
def source_status(request):
    """Every source's state and latest run (polled by the sources page during runs)."""
    rows = list(_sources(request.workspace))
    passages = _passages_embedded(rows)
    return JsonResponse({"sources": [_progress(s, passages) for s in rows]})


@login_required
def source_detail(request, pk: int):
    source = _admin_source(request, pk)
    return render(
        request,
        "ingestion/source_detail.html",
        {"source": source, "runs": source.runs.all()[:RUNS_SHOWN]},
    )


@login_required
@require_POST
def source_sync(request, pk: int):
    source = _admin_source(request, pk)
    full = request.POST.get("full") == "1"
    trigger = SyncTrigger.REINDEX if full else SyncTrigger.MANUAL
    sources.source_sync_request(source=source, trigger=trigger, full=full)
    audit_source(
        action=AuditAction.SOURCE_SYNC_REQUESTED, request=request, source=source, full=full
    )
    queued = (
        _("A full re-index of %(name)s has been queued.")
        if full
        else _("A sync of %(name)s has been queued.")
    )
    messages.success(request, queued % {"name": source.name})
    return redirect(f"/sources/?workspace={source.workspace.slug}")


@login_required
@require_POST
def source_delete(request, pk: int):
    """Delete the source and every document it brought in (workspace admins)."""
    source = _admin_source(request, pk)
    slug, name = source.workspace.slug, source.name
    count = sources.source_delete(source=source, audit=audit_context(request))
    messages.success(
        request, _("Deleted %(name)s and its %(count)s documents.") % {"name": name, "count": count}
    )
    return redirect(f"/sources/?workspace={slug}")


@login_required
@require_POST
def source_toggle(request, pk: int):
    source = _admin_source(request, pk)
    sources.source_update(source=source, enabled=not source.enabled)
    audit_source(
        action=AuditAction.SOURCE_CHANGED,
        request=request,
        source=source,
        changed={"enabled": source.enabled},
    )
    state = _("%(name)s is enabled.") if source.enabled else _("%(name)s is disabled.")
    messages.success(request, state % {"name": source.name})
    return redirect(f"/sources/?workspace={source.workspace.slug}")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@login_required
def source_edit(request, pk: int):
    source = _admin_source(request, pk)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            sources.source_update(
                source=source,
                schedule=request.POST.get("schedule", ""),
                include_globs=_lines(request.POST.get("include_globs", "")),
                exclude_globs=_lines(request.POST.get("exclude_globs", "")),
            )
        except ValidationError as exc:
            errors = exc.message_dict
            source.refresh_from_db()
        else:
            audit_source(
                action=AuditAction.SOURCE_CHANGED,
                request=request,
                source=source,
                changed={
                    "schedule": source.schedule,
                    "include_globs": source.include_globs,
                    "exclude_globs": source.exclude_globs,
                },
            )
            messages.success(request, _("Saved %(name)s.") % {"name": source.name})
            return redirect(f"/sources/?workspace={source.workspace.slug}")
    return render(
        request,
        "ingestion/source_edit.html",
        {"source": source, "errors": errors, "form": request.POST if errors else None},
        status=400 if errors else 200,
    )


@login_required
@require_POST
def workspace_reindex(request):
    workspace = workspace_for(request.user, request.GET.get("workspace") or None, role=Role.ADMIN)
    count = sources.workspace_reindex(workspace=workspace)
    audit_record(
        action=AuditAction.WORKSPACE_REINDEX_REQUESTED,
        context=audit_context(request),
        target_type="workspace",
        target_id=workspace.pk,
        extra={"workspace": workspace.slug, "uploads": count},
    )
    messages.success(
        request,
        _("Re-indexing %(name)s: every source's full sync and %(count)s uploads queued.")
        % {"name": workspace.name, "count": count},
    )
    return redirect(f"/sources/?workspace={workspace.slug}")


@login_required
@require_POST
def document_retry(request, pk: int):
    document = object_for(
        request.user, Document.objects.select_related("workspace"), pk=pk, role=Role.ADMIN
    )
    document_reindex(document=document)
    audit_record(
        action=AuditAction.DOCUMENT_REINDEX_REQUESTED,
        context=audit_context(request),
        target_type="document",
        target_id=document.pk,
        extra={"workspace": document.workspace.slug},
    )
    messages.success(
        request, _("%(title)s is queued to be indexed again.") % {"title": document.title}
    )
    return redirect(f"/sources/?workspace={document.workspace.slug}")
