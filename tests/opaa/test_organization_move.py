"""Moving an organization to another Postgres cluster (opaa.organization_move): a second
embedded Postgres is the other cell; the moved organization answers there, from the
shared storage, with the same cited answer it gave here."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

import opaa.organization_move as moving
from opaa.embedded import postgres_server, postgres_start
from opaa.organization_move import MOVED_REASON, MOVING_REASON, Cluster, cluster_bound
from opaa.settings.env import DATA_DIR
from tenants.models import Organization
from tests.conftest import api_client
from tests.opaa.test_backup import (
    HANDBOOK,
    _upload,
    shell_json,
    vault,  # noqa: F401 - the fixture
)

QUESTION = "Where are the spare keys kept?"


@dataclass(frozen=True)
class Cell:
    url: str
    owner_url: str
    socket_dir: str

    def args(self) -> list[str]:
        return ["--to", self.url, "--to-owner", self.owner_url, "--to-name", "cell-2"]

    def rows(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(
            host=self.socket_dir, user="postgres", dbname="opaa_cell", autocommit=True
        ) as db:
            cursor = db.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(scope="module")
def cell(django_db_setup, django_db_blocker):
    """A second embedded Postgres holding a migrated, empty OPAA database: another cell."""
    # Under the data directory (its superuser is what the backup tools use there), with a
    # short path (a Unix socket's path may not exceed about 100 characters).
    root = Path(tempfile.mkdtemp(prefix="cell-", dir=DATA_DIR))
    url, owner_url = postgres_start(root / "pg", database="opaa_cell")
    server = postgres_server(root / "pg")
    created = Cell(url, owner_url, str(server.get_postmaster_info().socket_dir))
    try:
        with django_db_blocker.unblock(), cluster_bound(Cluster(url, owner_url)):
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        yield created
    finally:
        connection.set_schema_to_public()
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _ask(org, email="val@vault.example") -> dict:
    response = api_client(org, email).post("/api/v1/ask", {"question": QUESTION})
    assert response.status_code == 200, response.content
    return response.json()


def _ask_in_cell(cell: Cell, org) -> dict:
    """Ask through the API in a separate process that is the other cell: its database
    (as its application role), the shared storage and Redis; the organization found by
    its domain there."""
    code = f"""
import json
from django_tenants.utils import schema_context
from rest_framework.test import APIClient
from accounts.models import User
client = APIClient(HTTP_HOST={org.domain!r})
with schema_context({org.schema!r}):
    client.force_authenticate(User.objects.get(email="val@vault.example"))
response = client.post("/api/v1/ask", {{"question": {QUESTION!r}}})
print(json.dumps({{"status": response.status_code, **response.json()}}))
"""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "opaa.settings.test",
        "DATABASE_URL": cell.url,
        "DATABASE_OWNER_URL": cell.owner_url,
        "MEDIA_ROOT": str(default_storage.location),
        "REDIS_URL": settings.REDIS_URL,
        "ANSWER_CACHE_TTL_S": "0",
        "LLM_API_BASE": "",
    }
    return shell_json(code, env)


def _move(cell: Cell, slug: str, *extra: str) -> str:
    out = StringIO()
    call_command("move_organization", slug, *cell.args(), *extra, stdout=out)
    return out.getvalue()


def _status(slug: str) -> tuple[str, str]:
    organization = Organization.objects.get(slug=slug)
    return organization.status, organization.suspension_reason


def test_an_organization_moves_to_another_cluster_and_answers_there(vault, cell, monkeypatch):  # noqa: F811
    slug, schema = vault.organization.slug, vault.schema
    handbook = _upload(api_client(vault, "val@vault.example"), "handbook.md", HANDBOOK)
    here = _ask(vault)
    assert "safe 12" in here["answer"]

    # A crash after the copy, before the verification: the organization stays suspended
    # here, the target holds a suspended copy; --abort puts everything back.
    def crash(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(moving, "_verify", crash)
    with pytest.raises(RuntimeError, match="killed"):
        _move(cell, slug)
    monkeypatch.undo()
    assert _status(slug) == ("suspended", MOVING_REASON)
    copy = "SELECT status FROM public.tenants_organization WHERE slug = %s"
    assert cell.rows(copy, [slug]) == [("suspended",)]
    aborted = StringIO()
    call_command("move_organization", slug, *cell.args(), "--abort", stdout=aborted)
    assert "removed the target's copy" in aborted.getvalue()
    assert _status(slug) == ("active", "")
    assert cell.rows(copy, [slug]) == []
    assert cell.rows("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]) == []

    # Crash again after the copy, and the copy loses rows meanwhile; then simply run the
    # move again: the copy it finds does not verify, so it is removed and made again.
    monkeypatch.setattr(moving, "_verify", crash)
    with pytest.raises(RuntimeError):
        _move(cell, slug)
    monkeypatch.undo()
    cell.rows(
        f'DELETE FROM "{schema}".ingestion_posting_list WHERE ctid IN '  # noqa: S608
        f'(SELECT ctid FROM "{schema}".ingestion_posting_list LIMIT 3)'
    )
    out = _move(cell, slug)
    assert f"Moved {slug} (schema {schema}) to cell-2: verify, copy, verify, switch;" in out
    assert f"Route its domains to the target cell now: {vault.domain}" in out
    assert _status(slug) == ("suspended", MOVED_REASON.format(target="cell-2"))
    assert cell.rows(copy, [slug]) == [("active",)]
    assert (
        cell.rows(
            f'SELECT count(*) FROM "{schema}".ingestion_chunk WHERE embedding IS NOT NULL'  # noqa: S608
        )[0][0]
        > 0
    )
    # Owned by the target's schema owner, readable by its application role.
    assert cell.rows(
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = %s", [schema]
    ) == [("opaa_owner",)]

    # The other cell's own process answers the same question with the same citation,
    # its original read from the shared storage.
    there = _ask_in_cell(cell, vault)
    assert there["status"] == 200, there
    assert there["answer"] == here["answer"]
    assert [c["document_id"] for c in there["citations"]] == [
        c["document_id"] for c in here["citations"]
    ]
    assert there["citations"][0]["document_id"] == handbook["id"]

    # Here it answers no more: suspended, with where it went.
    response = api_client(vault, "val@vault.example").post("/api/v1/ask", {"question": QUESTION})
    assert response.status_code == 403

    assert "was moved to cell-2 already" in _move(cell, slug)
    key = cell.rows(f'SELECT storage_key FROM "{schema}".ingestion_document')[0][0]  # noqa: S608
    _move(cell, slug, "--drop-source")
    assert not Organization.objects.filter(slug=slug).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        assert cursor.fetchone() is None
    assert default_storage.exists(key)  # the target cell's original, untouched


def test_a_move_refuses_bad_input_and_changes_nothing(vault, cell):  # noqa: F811
    slug = vault.organization.slug
    with pytest.raises(CommandError, match="There is no organization 'nobody'"):
        _move(cell, "nobody")
    with pytest.raises(CommandError, match="must start with postgres://"):
        call_command("move_organization", slug, "--to", "mysql://u:secret@h/db")
    with pytest.raises(CommandError, match="must start with postgres://"):
        call_command("move_organization", slug, "--to", "not a url")
    with pytest.raises(CommandError, match="Give the target's database"):
        call_command("move_organization", slug)
    with pytest.raises(CommandError, match="has not been moved"):
        _move(cell, slug, "--drop-source")
    with pytest.raises(CommandError, match="is not being moved"):
        _move(cell, slug, "--abort")
    own = settings.DATABASES["default"]
    itself = f"postgres://postgres@{quote(own['HOST'], safe='')}/{own['NAME']}"
    with pytest.raises(CommandError, match="The target is this installation's own"):
        call_command("move_organization", slug, "--to", itself)
    cell.rows("DROP DATABASE IF EXISTS opaa_unmigrated")
    cell.rows("CREATE DATABASE opaa_unmigrated")
    unmigrated = cell.url.rsplit("/", 1)[0].replace("opaa_app@", "postgres@") + "/opaa_unmigrated"
    with pytest.raises(CommandError, match="not migrated to this version"):
        call_command("move_organization", slug, "--to", unmigrated)
    unreachable = "postgres://opaa_app:secret@%2Fnonexistent/opaa"
    with pytest.raises(CommandError, match="Could not connect") as refused:
        call_command("move_organization", slug, "--to", unreachable)
    assert "secret" not in str(refused.value)
    assert _status(slug) == ("active", "")
