"""Originals in S3-compatible storage (moto's server on loopback), as with S3_BUCKET set."""

from __future__ import annotations

from ingestion.models import Document, DocumentStatus

NOTE = b"# Archive\n\n## Retention\n\nInvoices are kept for ten years in the archive room.\n"


def test_originals_round_trip_through_s3(acme, alice_api, upload_indexed, s3_storage):
    body = upload_indexed(alice_api, "archive.md", NOTE)
    document = Document.objects.get(pk=body["id"])
    assert document.status == DocumentStatus.INDEXED  # indexing read it back from S3
    prefix = f"org/{acme.schema}/documents/"
    assert s3_storage.keys(prefix) == [document.storage_key]
    assert s3_storage.read(document.storage_key) == NOTE

    answer = alice_api.post("/api/v1/ask", {"question": "How long are invoices kept?"}).json()
    assert "ten years" in answer["answer"]


def test_deleting_a_document_deletes_its_s3_object(
    acme, alice_api, upload_indexed, s3_storage, django_capture_on_commit_callbacks
):
    document_id = upload_indexed(alice_api, "archive.md", NOTE)["id"]
    key = Document.objects.get(pk=document_id).storage_key
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/api/v1/documents/{document_id}").status_code == 204
    assert key not in s3_storage.keys(f"org/{acme.schema}/")


def test_rejected_upload_leaves_no_s3_object(acme, alice_api, s3_storage):
    from tests.conftest import named_file

    response = alice_api.post(
        "/api/v1/documents", {"file": named_file("empty.md", b"")}, format="multipart"
    )
    assert response.status_code == 400
    assert s3_storage.keys(f"org/{acme.schema}/") == []
