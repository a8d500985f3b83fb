"""Document metadata: what parsers and connectors report is kept, shown and served."""

from __future__ import annotations

import pytest

from ingestion.models import Document, DocumentStatus, SyncStatus
from tests.fakes.pdf import make_pdf
from tests.ingestion.connectors.conftest import run_sync  # noqa: F401 (a fixture)
from tests.ingestion.connectors.test_web import _source, site  # noqa: F401 (a fixture)
from tests.ingestion.test_parsers import make_docx


def test_an_uploaded_docx_shows_its_author_in_the_api_and_on_its_page(
    alice_api, alice_portal, upload_indexed
):
    body = upload_indexed(alice_api, "handbook.docx", make_docx(author="Alice Example"))

    document = alice_api.get(f"/api/v1/documents/{body['id']}").json()
    assert document["status"] == DocumentStatus.INDEXED
    assert document["metadata"]["author"] == "Alice Example"
    assert "created" in document["metadata"]  # python-docx stamps a creation date
    page = alice_portal.get(f"/documents/{body['id']}/").content.decode()
    assert "<dt>Author</dt><dd>Alice Example</dd>" in page


def test_an_uploaded_pdf_keeps_author_and_page_count(alice_api, upload_indexed):
    data = make_pdf(
        [["Travel policy", "Trains are booked in second class."]],
        info={"Title": "Travel Policy 2024", "Author": "Bob Example"},
    )
    body = upload_indexed(alice_api, "travel.pdf", data)

    listed = alice_api.get("/api/v1/documents").json()["results"]
    [document] = [d for d in listed if d["id"] == body["id"]]
    assert document["title"] == "Travel Policy 2024"
    assert document["metadata"]["author"] == "Bob Example"
    assert document["metadata"]["pages"] == "1"


def test_a_new_version_replaces_the_old_versions_metadata(
    alice_api, upload_indexed, django_capture_on_commit_callbacks
):
    upload_indexed(alice_api, "handbook.docx", make_docx(author="Alice Example"))
    from tests.conftest import named_file

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            "/api/v1/documents",
            {"file": named_file("handbook.docx", make_docx(author="Carol Example"))},
            format="multipart",
        )
    assert response.json()["outcome"] == "new_version"
    document = alice_api.get(f"/api/v1/documents/{response.json()['id']}").json()
    assert document["metadata"]["author"] == "Carol Example"


def test_a_synced_item_keeps_its_url_and_links_to_it(acme, site, run_sync, alice_portal):  # noqa: F811
    _root, url, _ = site
    source = _source(f"{url}/policies/")

    run = run_sync(source)
    assert (run.status, run.added) == (SyncStatus.SUCCEEDED, 3)

    travel = Document.objects.get(synced_from=source, external_id=f"{url}/policies/travel.md")
    assert travel.status == DocumentStatus.INDEXED
    assert travel.metadata["source"] == {"url": f"{url}/policies/travel.md", "path": "travel.md"}
    page = alice_portal.get(f"/documents/{travel.pk}/").content.decode()
    assert f'<a href="{url}/policies/travel.md"' in page

    # A forced re-index parses again and keeps what the source said.
    run = run_sync(source, full=True)
    travel.refresh_from_db()
    assert travel.metadata["source"]["url"] == f"{url}/policies/travel.md"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///etc/passwd", ""])
def test_only_web_addresses_become_links(url):
    document = Document(metadata={"source": {"url": url}, "author": "Alice"})
    assert document.source_url == ""
    assert document.metadata_shown == [("Author", "Alice")]
