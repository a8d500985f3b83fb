"""The backup drill: ingest, back up, keep writing, destroy, restore into a fresh embedded
Postgres and an empty storage, then compare documents, chunks and content hashes and
answer a question from the restored installation."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import psycopg
import pytest
from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context
from moto.server import ThreadedMotoServer

from ingestion.models import Chunk, Document
from opaa.backup import (
    BackupError,
    Database,
    S3Location,
    backup_create,
    backup_latest_key,
    backup_restore,
    backup_verify,
)
from opaa.settings.env import BASE_DIR
from tenants.models import Organization
from tenants.services import organization_create, organization_delete
from tests.conftest import PASSWORD, Org, api_client, named_file

HANDBOOK = b"# Handbook\n\n## Keys\n\nSpare keys to the archive are kept in safe 12 at reception.\n"
LATER = b"# Later\n\nThis note was written after the backup was taken.\n"


@pytest.fixture
def vault(django_db_setup, django_db_blocker):
    """A committed organization (a backup reads what is committed), dropped afterwards."""
    slug = f"vault-{uuid.uuid4().hex[:6]}"
    with django_db_blocker.unblock():
        created = organization_create(
            name="Vault", slug=slug, owner_email="val@vault.example", owner_password=PASSWORD
        )
        organization = created.organization
        try:
            yield Org(organization, domain=f"{slug}.localhost", schema=organization.schema_name)
        finally:
            connection.set_schema_to_public()
            if Organization.objects.filter(pk=organization.pk).exists():
                organization_delete(organization=organization)


@pytest.fixture
def fresh_postgres():
    """A new, empty embedded Postgres (its own data directory): the "elsewhere"."""
    import pgserver

    # A short path: a Unix socket's path may not exceed about 100 characters.
    root = Path(tempfile.mkdtemp(prefix="opaa-restore-", dir="/tmp"))
    server = pgserver.get_server(root / "pg", cleanup_mode="stop")
    server.psql("CREATE DATABASE restored;")
    socket_dir = str(server.get_postmaster_info().socket_dir)
    try:
        yield root, socket_dir, f"postgres://postgres@{quote(socket_dir, safe='')}/restored"
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _upload(client, name: str, data: bytes) -> dict:
    response = client.post(
        "/api/v1/documents", {"file": named_file(name, data)}, format="multipart"
    )
    assert response.status_code == 201, response.content
    return response.json()


def _chunk_digest(chunks) -> str:
    return hashlib.sha256("\x00".join(chunks).encode()).hexdigest()


def _ask_restored(url: str, media: Path, schema: str, question: str) -> dict:
    """Answer ``question`` in a separate process running against the restored installation."""
    code = f"""
import json
from django_tenants.utils import schema_context
from accounts.models import User
from search.services import answer_question
from workspaces.models import Workspace
with schema_context({schema!r}):
    owner = User.objects.get(email="val@vault.example")
    record = answer_question(
        user=owner, workspace=Workspace.objects.get(is_default=True), question={question!r}
    )
    print(json.dumps({{"answer": record.answer, "citations": record.citations}}))
"""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "opaa.settings.test",
        "DATABASE_URL": url,
        "MEDIA_ROOT": str(media),
        "REDIS_URL": settings.REDIS_URL,
        "ANSWER_CACHE_TTL_S": "0",
        "LLM_API_BASE": "",
    }
    env.pop("DATABASE_OWNER_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_backup_destroy_restore_drill(vault, fresh_postgres, tmp_path):
    client = api_client(vault, "val@vault.example")
    handbook = _upload(client, "handbook.md", HANDBOOK)  # indexed at commit (eager task)
    with schema_context(vault.schema):
        document = Document.objects.get(pk=handbook["id"])
        assert document.status == "indexed"
        chunks = list(Chunk.objects.filter(document=document).values_list("text", flat=True))
        before = {"sha256": document.sha256, "key": document.storage_key, "chunks": chunks}

    result = backup_create(destination=tmp_path / "backups")
    manifest = result.manifest
    assert result.path.name.startswith("opaa-backup-")
    assert result.path.suffix == ".tar"
    assert vault.schema in manifest["schemas"]
    assert {"slug": vault.organization.slug, "schema": vault.schema} in manifest["organizations"]
    assert before["key"] in {o["key"] for o in manifest["objects"]}
    assert manifest["migrations"]["search"] >= "0008"

    _upload(client, "later.md", LATER)  # keeps writing after the backup
    connection.set_schema_to_public()
    organization_delete(organization=vault.organization)  # the disaster

    root, socket_dir, url = fresh_postgres
    media = root / "media"
    restored_manifest = backup_restore(
        archive=result.path,
        database=Database.from_url(url),
        storage=FileSystemStorage(location=media),
        keep_owners=False,
    )
    assert restored_manifest == manifest

    with psycopg.connect(host=socket_dir, user="postgres", dbname="restored") as db:
        documents = db.execute(
            f'SELECT id, sha256, storage_key, title FROM "{vault.schema}".ingestion_document'  # noqa: S608
        ).fetchall()
        restored_chunks = [
            row[0]
            for row in db.execute(
                f'SELECT text FROM "{vault.schema}".ingestion_chunk '  # noqa: S608
                "WHERE document_id = %s ORDER BY ordinal",
                [handbook["id"]],
            )
        ]
        vectors = db.execute(
            f'SELECT count(*) FROM "{vault.schema}".ingestion_chunk '  # noqa: S608
            "WHERE embedding IS NOT NULL"
        ).fetchone()[0]
    # The backup's state: the handbook, not the note written after it.
    assert [(d[0], d[1], d[2]) for d in documents] == [
        (handbook["id"], before["sha256"], before["key"])
    ]
    assert _chunk_digest(restored_chunks) == _chunk_digest(before["chunks"])
    assert vectors == len(before["chunks"])
    original = (media / before["key"]).read_bytes()
    assert hashlib.sha256(original).hexdigest() == before["sha256"]

    answer = _ask_restored(url, media, vault.schema, "Where are the spare keys kept?")
    assert "safe 12" in answer["answer"]
    assert answer["citations"][0]["document_id"] == handbook["id"]


def test_restore_refuses_a_database_that_is_not_empty(vault, fresh_postgres, tmp_path):
    result = backup_create(destination=tmp_path)
    _, _, url = fresh_postgres
    target = Database.from_url(url)
    backup_restore(
        archive=result.path,
        database=target,
        storage=FileSystemStorage(location=tmp_path / "m1"),
        keep_owners=False,
    )
    with pytest.raises(BackupError, match="not empty"):
        backup_restore(
            archive=result.path,
            database=target,
            storage=FileSystemStorage(location=tmp_path / "m2"),
            keep_owners=False,
        )


def test_a_damaged_archive_is_refused_before_anything_is_restored(vault, tmp_path):
    client = api_client(vault, "val@vault.example")
    _upload(client, "handbook.md", HANDBOOK)
    result = backup_create(destination=tmp_path)
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(result.path) as source, tarfile.open(damaged, "w") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name.startswith("objects/"):
                data = data.replace(b"safe 12", b"safe 13")
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    with pytest.raises(BackupError, match="checksum"):
        backup_verify(damaged)
    with pytest.raises(CommandError, match="checksum"):
        call_command("restore", str(damaged), "--verify-only")
    not_a_backup = tmp_path / "x.tar"
    with tarfile.open(not_a_backup, "w"):
        pass
    with pytest.raises(CommandError, match="not an OPAA backup"):
        call_command("restore", str(not_a_backup), "--verify-only")
    with pytest.raises(CommandError, match="No archive"):
        call_command("restore", str(tmp_path / "missing.tar"))


def test_backup_command_writes_a_verifiable_archive(vault, tmp_path):
    from io import StringIO

    out = StringIO()
    call_command("backup", str(tmp_path), stdout=out)
    assert "Wrote" in out.getvalue()
    (archive,) = tmp_path.glob("opaa-backup-*.tar")
    verified = StringIO()
    call_command("restore", str(archive), "--verify-only", stdout=verified)
    assert "Verified" in verified.getvalue()
    assert not list(tmp_path.glob("*.partial"))


# --- Archives in S3 (moto's server on loopback, speaking the S3 protocol) ----------------


@pytest.fixture(scope="module")
def s3_endpoint():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(settings, s3_endpoint):
    """Originals kept in S3 (as with S3_BUCKET set); ``use(bucket)`` switches the bucket."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )

    def use(bucket: str) -> None:
        client.create_bucket(Bucket=bucket)
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": bucket,
                    "endpoint_url": s3_endpoint,
                    "region_name": "us-east-1",
                    "access_key": "test",
                    "secret_key": "test",
                    "default_acl": None,
                    "file_overwrite": False,
                },
            },
        }

    def keys(bucket: str, prefix: str = "") -> list[str]:
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    use(bucket := f"opaa-originals-{uuid.uuid4().hex[:8]}")
    return S3(client=client, bucket=bucket, use=use, keys=keys)


@dataclass(frozen=True)
class S3:
    client: Any
    bucket: str
    use: Callable[[str], None]
    keys: Callable[..., list[str]]


def test_backup_to_s3_and_restore_from_s3_elsewhere(s3, vault, fresh_postgres, tmp_path):
    client = api_client(vault, "val@vault.example")
    handbook = _upload(client, "handbook.md", HANDBOOK)  # its original is stored in S3
    with schema_context(vault.schema):
        document = Document.objects.get(pk=handbook["id"])
    assert document.storage_key in s3.keys(s3.bucket, "org/")

    out = StringIO()
    call_command("backup", "--to", f"s3://{s3.bucket}/nightly/", stdout=out)
    [key] = s3.keys(s3.bucket, "nightly/")
    assert key.startswith("nightly/opaa-backup-")
    assert key.endswith(".tar")
    assert f"s3://{s3.bucket}/{key}" in out.getvalue()
    # The uploaded archive is complete: every checksum in it holds.
    downloaded = tmp_path / "downloaded.tar"
    s3.client.download_file(s3.bucket, key, str(downloaded))
    manifest = backup_verify(downloaded)
    stored = {"key": document.storage_key, "size": len(HANDBOOK), "sha256": document.sha256}
    assert stored in manifest["objects"]

    # Elsewhere: an empty database and an empty bucket; the newest archive is found.
    _, socket_dir, url = fresh_postgres
    elsewhere = f"opaa-restored-{uuid.uuid4().hex[:8]}"
    s3.use(elsewhere)
    restored = StringIO()
    call_command(
        "restore",
        "--from",
        f"s3://{s3.bucket}/nightly",
        "--database-url",
        url,
        "--no-owner",
        stdout=restored,
    )
    assert "Restored the backup" in restored.getvalue()
    assert s3.keys(elsewhere) == [document.storage_key]
    original = s3.client.get_object(Bucket=elsewhere, Key=document.storage_key)["Body"].read()
    assert hashlib.sha256(original).hexdigest() == document.sha256
    with psycopg.connect(host=socket_dir, user="postgres", dbname="restored") as db:
        rows = db.execute(
            f'SELECT id, sha256 FROM "{vault.schema}".ingestion_document'  # noqa: S608
        ).fetchall()
    assert rows == [(handbook["id"], document.sha256)]


def test_restore_from_a_prefix_takes_the_newest_archive_directly_under_it(s3):
    location = S3Location.parse(f"s3://{s3.bucket}/nightly")
    with pytest.raises(BackupError, match=f"No backup archive under s3://{s3.bucket}/nightly"):
        backup_latest_key(location=location, client=s3.client)
    for key in (
        "nightly/opaa-backup-20260101T000000Z.tar",
        "nightly/opaa-backup-20261127T020000Z.tar",
        "nightly/opaa-backup-20991231T000000Z.tar.partial",  # not a finished archive
        "nightly/older/opaa-backup-20991231T000000Z.tar",  # another prefix
        "nightlyx/opaa-backup-20991231T000000Z.tar",
    ):
        s3.client.put_object(Bucket=s3.bucket, Key=key, Body=b"x")
    newest = backup_latest_key(location=location, client=s3.client)
    assert newest == "nightly/opaa-backup-20261127T020000Z.tar"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["backup"], "Give a directory, --to"),
        (["backup", "--to", "s3://Not_A_Bucket/x"], "Not a valid bucket name"),
        (["backup", "--to", "https://example.com/x"], "Not an S3 location"),
        (["restore"], "Give either an archive file or --from"),
        (["restore", "x.tar", "--from", "s3://opaa-b/x"], "Give either"),
        (["restore", "--from", "s3://opaa-b/../x"], "may not contain"),
    ],
)
def test_s3_options_refuse_bad_input_clearly(argv, message):
    with pytest.raises(CommandError, match=message):
        call_command(*argv)


def test_s3_failures_are_reported_clearly_without_credentials(s3, vault):
    missing = f"opaa-missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(CommandError, match=f"Could not list the backups in s3://{missing}/x"):
        call_command("restore", "--from", f"s3://{missing}/x", "--verify-only")
    with pytest.raises(CommandError, match="NoSuchBucket") as raised:
        call_command("backup", "--to", f"s3://{missing}/nightly")
    assert "test" not in str(raised.value).replace(missing, "")
