"""The sources page, its JSON status, its actions, and the sync webhook of the API."""

from __future__ import annotations

from django.test import Client
from rest_framework.test import APIClient

from ingestion import sources
from ingestion.models import Document, DocumentStatus, SyncRun, SyncStatus, SyncTrigger
from tests.conftest import portal_client


def test_admin_sees_sources_with_their_last_run_and_counts(
    acme, alice_portal, fs_source, tmp_path, run_sync
):
    (tmp_path / "a.md").write_text("# A\n\nAlpha text.\n")
    source = fs_source(tmp_path, name="Team share")
    run_sync(source)
    page = alice_portal.get("/sources/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Team share" in html
    assert "1 added" in html
    assert "status-succeeded" in html
    status = alice_portal.get("/sources/status").json()["sources"]
    assert status[0]["run"]["status"] == SyncStatus.SUCCEEDED
    assert status[0]["run"]["percent"] == 100
    assert status[0]["documents"] == 1


def test_status_endpoint_runs_a_fixed_number_of_queries(acme, alice_portal, fs_source, tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            alice_portal.get("/sources/status").json()
        return len(captured)

    fs_source(tmp_path, name="Share 0")
    one = queries()
    for n in range(1, 6):
        fs_source(tmp_path, name=f"Share {n}")
    assert queries() == one
    assert len(alice_portal.get("/sources/status").json()["sources"]) == 6


def test_sync_now_toggle_and_edit(
    acme, alice_portal, fs_source, tmp_path, django_capture_on_commit_callbacks
):
    source = fs_source(tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_portal.post(f"/sources/{source.pk}/sync", follow=True)
    assert "has been queued" in response.content.decode()
    run = SyncRun.objects.get(source=source)
    assert (run.trigger, run.status) == (SyncTrigger.MANUAL, SyncStatus.SUCCEEDED)

    alice_portal.post(f"/sources/{source.pk}/toggle")
    source.refresh_from_db()
    assert not source.enabled

    bad = alice_portal.post(f"/sources/{source.pk}/edit", {"schedule": "every day"})
    assert bad.status_code == 400
    assert "not a cron schedule" in bad.content.decode()
    good = alice_portal.post(
        f"/sources/{source.pk}/edit",
        {"schedule": "*/15 * * * *", "include_globs": "*.md\n*.txt", "exclude_globs": "drafts/*"},
    )
    assert good.status_code == 302
    source.refresh_from_db()
    assert source.schedule == "*/15 * * * *"
    assert source.include_globs == ["*.md", "*.txt"]
    assert source.exclude_globs == ["drafts/*"]

    detail = alice_portal.get(f"/sources/{source.pk}/")
    assert f"run-{run.pk}" in detail.content.decode()


def test_run_history_shows_item_errors_and_failed_documents_can_be_retried(
    acme, alice_portal, fs_source, tmp_path, run_sync, django_capture_on_commit_callbacks
):
    (tmp_path / "tool.exe").write_bytes(b"MZ")
    (tmp_path / "broken.pdf").write_text("not a pdf")
    source = fs_source(tmp_path)
    run_sync(source)
    detail = alice_portal.get(f"/sources/{source.pk}/").content.decode()
    assert "tool.exe" in detail
    assert "not supported" in detail
    listing = alice_portal.get("/sources/").content.decode()
    broken = Document.objects.get(original_filename="broken.pdf")
    assert broken.error_message in listing
    with django_capture_on_commit_callbacks(execute=True):
        alice_portal.post(f"/sources/documents/{broken.pk}/retry")
    broken.refresh_from_db()
    assert broken.status == DocumentStatus.FAILED  # still not a PDF, but it was tried again


def test_flagged_source_shows_a_banner(acme, alice_portal, fs_source, tmp_path):
    source = fs_source(tmp_path, name="Old share")
    source.flagged = True
    source.consecutive_failures = 3
    source.save()
    html = alice_portal.get("/sources/").content.decode()
    assert 'role="alert"' in html
    assert "Old share has failed 3 syncs in a row" in html


def test_outsiders_get_404_and_non_admins_cannot_manage(acme, world, fs_source, tmp_path):
    source = fs_source(tmp_path)
    carol = portal_client(world.globex, "carol@globex.example")
    # Carol's session is for Globex's domain; on Acme's domain she is nobody.
    assert carol.get(f"/sources/{source.pk}/").status_code in (302, 404)
    carol_on_acme = Client(HTTP_HOST=world.acme.domain)
    assert carol_on_acme.get(f"/sources/{source.pk}/").status_code == 302  # sign in first
    bob = portal_client(world.acme, "bob@acme.example")  # editor of Sales only
    assert bob.get(f"/sources/{source.pk}/").status_code == 404
    assert bob.post(f"/sources/{source.pk}/sync").status_code == 404
    assert bob.get("/sources/?workspace=sales").status_code == 403


def test_webhook_queues_a_sync_for_admins_and_tokens_with_the_scope(
    acme, world, alice_api, bob_api, fs_source, tmp_path, make_token,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    (tmp_path / "a.md").write_text("# A\n\nAlpha.\n")
    source = fs_source(tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(f"/api/v1/sources/{source.pk}/sync", {}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["trigger"] == SyncTrigger.WEBHOOK
    assert SyncRun.objects.get(source=source).status == SyncStatus.SUCCEEDED

    assert bob_api.post(f"/api/v1/sources/{source.pk}/sync").status_code == 404
    assert alice_api.post("/api/v1/sources/999999/sync").status_code == 404
    bad = alice_api.post(f"/api/v1/sources/{source.pk}/sync", {"full": "maybe"}, format="json")
    assert bad.status_code == 400

    def with_token(scopes):
        client = APIClient(HTTP_HOST=world.acme.domain)
        token = make_token(world.acme, "alice@acme.example", scopes=scopes)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    assert (
        with_token(["documents:read"]).post(f"/api/v1/sources/{source.pk}/sync").status_code == 403
    )
    scoped = with_token(["connectors:admin"]).post(
        f"/api/v1/sources/{source.pk}/sync", {"full": True}, format="json"
    )
    assert scoped.status_code == 202
    assert scoped.json()["full"] is True


def test_carol_cannot_trigger_acme_sources(acme, carol_api, fs_source, tmp_path):
    source = fs_source(tmp_path)
    assert carol_api.post(f"/api/v1/sources/{source.pk}/sync").status_code == 404


def test_beat_queues_due_sources_and_computes_the_next_run(
    acme, fs_source, tmp_path, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from workspaces.models import Workspace

    due = fs_source(tmp_path, name="Due", schedule="*/5 * * * *")
    later = fs_source(tmp_path, name="Later")
    off = fs_source(tmp_path, name="Off", enabled=False)
    archived = fs_source(tmp_path, name="Archived")
    archived.workspace = Workspace.objects.create(
        name="Old projects", slug="old-projects", archived_at=timezone.now()
    )
    archived.save(update_fields=["workspace"])
    past = timezone.now() - timedelta(minutes=1)
    type(due).objects.filter(pk__in=[due.pk, off.pk, archived.pk]).update(next_run_at=past)
    with django_capture_on_commit_callbacks(execute=True):
        queued = sources.sources_sync_due()
    assert queued == [due.pk]  # not the disabled one, nor the archived workspace's
    due.refresh_from_db()
    assert due.next_run_at > timezone.now()
    assert due.next_run_at.minute % 5 == 0
    assert SyncRun.objects.get(source=due).trigger == SyncTrigger.SCHEDULE
    assert not SyncRun.objects.filter(source__in=[later, off, archived]).exists()


def test_admin_forms_encrypt_secrets_and_refuse_paths_not_allowed(acme, tmp_path):
    from ingestion.admin import ConnectorAdmin, ConnectorForm, SourceForm
    from ingestion.models import Connector
    from workspaces.models import Workspace

    form = ConnectorForm(
        data={"name": "Bucket", "kind": "s3", "config": '{"bucket": "b"}',
              "secrets": '{"secret_access_key": "k3y"}'}
    )  # fmt: skip
    assert form.is_valid(), form.errors
    connector = form.save(commit=False)
    ConnectorAdmin(Connector, None).save_model(None, connector, form, change=False)
    assert "k3y" not in Connector.objects.get().secrets_encrypted
    assert sources.connector_secrets(connector) == {"secret_access_key": "k3y"}

    files = sources.connector_create(name="Files", kind="filesystem")
    workspace = Workspace.objects.get(is_default=True)
    data = {"name": "S", "connector": files.pk, "workspace": workspace.pk,
            "paths": "/etc", "schedule": "0 * * * *", "enabled": "on"}  # fmt: skip
    refused = SourceForm(data=data)
    assert not refused.is_valid()
    assert "CONNECTOR_FILESYSTEM_ROOTS" in str(refused.errors)
    assert SourceForm(data={**data, "paths": str(tmp_path)}).is_valid()


def test_a_whole_workspace_is_reindexed(
    acme, alice_portal, alice_api, upload_indexed, fs_source, tmp_path, run_sync, embed_spy,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    (tmp_path / "a.md").write_text("# A\n\nAlpha.\n")
    source = fs_source(tmp_path)
    run_sync(source)
    upload_indexed(alice_api, "b.md", b"# B\n\nBeta.\n")
    indexed_before = dict(Document.objects.values_list("id", "indexed_at"))
    embed_spy.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_portal.post("/sources/reindex", follow=True)
    assert "1 uploads queued" in response.content.decode()
    run = SyncRun.objects.filter(source=source).first()
    assert (run.trigger, run.full, run.updated) == (SyncTrigger.REINDEX, True, 1)
    # Both the source's document and the upload were indexed again...
    for pk, indexed_at in Document.objects.values_list("id", "indexed_at"):
        assert indexed_at > indexed_before[pk]
    # ...with their unchanged chunks' vectors from the embedding cache.
    assert embed_spy.calls == []
    assert set(Document.objects.values_list("status", flat=True)) == {DocumentStatus.INDEXED}


def test_a_first_sync_knows_its_total_before_its_first_item(
    acme, alice_portal, fs_source, tmp_path, run_sync, monkeypatch
):
    """Issue 16: the total was set only when the run ended, so a first sync showed 99%."""
    from ingestion import sync

    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.md").write_text(f"# {name}\n\nText {name}.\n")
    source = fs_source(tmp_path, name="Team share")
    totals_seen = []
    item_sync = sync._item_sync

    def recording(source, run, item, known):
        totals_seen.append((SyncRun.objects.get(pk=run.pk).total, run.seen))
        return item_sync(source, run, item, known)

    monkeypatch.setattr(sync, "_item_sync", recording)
    run_sync(source)

    assert totals_seen == [(3, 0), (3, 1), (3, 2)]


def test_a_running_sync_shows_its_progress_and_time_left(acme, alice_portal, fs_source, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    source = fs_source(tmp_path, name="Team share")
    run = SyncRun.objects.create(
        source=source, trigger=SyncTrigger.MANUAL, status=SyncStatus.RUNNING,
        started_at=timezone.now() - timedelta(seconds=60), seen=10,
    )  # fmt: skip

    def state() -> dict:
        return alice_portal.get("/sources/status").json()["sources"][0]["run"]

    # Not counted yet: no percentage (an indeterminate bar) and no estimate.
    assert (state()["percent"], state()["eta_seconds"]) == (None, None)
    assert '<progress max="100" aria-label' in alice_portal.get("/sources/").content.decode()
    SyncRun.objects.filter(pk=run.pk).update(total=40)
    now = state()
    assert now["percent"] == 25
    assert 170 <= now["eta_seconds"] <= 190  # 30 more items at 6 s each
    assert now["eta_text"] == "about 3 min left"
    html = alice_portal.get("/sources/").content.decode()
    assert "10 of 40 items · about 3 min left" in html
