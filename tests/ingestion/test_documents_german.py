"""The documents page in German: a document's language by its German name (the filter,
the list, the document's page); the audit log's actions by their German names."""

from __future__ import annotations

from ingestion.models import Document

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE"}


def test_languages_are_named_in_the_readers_language(acme, alice_api, alice_portal, upload_indexed):
    document_id = upload_indexed(alice_api, "notes.md", b"# Notes\n\nSome words to read.\n")["id"]
    Document.objects.filter(pk=document_id).update(language="german")

    listed = alice_portal.get("/documents/", **GERMAN).content.decode()
    assert '<option value="german">Deutsch</option>' in listed
    assert '<span class="muted">Deutsch</span>' in listed
    assert "German" not in listed
    page = alice_portal.get(f"/documents/{document_id}/", **GERMAN).content.decode()
    assert "<dd>Deutsch</dd>" in page
    english = alice_portal.get("/documents/").content.decode()
    assert '<option value="german">German</option>' in english


def test_the_audit_logs_actions_are_german(acme, alice_portal):
    page = alice_portal.get("/accounts/audit/", **GERMAN).content.decode()
    assert "Geteiltes Dokument vom Ziel-Arbeitsbereich entfernt (document.share_removed)" in page
    assert "Shared document removed by the target" not in page
