"""Portal pages for documents: the document browser (search, filters, sort, pages) with
live status and upload; a document's preview, its original, its readers; delete."""

import re
from io import BytesIO

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.audit import AuditAction, audit_context, audit_record
from ingestion import erasure, sharing
from ingestion.document_browser import (
    browser_context,
    embedding_failing_shown,
    original_content_type,
)
from ingestion.document_events import document_opened
from ingestion.embedding_failure import embedding_failing
from ingestion.embedding_queue import embedding_given_up, embedding_progress
from ingestion.indexing import reason_shown
from ingestion.models import DocumentStatus
from ingestion.preview import PART_SIZE, preview_blocks
from ingestion.readers import document_readers_set
from ingestion.selectors import document_for, documents_readable
from ingestion.storage import OriginalMissing, original_read
from ingestion.upload_batch import MAX_FILES_PER_BATCH, upload_batch_receive
from ingestion.uploads import UploadOutcome
from workspaces.access import role_in, workspace_for
from workspaces.models import Role
from workspaces.portal import workspace_view
from workspaces.readers import ReaderChoice, reader_choices, readers_describe, readers_validate


def _wants_json(request) -> bool:
    """The page's upload script asks for JSON; a plain form post gets a redirect."""
    return "application/json" in request.headers.get("Accept", "")


def _upload(request):
    """Receive the posted ``files``: JSON results for the page's script (one file per
    request, to show its progress), messages and a redirect for the plain form."""
    files = request.FILES.getlist("files")
    if _wants_json(request) and not 0 < len(files) <= MAX_FILES_PER_BATCH:
        detail = f"Send between 1 and {MAX_FILES_PER_BATCH} files; {len(files)} sent."
        return JsonResponse({"detail": detail}, status=400)
    results = upload_batch_receive(
        workspace=request.workspace,
        user=request.user,
        files=files[:MAX_FILES_PER_BATCH],
        audit=audit_context(request),
    )
    if _wants_json(request):
        return JsonResponse(
            {
                "results": [
                    {
                        "filename": r.filename,
                        "status": r.status,
                        "outcome": r.outcome,
                        "detail": r.detail,
                        "document": r.document and {"id": r.document.pk, "title": r.document.title},
                    }
                    for r in results
                ]
            },
            status=207,
        )
    if not files:
        messages.error(request, _("Choose at least one file to upload."))
    for result in results:
        if result.outcome == "refused":
            messages.error(request, f"{result.filename}: {result.detail}")
            continue
        label = result.detail
        if result.outcome == UploadOutcome.DUPLICATE and result.document:
            label = _("%(label)s (see “%(title)s”)") % {
                "label": label,
                "title": result.document.title,
            }
        messages.success(request, f"{result.filename}: {label[0].lower()}{label[1:]}")
    if len(files) > MAX_FILES_PER_BATCH:
        messages.error(
            request,
            _("Only the first %(count)s files were uploaded.") % {"count": MAX_FILES_PER_BATCH},
        )
    refused_by_plan = next((r.quota for r in results if r.quota is not None), None)
    if refused_by_plan is not None:
        # The plan-limit page (tenants.middleware) says what a bigger plan changes; the
        # other files' results wait in the messages for the next page.
        raise refused_by_plan
    return redirect(f"{request.path}?workspace={request.workspace.slug}")


def _listed_workspaces(request) -> list:
    """The workspaces the page lists: the one shown, or all of the person's (``all``)."""
    return list(request.workspaces) if request.all_workspaces else [request.workspace]


@workspace_view(Role.VIEWER, post_role=Role.EDITOR, allow_all=True)
def document_list(request):
    """The document browser: GET parameters are its whole state (``document_filters``);
    a bad one answers 400 with the page saying what to fix. POST uploads."""
    if request.method == "POST":
        return _upload(request)
    context = browser_context(
        request.user, params=request.GET, workspaces=_listed_workspaces(request)
    )
    if not request.all_workspaces:
        # What was shared into this workspace since the person last dismissed it.
        context["notices"] = sharing.notices_unseen(request.user, request.workspace)
    # "n of m passages embedded" under a searchable document's status (one query, and
    # only when the page shows one).
    progress = embedding_progress(
        row["document"].pk
        for row in context.get("rows", [])
        if row["document"].status == DocumentStatus.SEARCHABLE
    )
    # Embedding failing (the provider's reason), to the admins of a waiting document.
    reason, admin_of = embedding_failing_shown(request.user, _listed_workspaces(request))
    for row in context.get("rows", []):
        document = row["document"]
        row["progress"] = progress.get(document.pk)
        waiting = row["progress"] is not None and not document.error_message
        row["failing"] = reason if waiting and document.workspace_id in admin_of else ""
    return render(
        request,
        "ingestion/document_list.html",
        context,
        status=400 if context["errors"] else 200,
    )


@workspace_view(Role.VIEWER, allow_all=True)
def document_status(request):
    """Statuses of the listed documents (polled by the documents page), or of one of
    them, ``?document=<id>`` (polled by its page; none if the person may not read it)."""
    documents = documents_readable(request.user, workspaces=_listed_workspaces(request))
    wanted = request.GET.get("document", "")
    if wanted:
        if not wanted.isdigit():
            return JsonResponse({"detail": _("A document is named by its number.")}, status=400)
        documents = documents.filter(pk=int(wanted))
    rows = list(
        documents.values("id", "status", "error_message", "title", "indexed_at", "workspace_id")
    )
    progress = embedding_progress(
        row["id"] for row in rows if row["status"] == DocumentStatus.SEARCHABLE
    )
    reason, admin_of = embedding_failing_shown(request.user, _listed_workspaces(request))
    for row in rows:
        # A searchable document's vectors so far: {"embedded": n, "total": m}, else null.
        embedded, total = progress.get(row["id"], (None, None))
        row["passages"] = None if total is None else {"embedded": embedded, "total": total}
        # Its vectors wait while embedding fails: the provider's reason (admins only).
        waiting = total is not None and not row["error_message"]
        row["embedding_failing"] = reason if waiting and row["workspace_id"] in admin_of else ""
        del row["workspace_id"]
        # Stored in the installation's language; shown in the reader's where translated.
        row["error_message"] = reason_shown(row["error_message"])
    return JsonResponse({"documents": rows})


def _preview_part(request, document) -> tuple[int, int]:
    """(part, parts) of the preview to show: ``?part=N`` or the part holding ``?chunk=``
    (a citation's passage); 400 for a value that is not a number, 404 past the end."""
    chunks = document.chunks.all()
    parts = max(1, -(-chunks.count() // PART_SIZE))
    raw_part, raw_chunk = request.GET.get("part", ""), request.GET.get("chunk", "")
    if raw_chunk:
        if not raw_chunk.isdigit():
            raise ValidationError({"chunk": "A passage is named by its number."})
        ordinal = chunks.filter(pk=int(raw_chunk)).values_list("ordinal", flat=True).first()
        if ordinal is None:
            raise Http404("No such passage in this document.")
        return ordinal // PART_SIZE + 1, parts
    if not raw_part:
        return 1, parts
    if not raw_part.isdigit() or int(raw_part) < 1:
        raise ValidationError({"part": "A part is a number from 1."})
    if int(raw_part) > parts:
        raise Http404("The preview has no such part.")
    return int(raw_part), parts


@login_required
def document_detail(request, pk: int):
    """The document: its details, a preview of its parsed text under its headings, its
    original to download, its readers (admins)."""
    document = document_for(request.user, pk)
    try:
        part, parts = _preview_part(request, document)
    except ValidationError as exc:
        return render(
            request,
            "error.html",
            {"status": 400, "detail": " ".join(exc.messages)},
            status=400,
        )
    document_opened(document=document, audit=audit_context(request), via="portal")
    can_set_readers = (
        document.shared_into is None and role_in(request.user, document.workspace) == Role.ADMIN
    )
    shown = readers_describe(document.readers)
    start = (part - 1) * PART_SIZE
    searchable = document.status == DocumentStatus.SEARCHABLE
    embedded, passages = (
        embedding_progress([document.pk]).get(document.pk, (0, 0)) if searchable else (0, 0)
    )
    given_up = embedding_given_up(document)
    is_admin = (
        document.shared_into is None and role_in(request.user, document.workspace) == Role.ADMIN
    )
    # Where its page polls its status: the workspace it is shown in.
    shown_in = document.shared_into or document.workspace
    chunks = document.chunks.only("id", "text", "heading_path", "ordinal").order_by("ordinal")
    return render(
        request,
        "ingestion/document_detail.html",
        {
            "document": document,
            "blocks": preview_blocks(chunks[start : start + PART_SIZE]),
            "part": part,
            "parts": range(1, parts + 1) if parts > 1 else None,
            "content_type": original_content_type(document),
            "can_set_readers": can_set_readers,
            # While searchable: how many of its passages have their vector yet; and
            # whether their embedding was given up (the reason and Retry are shown).
            "passages_embedded": embedded,
            "passages": passages,
            "embedding_given_up": given_up,
            # Its vectors wait while embedding fails: the provider's reason (admins only).
            "embedding_failing": (embedding_failing() or "")
            if searchable and not given_up and is_admin
            else "",
            # Polled while its vectors come ("n of m" and the status change in place).
            "status_url": f"{reverse('ingestion:status')}?workspace={shown_in.slug}"
            f"&document={document.pk}",
            "can_retry": (document.status == DocumentStatus.FAILED or given_up) and is_admin,
            # Sharing (ingestion.sharing): where it is shared and where it may go, for
            # editors of its workspace; the Remove of an admin of the one shown.
            "shares": sharing.shares_of(document) if document.shared_into is None else [],
            "share_targets": sharing.share_targets(request.user, document)
            if document.shared_into is None
            else [],
            "can_remove_share": document.shared_into is not None
            and role_in(request.user, document.shared_into) == Role.ADMIN,
            "readers_text": "\n".join(_reader_line(reader) for reader in shown),
            "readers_shown": shown,
            # The picker's completion: the organization's members and groups (admins only).
            "reader_choices": [
                {"principal": c.principal, "kind": c.kind, "name": c.name, "detail": c.detail}
                for c in (reader_choices() if can_set_readers else [])
            ],
        },
    )


@login_required
@require_POST
def document_readers(request, pk: int):
    """Set who may read the document (workspace admins): one reader a line, or none."""
    document = document_for(request.user, pk, role=Role.ADMIN)
    # One reader a line (or separated by commas): "Finance team" is one group's name.
    typed = re.split(r"[\n,;]", request.POST.get("readers", ""))
    try:
        chosen = readers_validate(typed, keep=document.readers)
        document_readers_set(
            document=document,
            readers=[choice.principal for choice in chosen],
            audit=audit_context(request),
        )
    except ValidationError as exc:
        messages.error(request, _("Nothing was saved.") + " " + " ".join(exc.messages))
        return redirect("ingestion:document", pk=document.pk)
    shown = ", ".join(_reader_label(choice) for choice in chosen)
    shown = shown or _("every member of the workspace")
    messages.success(request, _("Readers saved: %(readers)s.") % {"readers": shown})
    return redirect("ingestion:document", pk=document.pk)


def _reader_line(choice: ReaderChoice) -> str:
    """A reader as the readers box shows it: a group's name, a person's email."""
    return {"group": choice.name, "person": choice.detail}.get(choice.kind, choice.principal)


def _reader_label(choice: ReaderChoice) -> str:
    kind = {"person": _("person"), "group": _("group")}.get(choice.kind, _("unknown"))
    return f"{choice.name} ({kind})"


@login_required
def document_original(request, pk: int):
    """The original file, always as a download (never rendered in our origin)."""
    document = document_for(request.user, pk)
    try:
        data = original_read(document.storage_key)
    except OriginalMissing:
        messages.error(
            request,
            _(
                "The original file of %(title)s is no longer in the document storage; "
                "upload it again to restore it."
            )
            % {"title": document.title},
        )
        return redirect("ingestion:document", pk=document.pk)
    audit_record(
        action=AuditAction.DOCUMENT_DOWNLOADED,
        context=audit_context(request),
        target_type="document",
        target_id=document.pk,
        extra={"workspace": document.workspace.slug},
    )
    response = FileResponse(
        BytesIO(data),
        as_attachment=True,
        filename=document.original_filename,
        content_type=original_content_type(document),
    )
    # Always a download, never run in our origin, whatever the type says (an HTML file).
    response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def document_delete(request, pk: int):
    document = document_for(request.user, pk, role=Role.EDITOR)
    slug = document.workspace.slug
    erasure.document_delete(document=document, audit=audit_context(request))
    messages.success(request, _("Deleted %(title)s.") % {"title": document.title})
    return redirect(f"/documents/?workspace={slug}")


@login_required
@require_POST
def document_share(request, pk: int):
    """Share the document into the workspace ``workspace`` (an editor of both)."""
    document = document_for(request.user, pk, role=Role.EDITOR)
    target = workspace_for(request.user, request.POST.get("workspace") or "", role=Role.EDITOR)
    try:
        sharing.document_share(
            document=document, workspace=target, user=request.user, audit=audit_context(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Shared into %(workspace)s: its members find it there now.")
            % {"workspace": target.name},
        )
    return redirect("ingestion:document", pk=document.pk)


@login_required
@require_POST
def document_unshare(request, pk: int):
    """End the document's share into ``workspace``: an editor of the document's
    workspace takes it back, an admin of that workspace removes it from there."""
    document = document_for(request.user, pk)
    share = sharing.share_for(
        request.user, document=document, slug=request.POST.get("workspace") or ""
    )
    sharing.document_unshare(share=share, user=request.user, audit=audit_context(request))
    messages.success(
        request,
        _("%(title)s is no longer shared into %(workspace)s.")
        % {"title": document.title, "workspace": share.workspace.name},
    )
    if document.shared_into is not None:
        return redirect(f"/documents/?workspace={share.workspace.slug}")
    return redirect("ingestion:document", pk=document.pk)


@workspace_view(Role.VIEWER)
@require_POST
def share_notices_dismiss(request):
    """Hide the notices of documents shared into the workspace (for this person)."""
    sharing.notices_dismiss(user=request.user, workspace=request.workspace)
    return redirect(f"/documents/?workspace={request.workspace.slug}")
