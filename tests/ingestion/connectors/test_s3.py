"""The S3 connector against moto's S3 server on loopback."""

from __future__ import annotations

import logging

import pytest

from ingestion import sources
from ingestion.models import ConnectorKind, Document, DocumentStatus, SyncStatus
from tests.conftest import free_port, s3_bucket_create
from tests.ingestion.connectors.conftest import snapshot
from workspaces.models import Workspace

SECRET = "s3-secret-never-logged"
TRAVEL = b"# Travel\n\nThe per diem abroad is 60 euros.\n"


@pytest.fixture
def bucket(s3_endpoint):
    created = s3_bucket_create(s3_endpoint, secret=SECRET)
    client, name = created.client, created.name
    client.put_object(
        Bucket=name,
        Key="policies/travel.md",
        Body=b"# Travel\n\nThe per diem abroad is 60 euros.\n",
    )
    client.put_object(
        Bucket=name, Key="policies/badges.txt", Body=b"Report a lost badge to reception.\n"
    )
    client.put_object(Bucket=name, Key="other/ignored.txt", Body=b"Outside the prefix.\n")
    return client, name


def _source(endpoint: str, bucket_name: str, **options):
    connector = sources.connector_create(
        name="Archive bucket",
        kind=ConnectorKind.S3,
        config={"bucket": bucket_name, "endpoint_url": endpoint, "region": "us-east-1",
                "access_key_id": "test"},
        secrets={"secret_access_key": SECRET},
    )  # fmt: skip
    return sources.source_create(
        connector=connector,
        workspace=Workspace.objects.get(is_default=True),
        name="Archive",
        paths=options.pop("paths", ["policies/"]),
        **options,
    )


def test_secrets_are_encrypted_at_rest(acme, s3_endpoint, bucket):
    source = _source(s3_endpoint, bucket[1])
    stored = (
        type(source.connector)
        .objects.values_list("secrets_encrypted", flat=True)
        .get(pk=source.connector_id)
    )
    assert SECRET not in stored
    assert sources.connector_secrets(source.connector) == {"secret_access_key": SECRET}


def test_first_sync_change_deletion_and_nothing_changed(
    acme, s3_endpoint, bucket, run_sync, embed_spy
):
    client, name = bucket
    source = _source(s3_endpoint, name)

    run = run_sync(source)
    assert (run.status, run.seen, run.added) == (SyncStatus.SUCCEEDED, 2, 2)
    documents = Document.objects.filter(synced_from=source)
    assert sorted(documents.values_list("external_id", flat=True)) == [
        "policies/badges.txt",
        "policies/travel.md",
    ]
    assert set(documents.values_list("status", flat=True)) == {DocumentStatus.INDEXED}

    before = snapshot(source)
    embed_spy.calls.clear()
    run = run_sync(source)
    assert (run.unchanged, run.added, run.updated, run.deleted) == (2, 0, 0, 0)
    assert embed_spy.calls == []
    assert snapshot(source) == before

    client.put_object(Bucket=name, Key="policies/travel.md", Body=TRAVEL.replace(b"60", b"75"))
    client.delete_object(Bucket=name, Key="policies/badges.txt")
    run = run_sync(source)
    assert (run.updated, run.deleted, run.unchanged) == (1, 1, 0)
    assert len(embed_spy.calls) == 1
    travel = Document.objects.get(synced_from=source)
    assert travel.version == 2
    assert "75 euros" in travel.chunks.get().text


def test_a_hostile_key_fails_alone(acme, s3_endpoint, bucket, run_sync):
    client, name = bucket
    client.put_object(Bucket=name, Key="policies/../../etc/passwd.txt", Body=b"root:x:0:0\n")
    client.put_object(Bucket=name, Key="policies/tool.exe", Body=b"MZ")
    source = _source(s3_endpoint, name)
    run = run_sync(source)
    assert run.status == SyncStatus.SUCCEEDED
    assert run.failed == 2
    errors = {e["item"]: e["error"] for e in run.item_errors}
    assert "'..'" in errors["policies/../../etc/passwd.txt"]
    assert "not supported" in errors["policies/tool.exe"]
    assert Document.objects.filter(synced_from=source, status=DocumentStatus.INDEXED).count() == 2


def test_an_unreachable_store_fails_the_run_without_leaking_the_secret(acme, run_sync, caplog):
    source = _source(f"http://127.0.0.1:{free_port()}", "nowhere")
    with caplog.at_level(logging.DEBUG):
        run = run_sync(source)
    assert run.status == SyncStatus.FAILED
    assert "could not be reached" in run.error_message
    assert SECRET not in run.error_message
    assert SECRET not in caplog.text
