"""The documents pages of the portal: sign in, upload, watch status, read, download, delete."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from ingestion.models import Document, DocumentStatus
from tests.conftest import PASSWORD

NOTE = b"# Badge policy\n\n## Lost badges\n\nReport a lost badge to reception within one day.\n"


def test_sign_in_with_email_and_password(world, db, client):
    page = client.get("/documents/", HTTP_HOST=world.acme.domain)
    assert page.status_code == 302
    response = client.post(
        "/accounts/login/",
        {"username": "alice@acme.example", "password": PASSWORD},
        HTTP_HOST=world.acme.domain,
    )
    assert response.status_code == 302
    assert client.get("/documents/", HTTP_HOST=world.acme.domain).status_code == 200
    wrong = client.post(
        "/accounts/login/",
        {"username": "alice@acme.example", "password": "nope"},
        HTTP_HOST=world.globex.domain,
    )
    assert b"did not match" in wrong.content


def test_upload_several_files_and_see_their_status(
    acme, alice_portal, django_capture_on_commit_callbacks
):
    files = [
        SimpleUploadedFile("badges.md", NOTE),
        SimpleUploadedFile("empty.txt", b""),
        SimpleUploadedFile("broken.pdf", b"%PDF-1.7 garbage"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_portal.post("/documents/", {"files": files}, follow=True)
    html = response.content.decode()
    assert "badges.md: uploaded, indexing has started." in html
    assert "empty.txt: The file is empty." in html
    statuses = alice_portal.get("/documents/status").json()["documents"]
    by_title = {d["title"]: d for d in statuses}
    assert by_title["Badge policy"]["status"] == DocumentStatus.INDEXED
    assert by_title["broken"]["status"] == DocumentStatus.FAILED
    assert by_title["broken"]["error_message"]
    assert len(statuses) == 2  # the empty file was refused, not stored
    listing = alice_portal.get("/documents/").content.decode()
    assert "Badge policy" in listing
    assert "status-failed" in listing


def test_document_page_download_and_delete(acme, alice_portal, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alice_portal.post("/documents/", {"files": [SimpleUploadedFile("badges.md", NOTE)]})
    document = Document.objects.get()
    chunk = document.chunks.get()
    page = alice_portal.get(f"/documents/{document.pk}/").content.decode()
    assert f'id="chunk-{chunk.pk}"' in page
    assert "Report a lost badge to reception" in page

    original = alice_portal.get(f"/documents/{document.pk}/original")
    assert original["Content-Disposition"].startswith("attachment")
    assert 'filename="badges.md"' in original["Content-Disposition"]
    assert b"".join(original.streaming_content) == NOTE

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_portal.post(f"/documents/{document.pk}/delete")
    assert response.status_code == 302
    assert not Document.objects.exists()
    assert alice_portal.get(f"/documents/{document.pk}/").status_code == 404


def test_bob_cannot_open_or_delete_another_workspaces_document(
    acme, world, alice_portal, django_capture_on_commit_callbacks
):
    from tests.conftest import portal_client

    with django_capture_on_commit_callbacks(execute=True):
        alice_portal.post("/documents/", {"files": [SimpleUploadedFile("badges.md", NOTE)]})
    document = Document.objects.get()
    bob = portal_client(world.acme, "bob@acme.example")
    assert bob.get(f"/documents/{document.pk}/").status_code == 404
    assert bob.post(f"/documents/{document.pk}/delete").status_code == 404
    assert bob.get("/documents/?workspace=general").status_code == 404
    assert Document.objects.filter(pk=document.pk).exists()
