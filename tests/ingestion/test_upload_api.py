"""Uploading documents through the API: indexing, statuses, and bad input."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings

from ingestion.models import Chunk, Document, DocumentStatus

HANDBOOK = (
    b"# Travel policy\n\n## Meals\n\nThe daily meal allowance for domestic trips is 45 EUR.\n\n"
    b"## Hotels\n\nBook hotels through the travel desk at least ten days ahead.\n"
)


def upload(client, name: str, data: bytes, **extra):
    return client.post(
        "/api/v1/documents", {"file": _named(name, data), **extra}, format="multipart"
    )


def _named(name: str, data: bytes):
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def _storage_objects(prefix: str) -> list[str]:
    try:
        _, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    return files


def test_upload_indexes_the_document(acme, alice_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(alice_api, "travel.md", HANDBOOK)
    assert response.status_code == 201, response.content
    body = response.json()
    document = Document.objects.get(pk=body["id"])
    assert document.status == DocumentStatus.INDEXED
    assert document.title == "Travel policy"
    assert document.original_filename == "travel.md"
    # The original is stored under a generated key in the organization's prefix.
    assert document.storage_key.startswith(f"org/{acme.schema}/documents/")
    assert "travel" not in document.storage_key
    chunks = list(Chunk.objects.filter(document=document))
    assert [c.heading_path for c in chunks] == [
        ["Travel policy", "Meals"],
        ["Travel policy", "Hotels"],
    ]

    detail = alice_api.get(f"/api/v1/documents/{document.pk}")
    assert detail.json()["status"] == "indexed"
    listing = alice_api.get("/api/v1/documents")
    assert [d["id"] for d in listing.json()["results"]] == [document.pk]


@pytest.mark.parametrize(
    ("name", "data", "status", "message"),
    [
        ("empty.txt", b"", 400, "The file is empty."),
        ("tool.exe", b"MZ\x90\x00binary", 415, "Files of type .exe are not supported"),
        ("noextension", b"hello", 415, "not supported"),
    ],
)
def test_rejected_uploads_store_nothing(acme, alice_api, name, data, status, message):
    before = _storage_objects(f"org/{acme.schema}/documents")
    response = upload(alice_api, name, data)
    assert response.status_code == status
    assert message in response.json()["detail"]
    assert Document.objects.count() == 0
    assert _storage_objects(f"org/{acme.schema}/documents") == before


def test_over_limit_upload_is_413(acme, alice_api):
    with override_settings(MAX_UPLOAD_BYTES=1024):
        response = upload(alice_api, "big.txt", b"a" * 2048)
    assert response.status_code == 413
    assert "upload limit of" in response.json()["detail"]
    assert Document.objects.count() == 0


def test_upload_without_file_is_400(acme, alice_api):
    response = alice_api.post("/api/v1/documents", {}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("broken.pdf", b"%PDF-1.4\n this is not really a pdf", "PDF"),
        ("fake.pdf", b"just some text pretending", "not a PDF"),
        ("broken.docx", b"PK\x03\x04 truncated zip", "Word document"),
    ],
)
def test_unparseable_file_ends_failed_with_a_reason(
    acme, alice_api, django_capture_on_commit_callbacks, name, data, reason
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(alice_api, name, data)
    assert response.status_code == 201
    document = Document.objects.get(pk=response.json()["id"])
    assert document.status == DocumentStatus.FAILED
    assert reason.lower() in document.error_message.lower()
    assert not Chunk.objects.filter(document=document).exists()
    # The failure is visible through the API too.
    assert alice_api.get(f"/api/v1/documents/{document.pk}").json()["error_message"]


def test_delete_removes_document_chunks_and_original(
    acme, alice_api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        document_id = upload(alice_api, "travel.md", HANDBOOK).json()["id"]
    key = Document.objects.get(pk=document_id).storage_key
    assert default_storage.exists(key)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.delete(f"/api/v1/documents/{document_id}")
    assert response.status_code == 204
    assert not Document.objects.filter(pk=document_id).exists()
    assert not Chunk.objects.filter(document_id=document_id).exists()
    assert not default_storage.exists(key)


def test_viewer_cannot_upload(acme, world, django_capture_on_commit_callbacks):
    from accounts.models import User
    from tests.conftest import api_client
    from workspaces.models import Membership, Role, Workspace

    viewer = User.objects.create_user("dave@acme.example", "pw")
    Membership.objects.create(
        workspace=Workspace.objects.get(slug="general"), user=viewer, role=Role.VIEWER
    )
    client = api_client(world.acme, "dave@acme.example")
    response = upload(client, "travel.md", HANDBOOK)
    assert response.status_code == 403
    assert client.get("/api/v1/documents").status_code == 200
