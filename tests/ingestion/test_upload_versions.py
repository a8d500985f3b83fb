"""Uploads: identical content is recognised, a new file under the same name is a new version."""

from __future__ import annotations

from django.core.files.storage import default_storage

from ingestion.models import Document
from tests.conftest import named_file

NOTE = b"# Parking\n\n## Permits\n\nParking permits are renewed every January.\n"
NOTE_V2 = b"# Parking\n\n## Permits\n\nParking permits are renewed every March.\n"


def test_identical_content_returns_the_existing_document(
    acme, alice_api, upload_indexed, django_capture_on_commit_callbacks
):
    first = upload_indexed(alice_api, "parking.md", NOTE)
    with django_capture_on_commit_callbacks(execute=True):
        again = alice_api.post(
            "/api/v1/documents",
            {"file": named_file("copy of parking.md", NOTE)},
            format="multipart",
        )
    assert again.status_code == 200
    body = again.json()
    assert body["id"] == first["id"]
    assert body["outcome"] == "duplicate"
    assert "already" in body["detail"]
    assert Document.objects.count() == 1


def test_same_name_new_content_is_a_new_version_in_place(
    acme, alice_api, upload_indexed, django_capture_on_commit_callbacks
):
    first = upload_indexed(alice_api, "parking.md", NOTE)
    old_key = Document.objects.get(pk=first["id"]).storage_key
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            "/api/v1/documents", {"file": named_file("parking.md", NOTE_V2)}, format="multipart"
        )
    assert response.status_code == 200
    assert response.json()["outcome"] == "new_version"
    document = Document.objects.get()
    assert document.pk == first["id"]
    assert document.version == 2
    assert "March" in document.chunks.get().text
    assert not default_storage.exists(old_key)


def test_the_same_content_in_another_workspace_is_a_separate_document(
    acme, alice_api, upload_indexed
):
    from workspaces.models import Workspace

    Workspace.objects.get_or_create(slug="sales", defaults={"name": "Sales"})
    upload_indexed(alice_api, "parking.md", NOTE)
    upload_indexed(alice_api, "parking.md", NOTE, workspace="sales")
    assert Document.objects.count() == 2


def test_portal_says_a_duplicate_was_not_stored(
    acme, alice_portal, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    with django_capture_on_commit_callbacks(execute=True):
        alice_portal.post("/documents/", {"files": [SimpleUploadedFile("p.md", NOTE)]})
        page = alice_portal.post(
            "/documents/", {"files": [SimpleUploadedFile("p2.md", NOTE)]}, follow=True
        )
    assert "identical content is already here; nothing was stored" in page.content.decode()
    assert Document.objects.count() == 1
