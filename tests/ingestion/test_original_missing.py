"""An original missing from storage (deleted by hand, an older bucket restored): the
download says so and indexing fails with that reason, never a 500 or "internal error"."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from accounts.models import AuditEvent
from ingestion import indexing
from ingestion.models import Document, DocumentStatus

NOTE = b"# Archive\n\n## Retention\n\nInvoices are kept for ten years in the archive room.\n"


@pytest.fixture(params=["disk", "s3"])
def storage_kind(request):
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    return request.param


def test_a_missing_original_is_explained_on_download_and_on_indexing(
    acme, alice_api, alice_portal, upload_indexed, storage_kind
):
    document_id = upload_indexed(alice_api, "archive.md", NOTE)["id"]
    document = Document.objects.get(pk=document_id)
    assert alice_portal.get(f"/documents/{document_id}/original").status_code == 200
    default_storage.delete(document.storage_key)

    downloaded = AuditEvent.objects.filter(action="document.downloaded").count()
    response = alice_portal.get(f"/documents/{document_id}/original", follow=True)
    assert response.status_code == 200
    assert "is no longer in the document storage" in response.content.decode()
    # Nothing was downloaded, so nothing is recorded as downloaded.
    assert AuditEvent.objects.filter(action="document.downloaded").count() == downloaded

    indexing.document_index(document_id=document_id)
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED
    assert document.error_message == indexing.ORIGINAL_MISSING_REASON
