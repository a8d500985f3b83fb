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
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import AuditEvent
from ingestion.models import Chunk, Document
from ingestion.storage import objects_under
from opaa.backup import (
    BackupError,
    Database,
    S3Location,
    backup_create,
    backup_latest_key,
    backup_restore,
    backup_verify,
    pg_tool,
)
from opaa.backup_organization import organization_restore
from opaa.settings.env import BASE_DIR
from tenants.models import Domain, Organization, Plan
from tenants.services import organization_create, organization_delete
from tests.conftest import PASSWORD, Org, api_client, named_file, originals_in_s3, portal_client
from workspaces.rls.policies import tables_unprotected

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
            # By slug: a test may have deleted it and restored it (a new row).
            for leftover in Organization.objects.filter(slug=slug):
                organization_delete(organization=leftover)


@pytest.fixture
def fresh_postgres():
    """A new, empty embedded Postgres (its own data directory): the "elsewhere"."""
    from opaa.embedded import postgres_server, superuser_sql

    # A short path: a Unix socket's path may not exceed about 100 characters.
    root = Path(tempfile.mkdtemp(prefix="opaa-restore-", dir="/tmp"))
    server = postgres_server(root / "pg")
    superuser_sql(server, "CREATE DATABASE restored;")
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
    return shell_json(code, env)


def shell_json(code: str, env: dict[str, str]) -> dict:
    """Run ``code`` in ``manage.py shell`` in a process of its own with ``env``; the
    JSON object its last line of output prints."""
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
    assert manifest["scope"] == "installation"
    [held] = [o for o in manifest["organizations"] if o["slug"] == vault.organization.slug]
    assert held["schema"] == vault.schema
    assert held["domains"] == [{"domain": vault.domain, "is_primary": True}]
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


def test_backup_to_s3_and_restore_from_s3_elsewhere(
    s3_storage, s3_endpoint, settings, vault, fresh_postgres, tmp_path
):
    s3 = s3_storage
    client = api_client(vault, "val@vault.example")
    handbook = _upload(client, "handbook.md", HANDBOOK)  # its original is stored in S3
    with schema_context(vault.schema):
        document = Document.objects.get(pk=handbook["id"])
    assert document.storage_key in s3.keys("org/")

    out = StringIO()
    call_command("backup", "--to", f"s3://{s3.name}/nightly/", stdout=out)
    [key] = s3.keys("nightly/")
    assert key.startswith("nightly/opaa-backup-")
    assert key.endswith(".tar")
    assert f"s3://{s3.name}/{key}" in out.getvalue()
    # The uploaded archive is complete: every checksum in it holds.
    downloaded = tmp_path / "downloaded.tar"
    s3.client.download_file(s3.name, key, str(downloaded))
    manifest = backup_verify(downloaded)
    stored = {"key": document.storage_key, "size": len(HANDBOOK), "sha256": document.sha256}
    assert stored in manifest["objects"]

    # Elsewhere: an empty database and an empty bucket; the newest archive is found.
    _, socket_dir, url = fresh_postgres
    elsewhere = originals_in_s3(settings, s3_endpoint)
    restored = StringIO()
    call_command(
        "restore",
        "--from",
        f"s3://{s3.name}/nightly",
        "--database-url",
        url,
        "--no-owner",
        stdout=restored,
    )
    assert "Restored the backup" in restored.getvalue()
    assert elsewhere.keys() == [document.storage_key]
    original = elsewhere.read(document.storage_key)
    assert hashlib.sha256(original).hexdigest() == document.sha256
    with psycopg.connect(host=socket_dir, user="postgres", dbname="restored") as db:
        rows = db.execute(
            f'SELECT id, sha256 FROM "{vault.schema}".ingestion_document'  # noqa: S608
        ).fetchall()
    assert rows == [(handbook["id"], document.sha256)]


def test_restore_from_a_prefix_takes_the_newest_archive_directly_under_it(s3_storage):
    s3 = s3_storage
    location = S3Location.parse(f"s3://{s3.name}/nightly")
    with pytest.raises(BackupError, match=f"No backup archive under s3://{s3.name}/nightly"):
        backup_latest_key(location=location, client=s3.client)
    for key in (
        "nightly/opaa-backup-20260101T000000Z.tar",
        "nightly/opaa-backup-20261127T020000Z.tar",
        "nightly/opaa-backup-20991231T000000Z.tar.partial",  # not a finished archive
        "nightly/older/opaa-backup-20991231T000000Z.tar",  # another prefix
        "nightlyx/opaa-backup-20991231T000000Z.tar",
        # One organization's archives: newer than the whole installation's, and a slug
        # that sorts after every time stamp.
        "nightly/opaa-backup-org-acme-20261127T030000Z.tar",
        "nightly/opaa-backup-org-acme-20261126T030000Z.tar",
        "nightly/opaa-backup-org-zeta-20261128T030000Z.tar",
    ):
        s3.client.put_object(Bucket=s3.name, Key=key, Body=b"x")
    newest = backup_latest_key(location=location, client=s3.client)
    assert newest == "nightly/opaa-backup-20261127T020000Z.tar"
    # For one organization: its own archives and the whole installation's, by time.
    acme = backup_latest_key(location=location, client=s3.client, organization="acme")
    assert acme == "nightly/opaa-backup-org-acme-20261127T030000Z.tar"
    globex = backup_latest_key(location=location, client=s3.client, organization="globex")
    assert globex == "nightly/opaa-backup-20261127T020000Z.tar"


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


def test_s3_failures_are_reported_clearly_without_credentials(s3_storage, vault):
    missing = f"opaa-missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(CommandError, match=f"Could not list the backups in s3://{missing}/x"):
        call_command("restore", "--from", f"s3://{missing}/x", "--verify-only")
    with pytest.raises(CommandError, match="NoSuchBucket") as raised:
        call_command("backup", "--to", f"s3://{missing}/nightly")
    assert "test" not in str(raised.value).replace(missing, "")


# --- One organization, into a running installation -----------------------------------


def _documents(schema: str) -> list[tuple]:
    with schema_context(schema):
        return [
            (
                d.pk,
                d.sha256,
                d.storage_key,
                _chunk_digest(d.chunks.order_by("ordinal").values_list("text", flat=True)),
                d.chunks.exclude(embedding=None).count(),
            )
            for d in Document.objects.order_by("pk")
        ]


def _restored(vault: Org) -> Org:
    organization = Organization.objects.get(slug=vault.organization.slug)
    return Org(organization, domain=vault.domain, schema=organization.schema_name)


def test_one_organization_is_backed_up_alone_and_restored_into_the_running_installation(
    vault, tmp_path
):
    client = api_client(vault, "val@vault.example")
    handbook = _upload(client, "handbook.md", HANDBOOK)
    signed_in = portal_client(vault, "val@vault.example")
    assert signed_in.get("/ask/").status_code == 200
    Organization.objects.filter(pk=vault.organization.pk).update(
        quota_overrides={"documents": 50}, plan=Plan.objects.get(code="team")
    )
    before = _documents(vault.schema)

    out = StringIO()
    call_command("backup", str(tmp_path), "--organization", vault.organization.slug, stdout=out)
    (archive,) = tmp_path.glob("opaa-backup-*.tar")
    assert archive.name.startswith(f"opaa-backup-org-{vault.organization.slug}-")
    assert f"the organization {vault.organization.slug}" in out.getvalue()
    manifest = backup_verify(archive)
    assert manifest["scope"] == "organization"
    assert manifest["schemas"] == [vault.schema]
    assert [o["slug"] for o in manifest["organizations"]] == [vault.organization.slug]
    assert manifest["objects"]
    assert all(o["key"].startswith(f"org/{vault.schema}/") for o in manifest["objects"])
    listing = subprocess.run(
        [pg_tool("pg_restore"), "--list", str(_extract(archive, "database.dump", tmp_path))],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert " acme" not in listing  # nothing of another organization
    assert " public " not in listing

    _upload(client, "later.md", LATER)  # keeps writing after the backup
    connection.set_schema_to_public()
    organization_delete(organization=vault.organization)

    restored_out = StringIO()
    call_command("restore", str(archive), stdout=restored_out)
    assert f"Restored the organization {vault.organization.slug}" in restored_out.getvalue()
    restored = _restored(vault)
    assert restored.organization.pk != vault.organization.pk
    assert restored.schema == vault.schema
    assert restored.organization.status == "active"
    assert restored.organization.plan.code == "team"
    assert restored.organization.quota_overrides == {"documents": 50}
    assert list(restored.organization.domains.values_list("domain", flat=True)) == [vault.domain]
    assert _documents(restored.schema) == before  # the backup's state, not the later note
    # Owned by the schema owner (later migrations can alter it), protected by row-level
    # security, and reachable by the application's role (the API call below).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = %s", [restored.schema]
        )
        assert cursor.fetchall() == [(settings.DATABASES["default"]["OWNER"]["USER"],)]
    assert tables_unprotected(connection) == []
    stored = default_storage.open(before[0][2]).read()
    assert hashlib.sha256(stored).hexdigest() == before[0][1]
    with schema_context("public"):
        event = AuditEvent.objects.get(
            action="organization.restored", target_id=restored.organization.slug
        )
    assert event.extra["objects"] == 1

    # Sessions are not restored: the old browser signs in again. Tokens and passwords are.
    response = signed_in.get("/ask/")
    assert response.status_code == 302
    assert "login" in response["Location"]
    answer = api_client(restored, "val@vault.example").post(
        "/api/v1/ask", {"question": "Where are the spare keys kept?"}
    )
    assert answer.status_code == 200, answer.content
    assert "safe 12" in answer.json()["answer"]
    assert answer.json()["citations"][0]["document_id"] == handbook["id"]
    assert (
        _upload(api_client(restored, "val@vault.example"), "later.md", LATER)["id"] > handbook["id"]
    )


def _extract(archive: Path, member: str, directory: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extract(member, directory, filter="data")
    return directory / member


def test_one_organization_is_restored_out_of_a_whole_installation_backup(vault, world, tmp_path):
    client = api_client(vault, "val@vault.example")
    _upload(client, "handbook.md", HANDBOOK)
    before = _documents(vault.schema)
    whole = backup_create(destination=tmp_path).path
    slug = vault.organization.slug

    with pytest.raises(CommandError, match=f"The organization '{slug}' exists"):
        call_command("restore", str(whole), "--organization", slug)
    with pytest.raises(CommandError, match="does not hold the organization 'nobody'"):
        call_command("restore", str(whole), "--organization", "nobody")
    with pytest.raises(CommandError, match="--database-url and --no-owner apply"):
        call_command("restore", str(whole), "--organization", slug, "--no-owner")

    organization_delete(organization=vault.organization)
    # Its domain was given to another organization meanwhile: refused, nothing changed.
    taken = Domain.objects.create(domain=vault.domain, tenant=world.globex.organization)
    try:
        with pytest.raises(CommandError, match=f"Domains already in use here: {vault.domain}"):
            call_command("restore", str(whole), "--organization", slug)
    finally:
        taken.delete()
    assert not Organization.objects.filter(slug=slug).exists()

    call_command("restore", str(whole), "--organization", slug, stdout=StringIO())
    assert _documents(vault.schema) == before
    # Only that organization came back; the others were not touched.
    assert Organization.objects.filter(slug="acme").count() == 1


def test_a_failed_organization_restore_leaves_nothing_and_can_run_again(
    vault, tmp_path, monkeypatch
):
    import opaa.backup_organization as restoring

    _upload(api_client(vault, "val@vault.example"), "handbook.md", HANDBOOK)
    before = _documents(vault.schema)
    archive = backup_create(destination=tmp_path, organization=vault.organization.slug).path
    organization_delete(organization=vault.organization)

    def migrate_fails(*args, **kwargs):
        raise BackupError("migrate_schemas failed: the disk is full")

    monkeypatch.setattr(restoring, "call_command", migrate_fails)
    with pytest.raises(BackupError, match="the disk is full"):
        organization_restore(archive=archive)
    assert not Organization.objects.filter(slug=vault.organization.slug).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [vault.schema])
        assert cursor.fetchone() is None
    assert objects_under(f"org/{vault.schema}/") == []

    monkeypatch.undo()
    organization_restore(archive=archive)
    assert _documents(vault.schema) == before


def test_an_organization_backup_from_a_newer_opaa_is_refused(vault, tmp_path):
    archive = backup_create(destination=tmp_path, organization=vault.organization.slug).path
    newer = tmp_path / "newer.tar"
    with tarfile.open(archive) as source, tarfile.open(newer, "w") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["migrations"]["search"] = "0999_from_the_future"
                data = json.dumps(manifest).encode()
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    organization_delete(organization=vault.organization)
    with pytest.raises(CommandError, match=r"newer OPAA \(migrations unknown here: search.0999"):
        call_command("restore", str(newer))
    assert not Organization.objects.filter(slug=vault.organization.slug).exists()
    # An organization's archive is not a whole installation's.
    with pytest.raises(BackupError, match="holds only the organization"):
        backup_restore(archive=archive, storage=FileSystemStorage(location=tmp_path / "m"))
    with pytest.raises(CommandError, match="There is no organization 'nobody'"):
        call_command("backup", str(tmp_path), "--organization", "nobody")


def test_one_organization_through_s3(s3_storage, vault):
    _upload(api_client(vault, "val@vault.example"), "handbook.md", HANDBOOK)  # into S3
    before = _documents(vault.schema)
    slug = vault.organization.slug
    call_command(
        "backup", "--organization", slug, "--to", f"s3://{s3_storage.name}/nightly",
        stdout=StringIO(),
    )  # fmt: skip
    [key] = s3_storage.keys("nightly/")
    assert key.startswith(f"nightly/opaa-backup-org-{slug}-")
    organization_delete(organization=vault.organization)
    assert s3_storage.keys(f"org/{vault.schema}/") == []

    call_command(
        "restore", "--from", f"s3://{s3_storage.name}/nightly", "--organization", slug,
        stdout=StringIO(),
    )  # fmt: skip
    assert _documents(vault.schema) == before
    assert s3_storage.keys(f"org/{vault.schema}/") == [before[0][2]]
    assert hashlib.sha256(s3_storage.read(before[0][2])).hexdigest() == before[0][1]


def test_a_whole_installation_restores_as_a_schema_owner_that_is_no_superuser(
    vault, fresh_postgres, tmp_path
):
    """As in production: an administrator made the database, its owner and the vector
    extension; the restore then runs as that owner (which may not comment extensions)."""
    _upload(api_client(vault, "val@vault.example"), "handbook.md", HANDBOOK)
    result = backup_create(destination=tmp_path)
    _, socket_dir, _ = fresh_postgres
    with psycopg.connect(
        host=socket_dir, user="postgres", dbname="postgres", autocommit=True
    ) as db:
        db.execute("CREATE ROLE restorer LOGIN NOSUPERUSER NOCREATEROLE")
        db.execute("CREATE DATABASE owned OWNER restorer")
    with psycopg.connect(host=socket_dir, user="postgres", dbname="owned", autocommit=True) as db:
        db.execute("CREATE EXTENSION vector")
    url = f"postgres://restorer@{quote(socket_dir, safe='')}/owned"
    backup_restore(
        archive=result.path,
        database=Database.from_url(url),
        storage=FileSystemStorage(location=tmp_path / "media"),
        keep_owners=False,
    )
    with psycopg.connect(host=socket_dir, user="postgres", dbname="owned") as db:
        owners = db.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = %s", [vault.schema]
        ).fetchall()
        titles = db.execute(
            f'SELECT title FROM "{vault.schema}".ingestion_document'  # noqa: S608
        ).fetchall()
    assert owners == [("restorer",)]
    assert titles == [("Handbook",)]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"slug": "acme", "schema": 'acme"; DROP SCHEMA public; --'}, "invalid schema"),
        ({"slug": "acme", "schema": "public"}, "invalid schema"),
        ({"slug": "../acme", "schema": "acme"}, "not an organization slug"),
        ({"slug": "acme", "schema": "spare_1", "status": "spare"}, "spare schema"),
    ],
)
def test_an_archive_naming_a_bad_slug_or_schema_is_refused(record, message):
    from opaa.backup_organization import organization_record

    manifest = {
        "scope": "organization",
        "organizations": [{"status": "active", "domains": [], **record}],
    }
    with pytest.raises(BackupError, match=message):
        organization_record(manifest, None)
