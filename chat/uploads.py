"""Files attached to a mention: uploaded into the channel's workspace (editors only),
and a reply in the thread once each is indexed or failed."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from chat import services
from chat.adapters.base import PlatformError
from chat.context import Context, audit_of, message_of, workspace_resolve
from chat.language import user_language
from chat.models import ChatIdentity, ChatUpload
from infra.errors import ApplicationError
from ingestion.indexing import reason_shown
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
                raise UploadRejected(
                    _("%(name)s is larger than the upload limit.") % {"name": name},
                    status_code=413,
                )
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
            context.tell(
                _("%(name)s was not uploaded: %(reason)s")
                % {"name": name, "reason": message_of(exc)}
            )
            continue
        context.uploads.append(upload.pk)
        context.post_public(
            _("Received %(name)s into %(workspace)s; I will reply when it is indexed.")
            % {"name": name, "workspace": workspace.name}
        )


def upload_notify(*, upload_id: int) -> bool:
    """Reply in the upload's thread once its document is indexed or failed (with the
    reason). Returns False while it is still waiting. Idempotent: replies once."""
    upload = (
        ChatUpload.objects.select_related("document__uploaded_by", "platform")
        .filter(pk=upload_id)
        .first()
    )
    if upload is None or upload.notified_at is not None:
        return True
    document = upload.document
    # In the uploader's language (a worker task: no event's language is active).
    with translation.override(user_language(document.uploaded_by)):
        if document.status == DocumentStatus.INDEXED:
            text = _("%(name)s is indexed: you can ask about it now.") % {
                "name": document.original_filename
            }
        elif document.status == DocumentStatus.FAILED:
            # The stored reason translated as the portal shows it.
            text = _("%(name)s could not be indexed: %(reason)s") % {
                "name": document.original_filename,
                "reason": reason_shown(document.error_message),
            }
        else:
            return False
    adapter = services.adapter_for(upload.platform)
    adapter.post(
        channel_id=upload.channel_id, thread_id=upload.thread_id, part=adapter.render_text(text)
    )
    upload.notified_at = timezone.now()
    upload.save(update_fields=["notified_at"])
    return True
