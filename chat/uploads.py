"""Files attached to a mention: uploaded into the channel's workspace (editors only),
and a reply in the thread once each is indexed or failed."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from chat import services
from chat.adapters.base import PlatformError
from chat.context import Context, audit_of, message_of, workspace_resolve
from chat.models import ChatIdentity, ChatUpload
from infra.errors import ApplicationError
from ingestion.models import DocumentStatus
from ingestion.uploads import UploadRejected, upload_receive
from workspaces.models import Role


def upload_handle(context: Context, identity: ChatIdentity) -> None:
    """Each attached file into the channel's workspace, when the member may upload
    there (editor); the bot replies now, and again once it is indexed or failed."""
    workspace = workspace_resolve(context, identity, Role.EDITOR)
    if workspace is None:
        return
    for file in context.incoming.files:
        name = file.name or getattr(context.adapter, "file_name", lambda f: "upload")(file)
        try:
            if file.size and file.size > settings.MAX_UPLOAD_BYTES:
                raise UploadRejected(f"{name} is larger than the upload limit.", status_code=413)
            data = context.adapter.file_download(file)
            with transaction.atomic():
                received = upload_receive(
                    workspace=workspace,
                    user=identity.user,
                    file=SimpleUploadedFile(name, data),
                    audit=audit_of(identity),
                )
                upload = ChatUpload.objects.create(
                    platform=context.platform,
                    workspace=workspace,
                    document=received.document,
                    channel_id=context.incoming.channel_id,
                    thread_id=context.thread_id,
                )
                audit_record(
                    action=services.AUDIT_UPLOAD,
                    context=audit_of(identity),
                    target_type="document",
                    target_id=received.document.pk,
                    extra={
                        "kind": context.platform.kind,
                        "filename": name,
                        "workspace": workspace.slug,
                    },
                )
        except (ValidationError, ApplicationError, PlatformError) as exc:
            context.tell(f"{name} was not uploaded: {message_of(exc)}")
            continue
        context.uploads.append(upload.pk)
        context.post_public(
            f"Received {name} into {workspace.name}; I will reply when it is indexed."
        )


def upload_notify(*, upload_id: int) -> bool:
    """Reply in the upload's thread once its document is indexed or failed (with the
    reason). Returns False while it is still waiting. Idempotent: replies once."""
    upload = ChatUpload.objects.select_related("document", "platform").filter(pk=upload_id).first()
    if upload is None or upload.notified_at is not None:
        return True
    document = upload.document
    if document.status == DocumentStatus.INDEXED:
        text = f"{document.original_filename} is indexed: you can ask about it now."
    elif document.status == DocumentStatus.FAILED:
        text = f"{document.original_filename} could not be indexed: {document.error_message}"
    else:
        return False
    adapter = services.adapter_for(upload.platform)
    adapter.post(
        channel_id=upload.channel_id, thread_id=upload.thread_id, part=adapter.render_text(text)
    )
    upload.notified_at = timezone.now()
    upload.save(update_fields=["notified_at"])
    return True
