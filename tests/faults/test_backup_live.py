"""A backup taken while people keep uploading, replacing, erasing and asking, restored
into the running installation: the restored organization is the backup's point in
time, whole (every document with its original and its chunks), and nothing after it.

What makes the timing certain, without a fake: the test holds a lock on one table of
the organization's schema (its sign-in sessions, which uploads and questions never
touch), so ``pg_dump`` - having started - waits for it; the writes happen while it
waits, i.e. after the backup's snapshot and before its objects are copied, the window
where a backup that lists and copies objects on its own loses or adds some. Then the
lock is released and the backup completes.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import timedelta
from io import StringIO

import psycopg
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from ingestion.models import Chunk, Document, DocumentStatus
from ingestion.storage import objects_under, organization_prefix, originals_sweep
from opaa.backup import Database, backup_create
from tenants.models import Organization
from tenants.services import organization_delete
from tests.conftest import named_file

pytestmark = pytest.mark.faults

HANDBOOK = b"# Handbook\n\n## Keys\n\nSpare keys to the archive are kept in safe 12 at reception.\n"
BADGES = b"# Badge policy\n\nReport a lost badge to reception within a day.\n"
POLICY_V1 = b"# Travel policy\n\nTrains up to 300 km; flights need the manager's approval.\n"
POLICY_V2 = b"# Travel policy\n\nTrains up to 500 km; flights need the director's approval.\n"
PARKING = b"# Parking\n\nVisitors park on level -2; ask reception for a ticket.\n"
LATER = b"# Later\n\nThis note was written after the backup was taken.\n"


def _upload(client, name: str, data: bytes) -> dict:
    response = client.post(
        "/api/v1/documents", {"file": named_file(name, data)}, format="multipart"
    )
    assert response.status_code in {200, 201}, response.content
    return response.json()


def _state(schema: str) -> dict[int, tuple[str, str, str, int]]:
    """Each document: (sha256, storage key, status, chunk count)."""
    with schema_context(schema):
        return {
            d.pk: (d.sha256, d.storage_key, d.status, Chunk.objects.filter(document=d).count())
            for d in Document.objects.order_by("pk")
        }


def _owner_connection() -> psycopg.Connection:
    database = Database.from_settings()
    return psycopg.connect(database.conninfo(), password=database.password or None)


def _dump_waits_for_lock(db: psycopg.Connection) -> bool:
    row = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' "
        "AND wait_event_type = 'Lock'"
    ).fetchone()
    return row[0] > 0


def test_a_backup_under_load_restores_exactly_the_backup_point(fault_org, tmp_path, eventually):
    owner = fault_org(f"live-{uuid.uuid4().hex[:6]}")
    org, client = owner.org, owner.client
    handbook = _upload(client, "handbook.md", HANDBOOK)  # indexed at commit (eager task)
    badges = _upload(client, "badges.md", BADGES)
    policy = _upload(client, "policy.md", POLICY_V1)
    with schema_context(org.schema):
        # A document being indexed at the backup's point: restored, it must not stay so.
        Document.objects.filter(pk=badges["id"]).update(status=DocumentStatus.PROCESSING)
    at_backup = _state(org.schema)
    assert {s[2] for i, s in at_backup.items() if i != badges["id"]} == {DocumentStatus.INDEXED}

    blocker = _owner_connection()
    blocker.execute(f'LOCK TABLE "{org.schema}".django_session IN ACCESS EXCLUSIVE MODE')
    watcher = _owner_connection()
    watcher.autocommit = True
    backup: dict = {}

    def run_backup() -> None:
        try:
            backup["result"] = backup_create(
                destination=tmp_path, organization=org.organization.slug
            )
        except BaseException as exc:  # handed to the test thread
            backup["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run_backup)
    thread.start()
    try:
        eventually(lambda: _dump_waits_for_lock(watcher), timeout=60)
        # The backup has its snapshot; people go on working meanwhile.
        created = _upload(client, "parking.md", PARKING)
        replaced = _upload(client, "policy.md", POLICY_V2)
        assert (replaced["id"], replaced["outcome"]) == (policy["id"], "new_version")
        assert client.delete(f"/api/v1/documents/{handbook['id']}").status_code == 204
        answer = client.post("/api/v1/ask", {"question": "Where do visitors park?"})
        assert answer.status_code == 200, answer.content
    finally:
        blocker.rollback()  # the lock goes: pg_dump goes on
        blocker.close()
        thread.join(timeout=120)
        watcher.close()
    assert "error" not in backup, backup.get("error")
    manifest = backup["result"].manifest
    _upload(client, "later.md", LATER)  # after the backup

    # The originals the backup still needed were kept while it ran; now the sweep
    # finds them orphaned and deletes them, and the live organization is consistent.
    with schema_context(org.schema):
        swept = set(originals_sweep(grace=timedelta(0)))
        live_keys = set(Document.objects.values_list("storage_key", flat=True))
        assert set(objects_under(organization_prefix(org.schema))) == live_keys
    assert swept == {at_backup[handbook["id"]][1], at_backup[policy["id"]][1]}

    connection.set_schema_to_public()
    organization_delete(organization=org.organization)  # the disaster
    out = StringIO()
    call_command("restore", str(backup["result"].path), stdout=out)
    assert "queued for indexing again: 1." in out.getvalue()  # the one caught mid-indexing
    org_row = Organization.objects.get(slug=org.organization.slug)
    object.__setattr__(org, "organization", org_row)  # committed_org drops this one

    after = _state(org_row.schema_name)
    # Exactly the backup's documents: the erased handbook is there, the upload made
    # while the backup ran and the later one are not; the policy is its first version.
    assert sorted(after) == sorted(at_backup)
    assert created["id"] not in after
    for pk, (sha256, key, status, chunks) in after.items():
        assert (sha256, key) == at_backup[pk][:2]
        assert hashlib.sha256(default_storage.open(key).read()).hexdigest() == sha256
        if pk != badges["id"]:
            assert (status, chunks) == at_backup[pk][2:]
    # The document that was being indexed is indexed again after the restore.
    assert after[badges["id"]][2] == DocumentStatus.INDEXED
    assert after[badges["id"]][3] > 0
    # Every restored object belongs to a restored document, and the archive held no more.
    keys = {key for _, key, _, _ in after.values()}
    assert set(objects_under(organization_prefix(org_row.schema_name))) == keys
    assert {o["key"] for o in manifest["objects"]} == keys
