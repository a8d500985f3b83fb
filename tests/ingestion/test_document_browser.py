"""The document browser: server-side search (titles and text), filters, sort and pages
with the URL as the state; a preview of the parsed text without chunking's overlap; the
original's download. Everything through the reader-filtered selectors: a document one may
not read is never listed, matched, counted or downloadable."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.audit import AuditContext
from accounts.models import User
from ingestion.models import Document, DocumentStatus
from ingestion.readers import document_readers_set
from tests.conftest import PASSWORD, portal_client
from workspaces.models import Membership, Role, Workspace

BADGES = b"# Badge policy\n\n## Lost badges\n\nReport a lost badge to reception within one day.\n"
GARDEN = b"Garden rota\n\nThe plants on the third floor are watered on Mondays.\n"
ZEBRA = b"# Zebra crossing notes\n\nThe crossing at the north gate has new lights.\n"
SECRET = b"# Salary bands\n\nThe reception budget for salaries is confidential.\n"


def _upload(client, capture, *files, workspace="general"):
    with capture(execute=True):
        response = client.post(
            f"/documents/?workspace={workspace}",
            {"files": [SimpleUploadedFile(name, data) for name, data in files]},
        )
    assert response.status_code == 302


@pytest.fixture
def library(acme, alice_portal, django_capture_on_commit_callbacks) -> dict[str, Document]:
    """General holds four indexed documents; the salary bands only alice may read.
    vera is a viewer of General."""
    _upload(
        alice_portal,
        django_capture_on_commit_callbacks,
        ("badges.md", BADGES),
        ("garden-rota.txt", GARDEN),
        ("zebra.md", ZEBRA),
        ("salaries.md", SECRET),
    )
    documents = {d.original_filename: d for d in Document.objects.all()}
    assert {d.status for d in documents.values()} == {DocumentStatus.INDEXED}
    with django_capture_on_commit_callbacks(execute=True):
        document_readers_set(
            document=documents["salaries.md"],
            readers=["user:alice@acme.example"],
            audit=AuditContext(),
        )
    vera = User.objects.create_user("vera@acme.example", PASSWORD)
    Membership.objects.create(
        workspace=Workspace.objects.get(slug="general"), user=vera, role=Role.VIEWER
    )
    return documents


def _titles(response) -> list[str]:
    html = response.content.decode()
    return re.findall(r'<td class="doc-title"><a href="/documents/\d+/">([^<]+)</a>', html)


def test_search_finds_titles_and_words_of_the_text(library, alice_portal):
    assert _titles(alice_portal.get("/documents/", {"q": "rota"})) == ["Garden rota"]
    # "badges" in the question, "badge" in the text: the text search stems.
    found = alice_portal.get("/documents/", {"q": "reception"})
    assert sorted(_titles(found)) == ["Badge policy", "Salary bands"]
    html = found.content.decode()
    passage = library["badges.md"].chunks.get()
    assert f"/documents/{library['badges.md'].pk}/#chunk-{passage.pk}" in html
    assert "<mark>reception</mark>" in html
    assert "2 of 4 documents match" in html
    assert _titles(alice_portal.get("/documents/", {"q": "watered"})) == ["Garden rota"]
    assert _titles(alice_portal.get("/documents/", {"q": '"north gate"'})) == [
        "Zebra crossing notes"
    ]
    none = alice_portal.get("/documents/", {"q": "kangaroo"})
    assert _titles(none) == []
    assert b"No document matches" in none.content


def test_a_reader_never_finds_what_they_may_not_read(library, world):
    vera = portal_client(world.acme, "vera@acme.example")
    assert _titles(vera.get("/documents/", {"q": "reception"})) == ["Badge policy"]
    page = vera.get("/documents/", {"q": "salaries"})
    assert _titles(page) == []
    assert b"0 of 3 documents match" in page.content  # the count leaves it out too
    assert b"Salary" not in vera.get("/documents/").content
    assert b"Salary" not in vera.get("/documents/", {"workspace": "all"}).content
    status = vera.get("/documents/status").json()["documents"]
    assert library["salaries.md"].pk not in [d["id"] for d in status]


def test_filters_sort_and_pages_live_in_the_url(library, alice_portal, monkeypatch):
    assert sorted(_titles(alice_portal.get("/documents/", {"type": "md"}))) == [
        "Badge policy",
        "Salary bands",
        "Zebra crossing notes",
    ]
    assert _titles(alice_portal.get("/documents/", {"type": "txt"})) == ["Garden rota"]
    assert len(_titles(alice_portal.get("/documents/", {"status": "indexed"}))) == 4
    assert _titles(alice_portal.get("/documents/", {"status": "failed"})) == []
    assert len(_titles(alice_portal.get("/documents/", {"language": "english"}))) == 4
    assert len(_titles(alice_portal.get("/documents/", {"source": "upload"}))) == 4
    assert _titles(alice_portal.get("/documents/", {"added_to": "2000-01-01"})) == []
    assert len(_titles(alice_portal.get("/documents/", {"added_from": "2000-01-01"}))) == 4

    ascending = _titles(alice_portal.get("/documents/", {"sort": "title"}))
    assert ascending == ["Badge policy", "Garden rota", "Salary bands", "Zebra crossing notes"]
    assert _titles(alice_portal.get("/documents/", {"sort": "-title"})) == ascending[::-1]

    monkeypatch.setattr("ingestion.document_browser.PAGE_SIZE", 3)
    first = alice_portal.get("/documents/", {"sort": "title", "type": "md"})
    assert _titles(first) == ["Badge policy", "Salary bands", "Zebra crossing notes"]
    page1 = alice_portal.get("/documents/", {"sort": "title"})
    assert _titles(page1) == ascending[:3]
    html = page1.content.decode()
    # The next page's link keeps the sort; the title header's link reverses it.
    assert 'href="?sort=title&amp;page=2"' in html
    assert 'aria-sort="ascending"><a class="sort" href="?sort=-title"' in html
    assert _titles(alice_portal.get("/documents/", {"sort": "title", "page": "2"})) == ascending[3:]
    # Past the end: the last page.
    assert _titles(alice_portal.get("/documents/", {"sort": "title", "page": "9"})) == ascending[3:]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"type": "exe"}, "type"),
        ({"status": "lost"}, "status"),
        ({"source": "drop table"}, "source"),
        ({"language": "English; --"}, "language"),
        ({"added_from": "yesterday"}, "added_from"),
        ({"added_from": "2026-02-01", "added_to": "2026-01-01"}, "added_to"),
        ({"sort": "password"}, "sort"),
        ({"page": "x"}, "page"),
        ({"page": "0"}, "page"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_bad_parameters_are_a_400_saying_what_to_fix(library, alice_portal, params, field):
    response = alice_portal.get("/documents/", params)
    assert response.status_code == 400
    assert b"Please fix this problem" in response.content
    assert b'class="error-summary"' in response.content


def test_all_workspaces_lists_only_the_persons_own(
    library, world, django_capture_on_commit_callbacks
):
    bob = portal_client(world.acme, "bob@acme.example")
    _upload(
        bob,
        django_capture_on_commit_callbacks,
        ("sales.md", b"# Sales plan\n\nSell more.\n"),
        workspace="sales",
    )
    assert _titles(bob.get("/documents/", {"workspace": "all"})) == ["Sales plan"]
    assert _titles(bob.get("/documents/", {"workspace": "all", "q": "reception"})) == []
    # An upload never goes to "all": it is not a workspace.
    assert bob.post("/documents/?workspace=all", {}).status_code == 404


def test_the_preview_is_the_text_once_under_its_headings(
    acme, alice_portal, django_capture_on_commit_callbacks
):
    paragraphs = [
        " ".join(f"Rule {p}.{i} says the traveller keeps receipt number {p}{i}." for i in range(14))
        for p in range(5)
    ]
    text = (
        "# Travel handbook\n\n## Receipts\n\n"
        + "\n\n".join(paragraphs)
        + "\n\n### Lost ones\n\nAsk the desk.\n"
    )
    _upload(alice_portal, django_capture_on_commit_callbacks, ("handbook.md", text.encode()))
    document = Document.objects.get()
    chunks = list(document.chunks.order_by("ordinal"))
    assert len(chunks) > 3  # the chunks overlap...
    html = alice_portal.get(f"/documents/{document.pk}/").content.decode()
    # ...the preview does not: each sentence once, in order.
    for p in range(5):
        for i in range(14):
            assert html.count(f"Rule {p}.{i} says") == 1, (p, i)
    assert re.search(r'<h4 class="preview-heading">Receipts</h4>', html)
    assert re.search(r'<h5 class="preview-heading">Lost ones</h5>', html)
    for chunk in chunks:
        assert f'id="chunk-{chunk.pk}"' in html
    assert "Last indexed" in html


def test_a_long_preview_comes_in_parts_and_a_citation_finds_its_part(
    acme, alice_portal, django_capture_on_commit_callbacks, monkeypatch
):
    text = "\n\n".join(f"Paragraph {n} " + "word " * 150 for n in range(6))
    _upload(alice_portal, django_capture_on_commit_callbacks, ("long.txt", text.encode()))
    document = Document.objects.get()
    last = document.chunks.order_by("ordinal").last()
    monkeypatch.setattr("ingestion.views.PART_SIZE", 2)
    first = alice_portal.get(f"/documents/{document.pk}/").content.decode()
    assert f'id="chunk-{last.pk}"' not in first
    assert "Part 2" in first
    cited = alice_portal.get(f"/documents/{document.pk}/", {"chunk": last.pk})
    assert f'id="chunk-{last.pk}"' in cited.content.decode()
    assert alice_portal.get(f"/documents/{document.pk}/", {"part": "x"}).status_code == 400
    assert alice_portal.get(f"/documents/{document.pk}/", {"chunk": "x"}).status_code == 400
    assert alice_portal.get(f"/documents/{document.pk}/", {"part": "99"}).status_code == 404
    assert alice_portal.get(f"/documents/{document.pk}/", {"chunk": "999999"}).status_code == 404


def test_the_original_downloads_with_its_type_for_readers_only(library, alice_portal, world):
    badges = library["badges.md"]
    response = alice_portal.get(f"/documents/{badges.pk}/original")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert response["Content-Disposition"] == 'attachment; filename="badges.md"'
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == BADGES
    assert alice_portal.get(f"/documents/{library['garden-rota.txt'].pk}/original")[
        "Content-Type"
    ].startswith("text/plain")

    vera = portal_client(world.acme, "vera@acme.example")
    assert vera.get(f"/documents/{badges.pk}/original").status_code == 200
    # Restricted to alice: as missing as an unknown id.
    assert vera.get(f"/documents/{library['salaries.md'].pk}/original").status_code == 404
    bob = portal_client(world.acme, "bob@acme.example")
    assert bob.get(f"/documents/{badges.pk}/original").status_code == 404


def _queries(client, path: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path, params or {}).status_code == 200
    return len(queries)


def test_the_list_takes_the_same_queries_for_more_documents(
    library, alice_portal, django_capture_on_commit_callbacks
):
    params = {"q": "the", "sort": "title"}
    _queries(alice_portal, "/documents/", params)  # warm: session, tenant, content types
    few = _queries(alice_portal, "/documents/", params)
    _upload(
        alice_portal,
        django_capture_on_commit_callbacks,
        ("more1.md", b"# More one\n\nThe first.\n"),
        ("more2.md", b"# More two\n\nThe second.\n"),
    )
    assert _queries(alice_portal, "/documents/", params) == few
    # A constant, not a count per document: sign-in, tenant, scope, the workspaces and
    # what is shared into them, the person's language, filters, page and facets.
    assert 0 < few < 45
