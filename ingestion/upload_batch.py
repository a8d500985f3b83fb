"""Several uploads in one request: each file is received on its own, none fails the rest."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.files.uploadedfile import UploadedFile

from accounts.audit import AuditContext
from accounts.models import User
from infra.storage_errors import StorageUnavailable
from ingestion import uploads
from ingestion.models import Document
from tenants.quotas import QuotaExceeded
from workspaces.models import Workspace

# Enough for a folder dragged onto the page, few enough that one request (each file up to
# the upload limit) stays within what a proxy and a worker handle in one go.
MAX_FILES_PER_BATCH = 20

# Why a file was refused, by the HTTP status a single upload would have answered.
REFUSAL_CODES = {400: "empty", 402: "quota", 413: "too_large", 415: "unsupported_type"}


@dataclass(frozen=True)
class FileResult:
    """What happened to one file: ``status`` is the HTTP status a single upload gets."""

    filename: str
    status: int
    outcome: str  # created, new_version, duplicate, or refused
    detail: str
    document: Document | None = None
    extra: dict = field(default_factory=dict)
    quota: QuotaExceeded | None = None  # the plan limit that refused it, if one did


def upload_batch_receive(
    *,
    workspace: Workspace,
    user: User | None,
    files: list[UploadedFile],
    audit: AuditContext | None = None,
) -> list[FileResult]:
    """Receive each of ``files`` with ``uploads.upload_receive``, in order.

    A refused file (empty, unsupported type, too large, over a plan limit) is reported
    and the next one is received all the same; each stored file is committed on its own
    (``upload_receive``'s transaction), so a later refusal undoes nothing. Callers bound
    the number of files (``MAX_FILES_PER_BATCH``). The storage down stops the batch with
    ``StorageUnavailable`` (503) naming the files already received, which sending the
    batch again reports as duplicates.
    """
    results = []
    for file in files:
        name = file.name or "upload"
        try:
            received = uploads.upload_receive(
                workspace=workspace, user=user, file=file, audit=audit
            )
        except uploads.UploadRejected as exc:
            results.append(
                FileResult(
                    name,
                    exc.status_code,
                    "refused",
                    exc.messages[0],
                    extra={"code": REFUSAL_CODES.get(exc.status_code, "invalid")},
                )
            )
            continue
        except StorageUnavailable as exc:
            received = [r.filename for r in results if r.document is not None]
            if not received:
                raise
            raise StorageUnavailable(
                f"{exc.detail} Received before it failed: {', '.join(received)} "
                "(sending them again reports them as duplicates)."
            ) from exc
        except QuotaExceeded as exc:
            payload = exc.payload
            results.append(
                FileResult(
                    name,
                    exc.status_code,
                    "refused",
                    payload["detail"],
                    extra={"code": "quota", "limit": payload["limit"]},
                    quota=exc,
                )
            )
            continue
        outcome = uploads.UploadOutcome(received.outcome)
        status = 201 if outcome == uploads.UploadOutcome.CREATED else 200
        results.append(
            FileResult(name, status, outcome.value, str(outcome.label), received.document)
        )
    return results
