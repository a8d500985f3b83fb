"""The web-directory connector against Python's http.server directory listings on loopback."""

from __future__ import annotations

import functools
import io
import os
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import openpyxl
import pytest
from django.core.exceptions import ValidationError

from ingestion import sources
from ingestion.connectors import web
from ingestion.models import ConnectorKind, Document, DocumentStatus, SyncStatus
from tests.ingestion.connectors.conftest import snapshot
from workspaces.models import Workspace

TRAVEL = b"# Travel\n\nThe per diem abroad is 60 euros.\n"


class _QuietHandler(SimpleHTTPRequestHandler):
    requested: list[tuple[str, str]]

    def log_message(self, *args) -> None:
        pass

    def send_head(self):
        self.requested.append((self.command, self.path))
        return super().send_head()


@pytest.fixture
def site(tmp_path):
    """A served folder: ``policies/`` is synced; ``private/`` next to it must stay unread."""
    root = tmp_path / "www"
    (root / "policies" / "security").mkdir(parents=True)
    (root / "private").mkdir()
    (root / "policies" / "travel.md").write_bytes(TRAVEL)
    (root / "policies" / "badges.txt").write_text("Report a lost badge to reception.\n")
    (root / "policies" / "security" / "passwords.md").write_text(
        "# Passwords\n\nPasswords are at least 14 characters long.\n"
    )
    (root / "private" / "salaries.txt").write_text("Secret salaries.\n")
    requested: list[tuple[str, str]] = []
    handler = type("Handler", (_QuietHandler,), {"requested": requested})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}", requested
    server.shutdown()
    server.server_close()


def _source(*urls: str, **options):
    connector = sources.connector_create(name="Intranet files", kind=ConnectorKind.WEB)
    return sources.source_create(
        connector=connector,
        workspace=Workspace.objects.get(is_default=True),
        name="Intranet policies",
        paths=list(urls),
        **options,
    )


def test_first_sync_change_deletion_and_nothing_changed(acme, site, run_sync, embed_spy):
    root, url, requested = site
    source = _source(f"{url}/policies/")

    run = run_sync(source)

    assert (run.status, run.added, run.failed) == (SyncStatus.SUCCEEDED, 3, 0)
    documents = {d.external_id: d for d in Document.objects.filter(synced_from=source)}
    assert sorted(documents) == [
        f"{url}/policies/badges.txt",
        f"{url}/policies/security/passwords.md",
        f"{url}/policies/travel.md",
    ]
    assert {d.status for d in documents.values()} == {DocumentStatus.INDEXED}
    assert documents[f"{url}/policies/security/passwords.md"].title == "Passwords"
    assert not any("private" in path for _, path in requested)

    before = snapshot(source)
    embed_spy.calls.clear()
    requested.clear()
    run = run_sync(source)
    assert (run.unchanged, run.added, run.updated, run.deleted) == (3, 0, 0, 0)
    assert embed_spy.calls == []
    assert snapshot(source) == before
    assert not [path for method, path in requested if method == "GET" and "." in path]

    (root / "policies" / "travel.md").write_bytes(TRAVEL.replace(b"60", b"75"))
    stat = os.stat(root / "policies" / "travel.md")
    os.utime(root / "policies" / "travel.md", (stat.st_atime, stat.st_mtime + 5))
    (root / "policies" / "badges.txt").unlink()
    run = run_sync(source)
    assert (run.updated, run.deleted, run.unchanged) == (1, 1, 1)
    travel = Document.objects.get(synced_from=source, external_id=f"{url}/policies/travel.md")
    assert travel.version == 2
    assert "75 euros" in travel.chunks.get().text


def test_links_leading_out_of_the_folder_are_never_followed(acme, site, run_sync):
    root, url, requested = site
    # A listing page that tries every way out of /policies/.
    (root / "policies" / "security" / "index.html").write_text(
        '<html><body><a href="../../private/salaries.txt">up</a>'
        '<a href="/private/salaries.txt">absolute</a>'
        '<a href="%2e%2e/%2e%2e/private/salaries.txt">encoded</a>'
        '<a href="..%5c..%5cprivate%5csalaries.txt">backslashes</a>'
        '<a href="http://example.invalid/policies/x.txt">other host</a>'
        '<a href="?C=M;O=A">sort</a><a href="#top">fragment</a>'
        '<a href="mailto:it@acme.example">mail</a>'
        '<a href="passwords.md">passwords.md</a></body></html>'
    )
    source = _source(f"{url}/policies/")

    run = run_sync(source)

    assert run.status == SyncStatus.SUCCEEDED
    ids = set(Document.objects.filter(synced_from=source).values_list("external_id", flat=True))
    assert ids == {
        f"{url}/policies/badges.txt",
        f"{url}/policies/security/passwords.md",
        f"{url}/policies/travel.md",
    }
    assert not any("private" in path or "%5c" in path.lower() for _, path in requested)


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("http://h/policies/a.txt", True),
        ("http://h/policies/sub/", True),
        ("http://h/policies/", False),
        ("http://h/policies-old/a.txt", False),
        ("http://h/policies/../x.txt", False),
        ("http://h/policies/%2E%2E/x.txt", False),
        ("https://h/policies/a.txt", False),
        ("http://h:8080/policies/a.txt", False),
        ("http://h/policies/a.txt?download=1", False),
    ],
)
def test_inside_keeps_to_the_folder(link, expected):
    assert web.inside(link, "http://h/policies/") is expected


def test_a_missing_folder_fails_the_run_and_deletes_nothing(acme, site, run_sync):
    root, url, _ = site
    source = _source(f"{url}/policies/")
    run_sync(source)
    (root / "policies").rename(root / "moved")

    run = run_sync(source)

    assert run.status == SyncStatus.FAILED
    assert "could not be listed" in run.error_message
    assert "HTTP 404" in run.error_message
    assert Document.objects.filter(synced_from=source).count() == 3


def test_a_hostile_workbook_fails_alone_and_the_rest_completes(acme, site, run_sync):
    root, url, _ = site
    # A workbook that declares 300 MB of shared strings in a few hundred kilobytes.
    workbook = openpyxl.Workbook()
    workbook.active.append(["a", "b"])
    plain = io.BytesIO()
    workbook.save(plain)
    bomb = io.BytesIO()
    with (
        zipfile.ZipFile(plain) as original,
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as hostile,
    ):
        for member in original.infolist():
            hostile.writestr(member, original.read(member))
        with hostile.open("xl/media/filler.bin", "w", force_zip64=True) as filler:
            for _ in range(300):
                filler.write(b"\0" * (1024 * 1024))
    (root / "policies" / "numbers.xlsx").write_bytes(bomb.getvalue())
    source = _source(f"{url}/policies/")

    run = run_sync(source)

    assert (run.status, run.added) == (SyncStatus.SUCCEEDED, 4)
    hostile = Document.objects.get(synced_from=source, external_id=f"{url}/policies/numbers.xlsx")
    assert hostile.status == DocumentStatus.FAILED
    assert "expands to more than 200 MB" in hostile.error_message
    indexed = Document.objects.filter(synced_from=source, status=DocumentStatus.INDEXED)
    assert indexed.count() == 3


def test_globs_and_unsupported_files(acme, site, run_sync):
    root, url, _ = site
    (root / "policies" / "tool.exe").write_bytes(b"MZ")
    source = _source(f"{url}/policies/", exclude_globs=["security/*"])

    run = run_sync(source)

    assert (run.added, run.failed) == (2, 1)
    assert "not supported" in run.item_errors[0]["error"]


@pytest.mark.parametrize(
    "path", ["ftp://files/x/", "http://h/a/../b/", "http://h/a/?q=1", "http://u:p@h/a/", "/srv"]
)
def test_a_folder_url_that_cannot_work_is_refused(acme, path):
    with pytest.raises(ValidationError):
        _source(path)


def test_admin_adds_a_web_directory_through_the_api(acme, alice_api):
    body = {
        "kind": "web",
        "name": "Intranet files",
        "config": {},
        "secrets": {},
        "paths": ["https://files.acme.example/policies/"],
    }
    created = alice_api.post("/api/v1/sources", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["paths"] == ["https://files.acme.example/policies/"]

    refused = alice_api.post(
        "/api/v1/sources",
        {**body, "paths": ["https://files.acme.example/a/../etc/"]},
        format="json",
    )
    assert refused.status_code == 400
    assert "must not contain '..'" in str(refused.json()["config"])
