"""Originals in S3-compatible storage (moto's server on loopback), as with S3_BUCKET set."""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ingestion.models import Document, DocumentStatus

NOTE = b"# Archive\n\n## Retention\n\nInvoices are kept for ten years in the archive room.\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Bucket:
    client: Any
    name: str

    def keys(self, prefix: str) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name, Prefix=prefix)
        return [item["Key"] for item in listed.get("Contents", [])]

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()


@pytest.fixture(scope="module")
def s3_endpoint():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    """Default storage switched to a new, empty bucket, returned for checks."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    bucket = f"opaa-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "default_acl": None,
                "file_overwrite": False,
            },
        },
    }
    return Bucket(client, bucket)


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
