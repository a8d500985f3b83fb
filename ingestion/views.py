"""Portal pages for documents: list with live status, upload, read, download, delete."""

from io import BytesIO

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.audit import AuditAction, audit_context, audit_record
from ingestion import services
from ingestion.models import Document, DocumentStatus
from ingestion.storage import original_read
from workspaces.access import workspace_for, workspaces_readable
from workspaces.models import Role
from workspaces.portal import workspace_view

MAX_FILES_PER_UPLOAD = 20


def _readable_document(request, pk: int, *, role: str = Role.VIEWER) -> Document:
    document = get_object_or_404(
        Document.objects.select_related("workspace").filter(
            workspace__in=workspaces_readable(request.user)
        ),
        pk=pk,
    )
    workspace_for(request.user, document.workspace.slug, role=role)
    return document


@workspace_view(Role.VIEWER, post_role=Role.EDITOR)
def document_list(request):
    if request.method == "POST":
        files = request.FILES.getlist("files")
        if not files:
            messages.error(request, "Choose at least one file to upload.")
        for upload in files[:MAX_FILES_PER_UPLOAD]:
            try:
                received = services.upload_receive(
                    workspace=request.workspace,
                    user=request.user,
                    file=upload,
                    audit=audit_context(request),
                )
                label = services.UploadOutcome(received.outcome).label
                if received.outcome == services.UploadOutcome.DUPLICATE:
                    label = f"{label} (see “{received.document.title}”)"
                messages.success(request, f"{upload.name}: {label[0].lower()}{label[1:]}")
            except services.UploadRejected as exc:
                messages.error(request, f"{upload.name}: {exc.messages[0]}")
        if len(files) > MAX_FILES_PER_UPLOAD:
            messages.error(request, f"Only the first {MAX_FILES_PER_UPLOAD} files were uploaded.")
        return redirect(f"{request.path}?workspace={request.workspace.slug}")
    documents = Document.objects.filter(workspace=request.workspace).select_related("uploaded_by")
    return render(
        request,
        "ingestion/document_list.html",
        {"documents": documents, "statuses": DocumentStatus},
    )


@workspace_view(Role.VIEWER)
def document_status(request):
    """Statuses of the workspace's documents (polled by the documents page)."""
    rows = Document.objects.filter(workspace=request.workspace).values(
        "id", "status", "error_message", "title"
    )
    return JsonResponse({"documents": list(rows)})


@login_required
def document_detail(request, pk: int):
    document = _readable_document(request, pk)
    audit_record(
        action=AuditAction.DOCUMENT_OPENED,
        context=audit_context(request),
        target_type="document",
        target_id=document.pk,
        extra={"workspace": document.workspace.slug, "via": "portal"},
    )
    return render(
        request,
        "ingestion/document_detail.html",
        {"document": document, "chunks": document.chunks.all()},
    )


@login_required
def document_original(request, pk: int):
    """The original file, always as a download (never rendered in our origin)."""
    document = _readable_document(request, pk)
    audit_record(
        action=AuditAction.DOCUMENT_DOWNLOADED,
        context=audit_context(request),
        target_type="document",
        target_id=document.pk,
        extra={"workspace": document.workspace.slug},
    )
    return FileResponse(
        BytesIO(original_read(document.storage_key)),
        as_attachment=True,
        filename=document.original_filename,
        content_type="application/octet-stream",
    )


@login_required
@require_POST
def document_delete(request, pk: int):
    document = _readable_document(request, pk, role=Role.EDITOR)
    slug = document.workspace.slug
    services.document_delete(document=document, audit=audit_context(request))
    messages.success(request, f"Deleted {document.title}.")
    return redirect(f"/documents/?workspace={slug}")
