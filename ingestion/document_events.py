"""What happens when someone opens a document: the audit log records it.

One service for the portal and the API, so "document opened" reads the same in the log
whichever way it was opened; ``via`` says which ("portal" or "api").
"""

from __future__ import annotations

from typing import Literal

from accounts.audit import AuditAction, AuditContext, audit_record
from ingestion.models import Document


def document_opened(
    *, document: Document, audit: AuditContext | None, via: Literal["api", "portal"]
) -> None:
    """Record that ``document`` was opened (its workspace and ``via`` in the event)."""
    audit_record(
        action=AuditAction.DOCUMENT_OPENED,
        context=audit,
        target_type="document",
        target_id=document.pk,
        extra={"workspace": document.workspace.slug, "via": via},
    )
