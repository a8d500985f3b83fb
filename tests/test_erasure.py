"""Erasure (GDPR): deleting a document, a source, a user or a whole organization leaves
nothing behind — every table of the schema, the storage prefix (local disk and S3) and
Redis are searched for what was deleted.
"""

from __future__ import annotations

import json
import uuid

import pytest
import redis
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django_redis import get_redis_connection
from django_tenants.utils import schema_context

from accounts.models import ApiToken, AuditEvent, User
from infra.organization_residue import organization_keys
from ingestion.models import Chunk, Document, Source, SyncRun
from ingestion.storage import objects_under, organization_prefix
from ingestion.sync import source_sync
from opaa.actions.erasure import user_erase
from opaa.celery import app
from search.erasure import ERASED_ANSWER
from search.models import Conversation, Feedback, Question, SourceFeedback
from tenants.models import Domain, Organization
from tenants.services import organization_create, organization_delete
from tests.conftest import (
    PASSWORD,
    api_client,
    filesystem_source,
    named_file,
    portal_client,
    postings_of,
    token_client,
)
from workspaces.models import Workspace

SECRET_V1 = "# Zephyrine protocol\n\nThe zephyrine quarantine lasts nine days in bay 7731.\n"
SECRET_V2 = "# Zephyrine protocol\n\nThe zephyrine quarantine now lasts eleven days in bay 7731.\n"
# Searched for as "bay 7731": a bare "7731" also turns up inside random ids (task ids in
# Redis key names, request ids) that have nothing to do with the document.


# --- where traces could hide ------------------------------------------------------------


def rows_mentioning(schema: str, needle: str) -> list[str]:
    """``table.column`` of every row in ``schema`` whose text, JSON or array holds ``needle``."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT table_name, column_name FROM information_schema.columns
             WHERE table_schema = %s
               AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'ARRAY')
            """,
            [schema],
        )
        columns = cursor.fetchall()
        found = []
        for table, column in columns:
            cursor.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" '  # noqa: S608 - catalog names
                f'WHERE strpos(lower("{column}"::text), lower(%s)) > 0',
                [needle],
            )
            if cursor.fetchone()[0]:
                found.append(f"{table}.{column}")
    return found


def rows_with_id(schema: str, table: str, column: str, ids: list[int]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}" = ANY(%s)',  # noqa: S608
            [ids],
        )
        return cursor.fetchone()[0]


def redis_mentioning(needle: str) -> list[str]:
    """Every Redis key whose name or (string) value holds ``needle``."""
    client = get_redis_connection("default")
    wanted = needle.lower().encode()
    found = []
    for key in client.scan_iter(count=1000):
        value = client.get(key) if client.type(key) == b"string" else b""
        if wanted in key.lower() or wanted in (value or b"").lower():
            found.append(key.decode())
    return found


def stored_keys(schema: str) -> list[str]:
    return objects_under(organization_prefix(schema))


@pytest.fixture
def new_version(django_capture_on_commit_callbacks):
    """Upload new content under an uploaded file's name (indexed at once)."""

    def upload(client, name: str, data: bytes) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/v1/documents", {"file": named_file(name, data)}, format="multipart"
            )
        assert response.status_code == 200, response.content
        return response.json()

    return upload


# --- documents ---------------------------------------------------------------------------


def test_deleting_a_document_leaves_no_trace(
    acme, alice_api, upload_indexed, new_version, django_capture_on_commit_callbacks
):
    first = upload_indexed(alice_api, "zephyrine.md", SECRET_V1.encode())
    v1_key = Document.objects.get(pk=first["id"]).storage_key
    second = new_version(alice_api, "zephyrine.md", SECRET_V2.encode())
    assert second["outcome"] == "new_version"
    assert second["id"] == first["id"]
    document = Document.objects.get(pk=first["id"])
    v2_key = document.storage_key
    chunk_ids = list(document.chunks.values_list("pk", flat=True))
    assert postings_of(acme.schema, chunk_ids) > 0

    with django_capture_on_commit_callbacks(execute=True):
        asked = alice_api.post("/api/v1/ask", {"question": "How long is the quarantine?"}).json()
    assert "7731" in asked["answer"]
    assert asked["citations"][0]["document_id"] == document.pk
    alice = User.objects.get(email="alice@acme.example")
    SourceFeedback.objects.create(
        question_id=asked["id"], user=alice, citation_number=1, document_id=document.pk,
        reason="wrong",
    )  # fmt: skip
    assert redis_mentioning("bay 7731"), "the answer should be cached before the deletion"

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.delete(f"/api/v1/documents/{document.pk}")
    assert response.status_code == 204

    for needle in ("zephyrine", "bay 7731"):
        assert rows_mentioning(acme.schema, needle) == [], needle
        assert redis_mentioning(needle) == [], needle
    assert not Document.objects.filter(pk=document.pk).exists()
    assert rows_with_id(acme.schema, "ingestion_chunk", "id", chunk_ids) == 0
    assert postings_of(acme.schema, chunk_ids) == 0
    assert not SourceFeedback.objects.filter(document_id=document.pk).exists()
    assert v1_key not in stored_keys(acme.schema)
    assert v2_key not in stored_keys(acme.schema)
    # The question stays (a person asked it); the answer made of the document does not.
    question = Question.objects.get(pk=asked["id"])
    assert question.answer == ERASED_ANSWER
    assert question.citations == []
    # The audit log keeps that it happened, by whom, to which id: not what it was called.
    events = AuditEvent.objects.filter(target_type="document", target_id=str(document.pk))
    assert {"document.uploaded", "document.deleted"} <= set(events.values_list("action", flat=True))


def test_deleting_a_workspace_in_the_admin_erases_its_documents_and_originals(
    acme, alice_api, alice_portal, upload_indexed, django_capture_on_commit_callbacks
):
    projects = Workspace.objects.create(name="Projects", slug="projects")
    first = upload_indexed(alice_api, "zephyrine.md", SECRET_V1.encode(), workspace="projects")
    second = upload_indexed(
        alice_api, "other.md", b"# Other\n\nBay 7731 again.\n", workspace="projects"
    )
    keys = set(Document.objects.filter(workspace=projects).values_list("storage_key", flat=True))
    assert keys <= set(stored_keys(acme.schema))
    assert len(keys) == 2

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_portal.post(
            f"/admin/workspaces/workspace/{projects.pk}/delete/", {"post": "yes"}
        )
    assert response.status_code == 302
    assert not Workspace.objects.filter(pk=projects.pk).exists()
    assert not Document.objects.filter(pk__in=[first["id"], second["id"]]).exists()
    assert keys.isdisjoint(stored_keys(acme.schema))
    for needle in ("zephyrine", "bay 7731"):
        assert rows_mentioning(acme.schema, needle) == [], needle

    # The default workspace cannot be deleted, alone or in a bulk deletion.
    default = Workspace.objects.get(is_default=True)
    assert alice_portal.get(f"/admin/workspaces/workspace/{default.pk}/delete/").status_code == 403
    alice_portal.post(
        "/admin/workspaces/workspace/",
        {"action": "delete_selected", "_selected_action": [default.pk], "post": "yes"},
    )
    assert Workspace.objects.filter(pk=default.pk).exists()


def test_only_editors_of_its_workspace_may_delete_a_document(
    acme, alice_api, carol_api, upload_indexed, world
):
    document = upload_indexed(alice_api, "plan.md", b"# Plan\n\nThe plan is to ship.\n")
    assert carol_api.delete(f"/api/v1/documents/{document['id']}").status_code == 404
    connection.set_tenant(world.acme.organization)
    assert Document.objects.filter(pk=document["id"]).exists()


def test_erasing_on_s3_removes_every_version(
    acme,
    alice_api,
    upload_indexed,
    new_version,
    s3_storage,
    django_capture_on_commit_callbacks,
):
    s3_storage.client.put_bucket_versioning(
        Bucket=s3_storage.name, VersioningConfiguration={"Status": "Enabled"}
    )
    first = upload_indexed(alice_api, "zephyrine.md", SECRET_V1.encode())
    new_version(alice_api, "zephyrine.md", SECRET_V2.encode())
    versions = s3_storage.client.list_object_versions(
        Bucket=s3_storage.name, Prefix=organization_prefix(acme.schema)
    )
    assert versions.get("Versions")  # objects (and the replaced one's history) are there
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/api/v1/documents/{first['id']}").status_code == 204
    versions = s3_storage.client.list_object_versions(
        Bucket=s3_storage.name, Prefix=organization_prefix(acme.schema)
    )
    assert versions.get("Versions", []) == []
    assert versions.get("DeleteMarkers", []) == []


# --- sources -----------------------------------------------------------------------------


@pytest.fixture
def synced_source(acme, tmp_path, django_capture_on_commit_callbacks):
    root = tmp_path / "share"
    root.mkdir()
    (root / "zephyrine.md").write_text(SECRET_V1)
    (root / "orchid.txt").write_text("The orchid budget 7731 covers travel.\n")
    source = filesystem_source(root)
    with django_capture_on_commit_callbacks(execute=True):
        source_sync(source_id=source.pk)
    assert source.documents.count() == 2
    return source


def test_deleting_a_source_erases_its_documents(
    acme, synced_source, alice_api, bob_api, django_capture_on_commit_callbacks
):
    source = synced_source
    keys = list(source.documents.values_list("storage_key", flat=True))
    document_ids = list(source.documents.values_list("pk", flat=True))
    assert bob_api.delete(f"/api/v1/sources/{source.pk}").status_code == 404  # not his

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.delete(f"/api/v1/sources/{source.pk}")
    assert response.status_code == 204

    assert not Source.objects.filter(pk=source.pk).exists()
    assert not SyncRun.objects.filter(source_id=source.pk).exists()
    assert not Document.objects.filter(pk__in=document_ids).exists()
    assert not Chunk.objects.filter(document_id__in=document_ids).exists()
    assert rows_mentioning(acme.schema, "7731") == []
    assert rows_mentioning(acme.schema, "zephyrine") == []
    assert not set(keys) & set(stored_keys(acme.schema))
    assert AuditEvent.objects.filter(action="source.deleted", target_id=str(source.pk)).exists()


def test_a_source_is_deleted_from_the_portal_by_its_admin(
    acme, synced_source, alice_portal, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_portal.post(f"/sources/{synced_source.pk}/delete")
    assert response.status_code == 302
    assert not Source.objects.filter(pk=synced_source.pk).exists()
    assert not Document.objects.filter(synced_from_id=synced_source.pk).exists()


# --- users -------------------------------------------------------------------------------


def test_erasing_a_user_leaves_only_a_pseudonym(
    acme, world, make_token, django_capture_on_commit_callbacks, upload_indexed, alice_api
):
    travel = upload_indexed(alice_api, "travel.md", b"# Travel\n\nThe travel budget is set.\n")
    named = ["user:bob@acme.example", "group:staff"]  # as a source's permissions say
    Document.objects.filter(pk=travel["id"]).update(readers=named)
    Chunk.objects.filter(document_id=travel["id"]).update(readers=named)
    bob = User.objects.get(email="bob@acme.example")
    secret = make_token(world.acme, "bob@acme.example")
    bob_token = token_client(world.acme, secret)
    bob_portal = portal_client(world.acme, "bob@acme.example")
    assert bob_portal.get("/documents/").status_code == 200
    connection.set_tenant(world.acme.organization)
    conversation = Conversation.objects.create(
        workspace=Workspace.objects.get(slug="sales"), owner=bob, title="Orchid budget"
    )
    with django_capture_on_commit_callbacks(execute=True):
        asked = bob_token.post(
            "/api/v1/ask?workspace=sales",
            {"question": "Does the orchid budget cover travel?", "conversation": conversation.pk},
            format="json",
        )
    assert asked.status_code == 200, asked.content
    connection.set_tenant(world.acme.organization)
    Feedback.objects.create(question_id=asked.json()["id"], user=bob, helpful=False)
    token = ApiToken.objects.get(user=bob)
    assert redis_mentioning(token.digest[:32])  # its last-used gate lives in Redis

    bob_id = bob.pk
    with django_capture_on_commit_callbacks(execute=True):
        pseudonym = user_erase(user=bob)

    assert not User.objects.filter(email="bob@acme.example").exists()
    for needle in ("bob@acme.example", "orchid"):
        assert rows_mentioning(world.acme.schema, needle) == [], needle
        assert redis_mentioning(needle) == [], needle
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert redis_mentioning(token.digest[:32]) == []
    assert not any(
        s.get_decoded().get("_auth_user_id") == str(bob_id) for s in Session.objects.all()
    )
    assert bob_portal.get("/documents/").status_code == 302  # signed out everywhere
    assert bob_token.get("/api/v1/documents").status_code == 401
    # Where bob was a reader, a stand-in that matches nobody keeps the list from
    # becoming empty (which would mean "every member").
    stand_in = f"user:{pseudonym}@erased.invalid"
    assert Document.objects.get(pk=travel["id"]).readers == [stand_in, "group:staff"]
    chunk_readers = Chunk.objects.filter(document_id=travel["id"]).values_list("readers", flat=True)
    assert chunk_readers
    assert all(readers == [stand_in, "group:staff"] for readers in chunk_readers)
    # Their events remain, under a pseudonym, without address or browser.
    events = AuditEvent.objects.filter(actor_user_id=bob_id)
    assert events.filter(action="token.used").exists()
    assert set(events.values_list("actor_email", flat=True)) == {pseudonym}
    assert set(events.values_list("ip", flat=True)) == {None}
    erased = AuditEvent.objects.get(action="user.erased", target_id=str(bob_id))
    assert erased.extra == {"pseudonym": pseudonym}
    # The pseudonym is stable and says nothing about the person.
    assert pseudonym.startswith("erased-")
    assert "bob" not in pseudonym


def test_the_only_owner_cannot_be_erased(acme):
    alice = User.objects.get(email="alice@acme.example")
    with pytest.raises(ValidationError):
        user_erase(user=alice)
    assert User.objects.filter(pk=alice.pk).exists()


def test_the_audit_log_still_refuses_other_changes(acme):
    from django.db import DatabaseError, transaction

    from accounts.audit import AuditAction, AuditContext, audit_record

    alice = User.objects.get(email="alice@acme.example")
    event = audit_record(action=AuditAction.SEARCH, context=AuditContext(user_id=alice.pk))
    rewrite = "UPDATE accounts_auditevent SET action = 'x' WHERE id = %s"
    blank = "UPDATE accounts_auditevent SET actor_email = '' WHERE id = %s"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('opaa.audit_erasure', 'on', true)")
        # Even during an erasure, what happened cannot be rewritten...
        with pytest.raises(DatabaseError), transaction.atomic():
            cursor.execute(rewrite, [event.pk])
        # ... and rows cannot be deleted.
        with pytest.raises(DatabaseError), transaction.atomic():
            cursor.execute("DELETE FROM accounts_auditevent WHERE id = %s", [event.pk])
        cursor.execute("SELECT set_config('opaa.audit_erasure', 'off', true)")
        # Outside an erasure, not even who did it may change.
        with pytest.raises(DatabaseError), transaction.atomic():
            cursor.execute(blank, [event.pk])


def test_erase_user_command(acme, world, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import CommandError, call_command

    User.objects.create_user("dave@acme.example", PASSWORD)
    connection.set_schema_to_public()
    with pytest.raises(CommandError, match="--yes"):
        call_command("erase_user", "acme", "dave@acme.example")
    with pytest.raises(CommandError, match="No user"):
        call_command("erase_user", "acme", "nobody@acme.example", "--yes")
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("erase_user", "acme", "dave@acme.example", "--yes", stdout=out)
    assert "erased-" in out.getvalue()
    with schema_context(world.acme.schema):
        assert not User.objects.filter(email="dave@acme.example").exists()


# --- organizations -----------------------------------------------------------------------


@pytest.fixture
def doomed(django_db_setup, django_db_blocker):
    """A committed organization with a document, an answer, a token and a queued task."""
    slug = f"doomed-{uuid.uuid4().hex[:6]}"
    with django_db_blocker.unblock():
        created = organization_create(
            name="Doomed", slug=slug, owner_email="dora@doomed.example", owner_password=PASSWORD
        )
        organization = created.organization
        try:
            yield organization
        finally:
            connection.set_schema_to_public()
            if Organization.objects.filter(pk=organization.pk).exists():
                organization_delete(organization=organization)


def _fill(organization: Organization) -> None:
    from tests.conftest import Org

    org = Org(
        organization, domain=f"{organization.slug}.localhost", schema=organization.schema_name
    )
    client = api_client(org, "dora@doomed.example")
    upload = client.post(
        "/api/v1/documents", {"file": named_file("zephyrine.md", SECRET_V1.encode())},
        format="multipart",
    )  # fmt: skip
    assert upload.status_code == 201, upload.content
    assert (
        client.post("/api/v1/ask", {"question": "How long is the quarantine?"}).status_code == 200
    )
    # A signed-in page view and a password sign-in attempt leave sessions and counters.
    Client(HTTP_HOST=org.domain).post(
        "/accounts/login/", {"username": "dora@doomed.example", "password": "wrong"}
    )


def _held_queue(settings_fixture) -> str:
    """A queue no worker consumes, so queued messages wait there to be inspected."""
    queue = f"erasure-held-{uuid.uuid4().hex[:6]}"
    settings_fixture.CELERY_TASK_ROUTES = {
        **settings.CELERY_TASK_ROUTES,
        "erasure.held": {"queue": queue},
    }
    return queue


def _queued_schemas(queue: str) -> list[str]:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return [json.loads(raw)["headers"]["_schema_name"] for raw in broker.lrange(queue, 0, -1)]


def test_deleting_an_organization_leaves_nothing(doomed, world, settings):
    schema = doomed.schema_name
    _fill(doomed)
    queue = _held_queue(settings)
    for name in (schema, world.acme.schema):
        with schema_context(name):
            app.send_task("ingestion.tasks.index_document", args=[1], queue=queue)
    assert sorted(_queued_schemas(queue)) == sorted([schema, world.acme.schema])
    assert stored_keys(schema), "the document's original should be stored"
    assert organization_keys(schema), "the answer should be cached"

    organization_id = doomed.pk
    client = get_redis_connection("default")
    client.set(f"opaa:quota:{organization_id}:questions:20261127", 1)
    # The indexing queue's marks and an embedding provider's failure, as left by an
    # organization deleted while documents wait (ingestion.enqueue, embedding_failure).
    client.set(f"opaa:index-queued:{schema}:1", 1)
    client.zadd(f"opaa:index-queued-set:{schema}", {"1": 1})
    client.set(f"opaa:embed-failing:{schema}", "endpoint answered HTTP 500")
    connection.set_schema_to_public()
    counts = organization_delete(organization=doomed)

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [schema])
        assert cursor.fetchone() is None
    assert not Organization.objects.filter(schema_name=schema).exists()
    assert not Domain.objects.filter(domain__startswith=f"{doomed.slug}.").exists()
    assert stored_keys(schema) == []
    assert not default_storage.exists(organization_prefix(schema).rstrip("/"))
    client = get_redis_connection("default")
    leftovers = [
        k.decode() for k in client.scan_iter(count=1000)
        if f":{schema}:" in k.decode() or k.decode().endswith(f":{schema}")
    ]  # fmt: skip
    assert leftovers == []
    assert not list(client.scan_iter(match=f"opaa:quota:{organization_id}:*"))
    assert _queued_schemas(queue) == [world.acme.schema]  # only the other organization's
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue)
    assert counts["objects"] >= 1
    assert counts["tasks"] == 1
    event = AuditEvent.objects.get(action="organization.deleted", target_id=doomed.slug)
    assert event.organization == "public"


def test_deleting_an_organization_on_s3(doomed, s3_storage):
    s3_storage.client.put_bucket_versioning(
        Bucket=s3_storage.name, VersioningConfiguration={"Status": "Enabled"}
    )
    _fill(doomed)
    prefix = organization_prefix(doomed.schema_name)
    assert s3_storage.keys(prefix)
    connection.set_schema_to_public()
    organization_delete(organization=doomed)
    versions = s3_storage.client.list_object_versions(Bucket=s3_storage.name, Prefix=prefix)
    assert versions.get("Versions", []) == []
    assert versions.get("DeleteMarkers", []) == []


def test_an_organization_is_deleted_although_a_task_was_writing_to_it(doomed):
    """A task of the organization still in a transaction when its schema is dropped (it
    started before the queued tasks were removed): the drop waits for the task's table
    while holding the schema, the task then needs the schema, and Postgres ends the drop
    as a deadlock. The deletion tries again once the task is done, and succeeds (before,
    it failed: the owner saw an error and had to delete once more)."""
    import threading
    import time

    import psycopg
    from psycopg import sql

    schema = doomed.schema_name
    name = sql.Identifier(schema)
    connection.set_schema_to_public()
    # As the schemas' owner, who may create tables in it (a migration, say).
    owner = settings.DATABASES["default"]["OWNER"]
    task = psycopg.connect(
        **{
            **connection.get_connection_params(),
            "user": owner["USER"],
            "password": owner.get("PASSWORD") or None,
        }
    )
    outcome: dict = {}

    def delete() -> None:
        try:
            outcome["counts"] = organization_delete(organization=doomed)
        except Exception as exc:  # reported below
            outcome["error"] = exc
        finally:
            connection.close()

    try:
        # The task reads the organization's users and keeps its transaction open.
        task.execute(sql.SQL("SELECT count(*) FROM {}.accounts_user").format(name)).fetchone()
        deleting = threading.Thread(target=delete)
        deleting.start()
        deadline = time.monotonic() + 30
        while not task.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]:
            assert time.monotonic() < deadline, "the drop never waited for the task"
            time.sleep(0.01)
        # Then it writes to the schema: it waits for the drop, which waits for it.
        task.execute(sql.SQL("CREATE TABLE {}.task_scratch (id int)").format(name))
        task.rollback()
        deleting.join(timeout=60)
    finally:
        task.close()
    assert "error" not in outcome, outcome
    assert not Organization.objects.filter(pk=doomed.pk).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [schema])
        assert cursor.fetchone() is None


def test_only_the_owner_deletes_the_organization_and_must_confirm(doomed, world):
    from tests.conftest import Org

    org = Org(doomed, domain=f"{doomed.slug}.localhost", schema=doomed.schema_name)
    with schema_context(doomed.schema_name):
        workspace = Workspace.objects.get(is_default=True)
        erin = User.objects.create_user("erin@doomed.example", PASSWORD)
        workspace.memberships.create(user=erin, role="admin")
    erin_api = api_client(org, "erin@doomed.example")
    assert erin_api.delete("/api/v1/organization", {"confirm": doomed.slug}).status_code == 403
    dora_api = api_client(org, "dora@doomed.example")
    refused = dora_api.delete("/api/v1/organization", {"confirm": "wrong"}, format="json")
    assert refused.status_code == 400
    assert "confirm" in refused.json()
    assert carol_cannot_reach(world, doomed)
    dora = portal_client(org, "dora@doomed.example")
    assert "/organization/delete" in dora.get("/usage/").content.decode()  # found from here
    page = dora.get("/organization/delete")
    assert page.status_code == 200
    assert doomed.slug in page.content.decode()
    assert dora.post("/organization/delete", {"confirm": "nope"}).status_code == 400
    connection.set_schema_to_public()
    assert Organization.objects.filter(pk=doomed.pk).exists()
    done = dora_api.delete("/api/v1/organization", {"confirm": doomed.slug}, format="json")
    assert done.status_code == 204
    connection.set_schema_to_public()
    assert not Organization.objects.filter(pk=doomed.pk).exists()


def carol_cannot_reach(world, doomed) -> bool:
    """Carol (Globex) cannot delete Doomed: her session is not valid on its domain."""
    client = Client(HTTP_HOST=f"{doomed.slug}.localhost")
    with schema_context(world.globex.schema):
        client.force_login(User.objects.get(email="carol@globex.example"))
    response = client.delete("/api/v1/organization", data=json.dumps({"confirm": doomed.slug}))
    return response.status_code in (401, 403)


def test_delete_organization_command(doomed):
    from io import StringIO

    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--yes"):
        call_command("delete_organization", doomed.slug)
    with pytest.raises(CommandError, match="No organization"):
        call_command("delete_organization", "no-such-org", "--yes")
    out = StringIO()
    call_command("delete_organization", doomed.slug, "--yes", stdout=out)
    assert "Deleted" in out.getvalue()
    assert not Organization.objects.filter(pk=doomed.pk).exists()
