"""Row-level security between workspaces: the database itself keeps them apart.

Everything here talks to Postgres through the application's own connection and role,
so a missing queryset filter, a raw SQL query or a forged scope is caught by the
policies, not by Python.
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from ingestion.models import Chunk, Document
from workspaces.models import Membership, Role, Workspace
from workspaces.rls import (
    no_scope,
    organization_scope,
    schema_owner_connection,
    workspaces_scope,
)
from workspaces.rls.policies import tables_unprotected
from workspaces.rls.scope import ScopeTampering

from .conftest import named_file

GENERAL_CANARY = b"# Merger\n\nThe zanzibar merger closes on the first of March.\n"
SALES_NOTE = b"# Pipeline\n\nThe zanzibar account renews in spring; pipeline review on Friday.\n"


def _rows(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@pytest.fixture
def two_workspaces(acme, alice_api, upload_indexed):
    """A canary document in General (bob is no member) and a note in Sales (bob's)."""
    general = upload_indexed(alice_api, "merger.md", GENERAL_CANARY)
    sales = upload_indexed(alice_api, "pipeline.md", SALES_NOTE, workspace="sales")
    return {
        "general": Workspace.objects.get(slug="general"),
        "sales": Workspace.objects.get(slug="sales"),
        "canary_id": general["id"],
        "sales_doc_id": sales["id"],
    }


def test_raw_sql_sees_only_the_scope_workspaces(two_workspaces):
    general, sales = two_workspaces["general"], two_workspaces["sales"]
    with organization_scope():
        assert {w for (w,) in _rows("SELECT DISTINCT workspace_id FROM ingestion_chunk")} == {
            general.pk,
            sales.pk,
        }
    with workspaces_scope([sales.pk]):
        assert _rows("SELECT DISTINCT workspace_id FROM ingestion_document") == [(sales.pk,)]
        assert _rows("SELECT DISTINCT workspace_id FROM ingestion_chunk") == [(sales.pk,)]
        # Asking for the other workspace by id does not help.
        assert (
            _rows("SELECT id FROM ingestion_document WHERE id = %s", [two_workspaces["canary_id"]])
            == []
        )
        # Nor does the ORM without a filter.
        assert set(Document.objects.values_list("workspace_id", flat=True)) == {sales.pk}
        # Postings (the keyword index) are covered too.
        assert {
            w for (w,) in _rows("SELECT DISTINCT workspace_id FROM ingestion_posting_list")
        } == {sales.pk}


def test_no_scope_means_no_rows(two_workspaces):
    with no_scope():
        assert _rows("SELECT count(*) FROM ingestion_chunk") == [(0,)]
        assert _rows("SELECT count(*) FROM ingestion_document") == [(0,)]
        assert Membership.objects.count() == 0
        # The workspaces themselves are not rows of a workspace: still listed.
        assert Workspace.objects.filter(slug="sales").exists()


def test_writes_outside_the_scope_are_refused(two_workspaces):
    general, sales = two_workspaces["general"], two_workspaces["sales"]
    with workspaces_scope([sales.pk]):
        # Moving a Sales document into General would make it vanish from its scope.
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            _rows(
                "UPDATE ingestion_document SET workspace_id = %s WHERE id = %s RETURNING id",
                [general.pk, two_workspaces["sales_doc_id"]],
            )
        # Rows of General cannot be changed or deleted: they are not there.
        assert Document.objects.filter(pk=two_workspaces["canary_id"]).update(title="pwned") == 0
        assert Chunk.objects.filter(workspace=general).delete()[0] == 0
    with organization_scope():
        assert Chunk.objects.filter(workspace=general).exists()
        assert Document.objects.get(pk=two_workspaces["canary_id"]).title != "pwned"


def test_application_statements_cannot_touch_the_scope_setting(two_workspaces):
    sales = two_workspaces["sales"]
    with workspaces_scope([sales.pk]), transaction.atomic():
        for sql in (
            "SELECT set_config('opaa.workspaces', '1,2,3', true)",
            "SET LOCAL opaa.workspaces = '1,2,3'",
            "SELECT current_setting('OPAA.WORKSPACES')",
        ):
            with pytest.raises(ScopeTampering):
                _rows(sql)
        assert {w for (w,) in _rows("SELECT workspace_id FROM ingestion_chunk")} == {sales.pk}


def test_the_setting_has_no_wildcard(two_workspaces):
    """Below Django: any value is a list of ids; one meaning "all" is an error, not a bypass."""
    with transaction.atomic(), connection.connection.cursor() as raw:
        for forged in ("*", "all", "on", "true", "1 OR true"):
            raw.execute("SAVEPOINT forged")
            raw.execute("SELECT set_config('opaa.workspaces', %s, true)", [forged])
            with pytest.raises(psycopg.errors.InvalidTextRepresentation):
                raw.execute("SELECT count(*) FROM ingestion_chunk")
            raw.execute("ROLLBACK TO SAVEPOINT forged")


def test_the_application_role_cannot_lift_row_level_security(acme):
    owner = settings.DATABASES["default"]["OWNER"]["USER"]
    app = settings.DATABASES["default"]["USER"]
    assert owner != app, "the application must not connect as the schema owner"
    [(user, superuser, bypass)] = _rows(
        "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    assert (user, superuser, bypass) == (app, False, False)
    owners = {
        o
        for (o,) in _rows(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = %s", [acme.schema]
        )
    }
    assert owners == {owner}
    attempts = [
        f"SET ROLE {owner}",
        "SET ROLE postgres",
        "SET SESSION AUTHORIZATION postgres",
        "ALTER TABLE ingestion_chunk DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE ingestion_chunk NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY opaa_workspace_isolation ON ingestion_chunk",
        "CREATE POLICY everything ON ingestion_chunk USING (true)",
        "ALTER TABLE ingestion_chunk OWNER TO opaa_app",
        "TRUNCATE ingestion_chunk",
        "CREATE TABLE ingestion_chunk_copy AS SELECT 1 AS workspace_id",
        f"GRANT {owner} TO {app}",
        f"ALTER ROLE {app} BYPASSRLS",
    ]
    for sql in attempts:
        with pytest.raises(DatabaseError, match=r"denied|must be|permission"), transaction.atomic():
            _rows(sql)
    # Switching row security off makes a policed query fail instead of bypassing it.
    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        _rows("SET LOCAL row_security = off; SELECT count(*) FROM ingestion_chunk")


def test_a_second_workspace_never_reaches_search_even_without_the_filter(
    two_workspaces, world, monkeypatch, alice_api, bob_api
):
    """bob (Sales only) searches with retrieval's workspace and reader filters removed:
    the canary in General still never comes back, because the database hides it."""
    import search.services
    from workspaces.readers import ReaderScope

    every = [two_workspaces["general"].pk, two_workspaces["sales"].pk]
    unfiltered = search.services.hybrid_search

    def filter_removed(text, *, workspace_ids, readers, **kwargs):
        return unfiltered(
            text, workspace_ids=every, readers=ReaderScope.everything(every), **kwargs
        )

    monkeypatch.setattr(search.services, "hybrid_search", filter_removed)

    def found(client, workspace: str) -> set[int]:
        response = client.get("/api/v1/search", {"q": "zanzibar merger", "workspace": workspace})
        assert response.status_code == 200, response.content
        return {hit["document_id"] for hit in response.json()["results"]}

    # The filter really is gone: the owner, whose scope has both, gets both from Sales.
    assert found(alice_api, "sales") == {
        two_workspaces["canary_id"],
        two_workspaces["sales_doc_id"],
    }
    assert found(bob_api, "sales") == {two_workspaces["sales_doc_id"]}


def test_raw_vector_search_in_a_caller_scope_skips_other_workspaces(two_workspaces):
    sales = two_workspaces["sales"]
    with workspaces_scope([sales.pk]):
        nearest = _rows(
            "SELECT document_id FROM ingestion_chunk"
            " ORDER BY embedding <=> (SELECT embedding FROM ingestion_chunk LIMIT 1) LIMIT 50"
        )
    assert nearest
    assert {d for (d,) in nearest} == {two_workspaces["sales_doc_id"]}


def test_a_token_bound_to_one_workspace_reads_only_it_even_for_the_owner(
    two_workspaces, world, make_token, monkeypatch
):
    from .conftest import token_client

    secret = make_token(world.acme, "alice@acme.example", workspaces=["sales"])
    client = token_client(world.acme, secret)
    listed = client.get("/api/v1/documents", {"workspace": "sales"}).json()["results"]
    assert [d["id"] for d in listed] == [two_workspaces["sales_doc_id"]]
    # The General canary by id: 404, and the database was not even asked for a row it
    # could return (the scope excludes it).
    assert client.get(f"/api/v1/documents/{two_workspaces['canary_id']}").status_code == 404


def test_uploads_run_in_the_callers_workspaces(acme, bob_api):
    response = bob_api.post(
        "/api/v1/documents",
        {"file": named_file("note.md", b"# Note\n\nhello\n"), "workspace": "sales"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    # bob is no member of General: a 404, as before, not a database error.
    response = bob_api.post(
        "/api/v1/documents",
        {"file": named_file("note.md", b"# Note\n\nhello\n"), "workspace": "general"},
        format="multipart",
    )
    assert response.status_code == 404


def test_every_table_with_a_workspace_id_has_a_forced_policy(acme, globex):
    assert tables_unprotected(connection) == []
    protected = {
        table
        for (table,) in _rows(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relrowsecurity AND c.relforcerowsecurity",
            [acme.schema],
        )
    }
    assert {
        "ingestion_document",
        "ingestion_chunk",
        "ingestion_source",
        "workspaces_membership",
        "search_conversation",
        "search_question",
        "ingestion_posting_list",
    } <= protected


def test_the_meta_check_finds_an_unprotected_table_and_migrate_fixes_it(committed_org):
    org = committed_org("initech", "bill@initech.example")
    with schema_owner_connection():
        with connection.cursor() as cursor:
            cursor.execute(
                f'CREATE TABLE "{org.schema}".later_notes'
                " (id bigserial PRIMARY KEY, workspace_id bigint NOT NULL)"
            )
        assert f"{org.schema}.later_notes" in tables_unprotected(connection)
    # What a later migration adding such a table gets: the post-migrate step covers it.
    call_command(
        "migrate_schemas", schema_name=org.schema, tenant=True, interactive=False, verbosity=0
    )
    connection.set_schema_to_public()
    assert tables_unprotected(connection) == []
    with schema_context(org.schema), organization_scope():
        general = Workspace.objects.get(slug="general")
        # The application's role may write it, but only rows of the transaction's workspaces
        # (a table no model describes gets no scope from Django: it stays closed).
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            _rows("INSERT INTO later_notes (workspace_id) VALUES (%s) RETURNING id", [general.pk])
        with transaction.atomic():
            with connection.connection.cursor() as raw:  # what workspaces.rls itself does
                raw.execute("SELECT set_config('opaa.workspaces', %s, true)", [str(general.pk)])
            _rows("INSERT INTO later_notes (workspace_id) VALUES (%s) RETURNING id", [general.pk])
            assert _rows("SELECT count(*) FROM later_notes") == [(1,)]
        assert _rows("SELECT count(*) FROM later_notes") == [(0,)]


def _document(workspace: Workspace, name: str) -> Document:
    return Document.objects.create(
        workspace=workspace,
        title=name,
        original_filename=name,
        storage_key=f"rls-test/{name}",
        mime_type="text/markdown",
        size_bytes=1,
        sha256="0" * 64,
    )


def test_a_connection_that_never_set_the_scope_sees_nothing(committed_org):
    """Fail closed below Django: a plain driver connection as the application's role."""
    org = committed_org("hooli", "gavin@hooli.example")
    with schema_context(org.schema), organization_scope():
        workspace = Workspace.objects.get(slug="general")
        _document(workspace, "c.md")
        assert Document.objects.count() == 1
    db = settings.DATABASES["default"]
    params = {"dbname": db["NAME"], "user": db["USER"], "host": db["HOST"]}
    if db.get("PORT"):
        params["port"] = db["PORT"]
    if db.get("PASSWORD"):
        params["password"] = db["PASSWORD"]
    with psycopg.connect(**params, autocommit=True) as raw:
        table = f'"{org.schema}".ingestion_document'
        assert raw.execute("SELECT current_setting('opaa.workspaces', true)").fetchone() == (None,)
        assert raw.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)  # noqa: S608
        raw.execute("SET opaa.workspaces = ''")
        assert raw.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)  # noqa: S608
        raw.execute("SELECT set_config('opaa.workspaces', %s, false)", [str(workspace.pk)])
        assert raw.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)  # noqa: S608


def test_organization_wide_work_lists_the_workspaces_once_per_transaction(committed_org):
    """The list of the organization's workspaces is read at a transaction's first
    statement and kept for the transaction (again once this process creates or deletes
    a workspace in it); a workspace another transaction creates meanwhile is seen from
    the next transaction on, never wider than the organization."""
    org = committed_org("umbrella", "albert@umbrella.example")

    def elsewhere(slug: str) -> None:
        """A workspace and a document in it, made and committed by another connection."""

        def make() -> None:
            try:
                with schema_context(org.schema), organization_scope():
                    _document(Workspace.objects.create(name=slug.title(), slug=slug), slug)
            finally:
                connection.close()

        thread = threading.Thread(target=make)
        thread.start()
        thread.join()

    with schema_context(org.schema), organization_scope():
        with transaction.atomic():
            assert Document.objects.count() == 0
            elsewhere("legal")
            # Listed at the first statement: the new workspace's rows stay out of this
            # transaction (fail closed), though Postgres would show them to the statement.
            assert Document.objects.count() == 0
            assert _rows("SELECT count(*) FROM ingestion_document") == [(0,)]
            # A workspace this transaction creates is listed at once (and the other too).
            _document(Workspace.objects.create(name="Mine", slug="mine"), "mine")
            assert set(Document.objects.values_list("title", flat=True)) == {"legal", "mine"}
            # Deleted: its rows go with it, and the list is read again.
            Workspace.objects.get(slug="mine").delete()
            assert set(Document.objects.values_list("title", flat=True)) == {"legal"}
        with transaction.atomic():
            elsewhere("hr")
            assert set(Document.objects.values_list("title", flat=True)) == {"legal", "hr"}
        # Outside a transaction each statement lists them afresh.
        elsewhere("it")
        assert Document.objects.count() == 3


def test_tasks_see_their_documents_workspace_only(two_workspaces, monkeypatch):
    import ingestion.indexing
    from ingestion.tasks import index_document

    seen = []
    original = ingestion.indexing.document_index

    def spy(*, document_id):
        seen.append(set(Document.objects.values_list("workspace_id", flat=True)))
        return original(document_id=document_id)

    monkeypatch.setattr(ingestion.indexing, "document_index", spy)
    index_document.apply(args=[two_workspaces["canary_id"]]).get()
    index_document.apply(args=[two_workspaces["sales_doc_id"]]).get()
    # Each run saw (and re-indexed within) its own document's workspace only.
    assert seen == [{two_workspaces["general"].pk}, {two_workspaces["sales"].pk}]
    with organization_scope():
        assert Chunk.objects.filter(document_id=two_workspaces["canary_id"]).exists()


def test_members_of_a_new_workspace_can_be_added_by_the_owner(acme, alice_portal):
    # Organization-wide work (the owner creating a workspace and its first member) runs
    # in a scope that includes the workspace created a moment ago.
    with organization_scope():
        workspace = Workspace.objects.create(name="Legal", slug="legal")
        bob = Membership.objects.filter(user__email="bob@acme.example").first().user
        Membership.objects.create(workspace=workspace, user=bob, role=Role.VIEWER)
        assert Membership.objects.filter(workspace=workspace).count() == 1


def test_organization_limits_count_every_workspace_whoever_asks(two_workspaces):
    """Quotas and metering are the organization's: a narrow or missing scope must not
    make them count fewer documents (a Sales member could otherwise exceed the plan)."""
    from tenants.metering import usage_measure
    from tenants.quotas import documents_level, usage_levels

    sales = two_workspaces["sales"]
    organization = connection.tenant
    with workspaces_scope([sales.pk]):
        assert Document.objects.count() == 1
        assert documents_level()[0] == 2
        assert usage_levels(organization)["documents"] == 2
    with no_scope():
        # Beat measures from the public schema, in no scope at all.
        connection.set_schema_to_public()
        from tenants.models import Organization

        row = usage_measure(organization=Organization.objects.get(slug="acme"))
        assert row.documents == 2


def test_a_single_role_installation_is_warned_about():
    from workspaces.rls.checks import single_role_warnings

    assert single_role_warnings(settings.DATABASES["default"]) == []
    single = {"USER": "opaa", "OWNER": {"USER": "opaa", "PASSWORD": ""}}
    assert [w.id for w in single_role_warnings(single)] == ["opaa.rls.W001"]
