"""The file-system connector: first sync, change, deletion, nothing changed, hostile files."""

from __future__ import annotations

import logging
import os

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from ingestion.models import Chunk, Document, DocumentStatus, SyncStatus
from tests.ingestion.connectors.conftest import snapshot

VPN = "# VPN\n\n## Tokens\n\nA lost VPN token is revoked by the service desk on extension 4444.\n"
PRINTERS = "Printers accept jobs from the Acme Print queue on every floor.\n"
LUNCH = (
    "<html><head><title>Canteen</title></head><body><p>Lunch is served from noon.</p></body></html>"
)


@pytest.fixture
def share(tmp_path):
    root = tmp_path / "share"
    (root / "it").mkdir(parents=True)
    (root / "it" / "vpn.md").write_text(VPN)
    (root / "printers.txt").write_text(PRINTERS)
    (root / "canteen.html").write_text(LUNCH)
    return root


def test_first_sync_indexes_every_file(acme, share, fs_source, run_sync):
    source = fs_source(share, readers=["group:staff"])
    run = run_sync(source)
    assert run.status == SyncStatus.SUCCEEDED
    assert (run.seen, run.added, run.unchanged, run.failed) == (3, 3, 0, 0)
    documents = {d.external_id: d for d in Document.objects.filter(synced_from=source)}
    assert set(documents) == {str(share / "it" / "vpn.md"), str(share / "printers.txt"),
                              str(share / "canteen.html")}  # fmt: skip
    assert {d.status for d in documents.values()} == {DocumentStatus.INDEXED}
    vpn = documents[str(share / "it" / "vpn.md")]
    assert vpn.source == "filesystem"
    assert vpn.readers == ["group:staff"]
    assert vpn.storage_key.startswith(f"org/{acme.schema}/documents/")
    assert "4444" in " ".join(vpn.chunks.values_list("text", flat=True))
    assert run.checkpoint == max(documents)


def test_second_sync_with_nothing_changed_writes_nothing(share, fs_source, run_sync, embed_spy):
    source = fs_source(share)
    run_sync(source)
    before = snapshot(source)
    embed_spy.calls.clear()

    run = run_sync(source)
    assert (run.seen, run.added, run.updated, run.unchanged, run.deleted) == (3, 0, 0, 3, 0)
    assert embed_spy.calls == []  # nothing embedded again
    assert snapshot(source) == before  # no document touched, no chunk rewritten


def test_touched_but_identical_file_is_not_reindexed(share, fs_source, run_sync, embed_spy):
    source = fs_source(share)
    run_sync(source)
    chunks = snapshot(source)["chunks"]
    embed_spy.calls.clear()
    stat = os.stat(share / "printers.txt")
    os.utime(share / "printers.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))

    run = run_sync(source)
    assert (run.unchanged, run.updated) == (3, 0)
    assert embed_spy.calls == []
    assert snapshot(source)["chunks"] == chunks


def test_a_changed_file_is_replaced_in_place(share, fs_source, run_sync, embed_spy):
    source = fs_source(share)
    run_sync(source)
    path = share / "it" / "vpn.md"
    document = Document.objects.get(external_id=str(path))
    old_key = document.storage_key
    untouched = set(Chunk.objects.exclude(document=document).values_list("id", flat=True))
    embed_spy.calls.clear()
    path.write_text(VPN.replace("4444", "5555") + "\nNew tokens take a day.\n")
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 1_000_000_000))

    run = run_sync(source)
    assert (run.added, run.updated, run.unchanged) == (0, 1, 2)
    assert len(embed_spy.calls) == 1  # only the changed document
    document.refresh_from_db()
    assert document.version == 2
    assert document.status == DocumentStatus.INDEXED
    text = " ".join(document.chunks.values_list("text", flat=True))
    assert "5555" in text
    assert "4444" not in text
    assert not default_storage.exists(old_key)
    assert set(Chunk.objects.exclude(document=document).values_list("id", flat=True)) == untouched


def test_a_deleted_file_leaves_the_index(share, fs_source, run_sync):
    source = fs_source(share)
    run_sync(source)
    document = Document.objects.get(external_id=str(share / "printers.txt"))
    key = document.storage_key
    (share / "printers.txt").unlink()

    run = run_sync(source)
    assert (run.deleted, run.unchanged) == (1, 2)
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not Chunk.objects.filter(document_id=document.pk).exists()
    assert not default_storage.exists(key)


def test_globs_choose_the_files(share, fs_source, run_sync):
    source = fs_source(share, include_globs=["*.md", "*.txt"], exclude_globs=["it/*"])
    run_sync(source)
    names = Document.objects.filter(synced_from=source).values_list("original_filename", flat=True)
    assert list(names) == ["printers.txt"]


def test_hostile_files_fail_alone_and_the_rest_completes(tmp_path, share, fs_source, run_sync):
    outside = tmp_path / "secret.txt"
    outside.write_text("The root password is hunter2.\n")
    os.symlink(outside, share / "innocent.txt")
    os.symlink(tmp_path, share / "linked-dir")  # a folder link is not followed at all
    (share / "..\\..\\etc\\passwd.txt").write_text("root:x:0:0\n")
    (share / "setup.exe").write_bytes(b"MZ\x90\x00binary")
    (share / "report.pdf").write_text("this is not a PDF at all")

    run = run_sync(source := fs_source(share))
    assert run.status == SyncStatus.SUCCEEDED
    errors = {os.path.basename(e["item"]): e["error"] for e in run.item_errors}
    assert "outside" in errors["innocent.txt"]
    assert "'..'" in errors["..\\..\\etc\\passwd.txt"]
    assert "not supported" in errors["setup.exe"]
    assert run.failed == 3
    documents = {d.original_filename: d for d in Document.objects.filter(synced_from=source)}
    assert set(documents) == {"vpn.md", "printers.txt", "canteen.html", "report.pdf"}
    assert documents["report.pdf"].status == DocumentStatus.FAILED
    assert "PDF" in documents["report.pdf"].error_message
    assert {documents[n].status for n in ("vpn.md", "printers.txt", "canteen.html")} == {
        DocumentStatus.INDEXED
    }
    assert "hunter2" not in " ".join(Chunk.objects.values_list("text", flat=True))


def test_roots_must_be_allowed_and_free_of_dotdot(fs_source, share, settings):
    with pytest.raises(ValidationError, match="absolute path without"):
        fs_source(f"{share}/../../etc")
    with pytest.raises(ValidationError, match="CONNECTOR_FILESYSTEM_ROOTS"):
        fs_source("/etc")
    settings.CONNECTOR_FILESYSTEM_ROOTS = []
    with pytest.raises(ValidationError, match="CONNECTOR_FILESYSTEM_ROOTS"):
        fs_source(share)


def test_a_missing_root_fails_the_run_deletes_nothing_and_flags_after_three(
    share, fs_source, run_sync, caplog
):
    source = fs_source(share)
    run_sync(source)
    share.rename(share.with_name("moved"))
    with caplog.at_level(logging.ERROR, logger="ingestion.sync"):
        runs = [run_sync(source) for _ in range(3)]
    assert [r.status for r in runs] == [SyncStatus.FAILED] * 3
    assert "does not exist" in runs[0].error_message
    assert Document.objects.filter(synced_from=source).count() == 3
    source.refresh_from_db()
    assert source.flagged
    assert source.consecutive_failures == 3
    assert any("source flagged" in r.getMessage() for r in caplog.records)

    share.with_name("moved").rename(share)
    assert run_sync(source).status == SyncStatus.SUCCEEDED
    source.refresh_from_db()
    assert (source.flagged, source.consecutive_failures) == (False, 0)


def test_an_interrupted_run_resumes_after_its_checkpoint(share, fs_source, run_sync, embed_spy):
    """A run that stopped after its first item (its lock expired) resumes, no duplicates."""
    from ingestion import sources
    from ingestion.models import SyncTrigger

    source = fs_source(share)
    first = sorted([str(share / "canteen.html"), str(share / "it" / "vpn.md"),
                    str(share / "printers.txt")])[0]  # fmt: skip
    run = sources.source_sync_request(source=source, trigger=SyncTrigger.MANUAL)
    run.status = SyncStatus.RUNNING
    run.checkpoint = first
    run.seen = run.added = 1
    run.save()
    # The item before the checkpoint was committed, but its indexing task was lost.
    Document.objects.create(
        workspace=source.workspace, synced_from=source, external_id=first, title="canteen",
        original_filename="canteen.html", storage_key="org/x/documents/lost", mime_type="text/html",
        size_bytes=1, sha256="0" * 64, source_version="?",
    )  # fmt: skip

    resumed = run_sync(source)
    assert resumed.pk == run.pk
    assert (resumed.seen, resumed.added) == (3, 3)
    assert Document.objects.filter(synced_from=source).count() == 3
    lost = Document.objects.get(external_id=first)
    # Queued again on resume; its (fake) original cannot be read, so it fails with a reason.
    assert lost.status == DocumentStatus.FAILED


def test_a_full_reindex_parses_everything_again_from_the_embedding_cache(
    share, fs_source, run_sync, embed_spy
):
    source = fs_source(share)
    run_sync(source)
    embed_spy.calls.clear()
    run = run_sync(source, full=True)
    assert (run.updated, run.unchanged) == (3, 0)
    documents = Document.objects.filter(synced_from=source)
    assert {d.status for d in documents} == {DocumentStatus.INDEXED}
    # The chunks' texts are unchanged: their vectors come from the embedding cache.
    assert embed_spy.calls == []


def test_one_run_per_source_and_a_bounded_number_at_once(share, fs_source, settings):
    from ingestion.locks import SourceRunGuard, source_sync_locked
    from ingestion.sync import SyncBusy, source_sync

    source, other = fs_source(share), fs_source(share, name="Other")
    holder = SourceRunGuard(source.pk)
    assert holder.acquire()
    try:
        assert source_sync_locked(source.pk)
        with pytest.raises(SyncBusy):
            source_sync(source_id=source.pk)
        settings.MAX_CONCURRENT_INDEXING_JOBS_PER_ORGANIZATION = 1
        with pytest.raises(SyncBusy):  # free source, but no run slot left
            source_sync(source_id=other.pk)
    finally:
        holder.release()
    assert not source_sync_locked(source.pk)
    assert source_sync(source_id=other.pk).status == SyncStatus.SUCCEEDED


def test_a_source_with_documents_goes_only_with_its_workspace(share, fs_source, run_sync):
    from django.db.models import RestrictedError

    from ingestion.models import Source

    source = fs_source(share)
    run_sync(source)
    with pytest.raises(RestrictedError):
        source.delete()  # its documents must leave through document_delete first
    source.workspace.delete()
    assert not Source.objects.filter(pk=source.pk).exists()
    assert not Document.objects.filter(synced_from_id=source.pk).exists()
