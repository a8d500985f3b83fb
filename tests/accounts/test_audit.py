"""The audit log: what is recorded, append-only, the page, the API and its exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client

from accounts.audit import AuditAction, AuditContext, audit_record
from accounts.models import ApiToken, AuditEvent, User
from tests.conftest import PASSWORD, named_file, portal_client, token_client
from workspaces import services as workspace_services
from workspaces.models import Membership, Role, Workspace

NOTE = b"# Lunch\n\nThe canteen serves lunch from 11:30 to 14:00 on weekdays.\n"


def _events(action: str):
    return AuditEvent.objects.filter(action=action)


def _upload(client) -> int:
    response = client.post(
        "/api/v1/documents", {"file": named_file("lunch.md", NOTE)}, format="multipart"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_sign_in_success_and_failure_are_recorded(world, acme):
    client = Client(HTTP_HOST=world.acme.domain)
    assert not client.login(username="alice@acme.example", password="wrong password")
    failed = _events(AuditAction.SIGNIN_FAILED).get()
    assert failed.extra == {"email": "alice@acme.example"}
    assert "wrong" not in json.dumps(failed.extra)
    assert client.login(username="alice@acme.example", password=PASSWORD)
    succeeded = _events(AuditAction.SIGNIN_SUCCEEDED).get()
    assert succeeded.actor_email == "alice@acme.example"
    assert succeeded.organization == world.acme.schema


def test_sign_in_through_the_page_records_ip_and_user_agent(world, acme):
    client = Client(HTTP_HOST=world.acme.domain, HTTP_USER_AGENT="pytest-browser")
    client.post(
        "/accounts/login/",
        {"username": "alice@acme.example", "password": PASSWORD},
        REMOTE_ADDR="198.51.100.4",
    )
    event = _events(AuditAction.SIGNIN_SUCCEEDED).get()
    assert event.ip == "198.51.100.4"
    assert event.user_agent == "pytest-browser"


def test_token_created_used_and_revoked_are_recorded(world, acme, alice_api):
    body = {"name": "ci", "scopes": ["ask"], "workspaces": ["general"], "expires_in_days": 3}
    created = alice_api.post("/api/v1/tokens", body, format="json").json()
    event = _events(AuditAction.TOKEN_CREATED).get()
    assert event.target_id == str(created["id"])
    assert event.extra["scopes"] == ["ask"]
    assert created["token"] not in json.dumps(event.extra)
    client = token_client(world.acme, created["token"])
    client.post("/api/v1/ask", {"question": "When is lunch?"})
    client.post("/api/v1/ask", {"question": "When is lunch served?"})
    used = _events(AuditAction.TOKEN_USED).get()
    assert used.actor_token_id == created["id"]
    questions = _events(AuditAction.QUESTION)
    assert questions.count() == 2
    assert {q.actor_token_id for q in questions} == {created["id"]}
    alice_api.delete(f"/api/v1/tokens/{created['id']}")
    assert _events(AuditAction.TOKEN_REVOKED).get().target_id == str(created["id"])


def test_document_upload_open_download_delete_are_recorded(world, acme, alice_api, alice_portal):
    document_id = _upload(alice_api)
    assert _events(AuditAction.DOCUMENT_UPLOADED).get().target_id == str(document_id)
    alice_api.get(f"/api/v1/documents/{document_id}")
    assert alice_portal.get(f"/documents/{document_id}/").status_code == 200
    opened = _events(AuditAction.DOCUMENT_OPENED)
    assert sorted(e.extra["via"] for e in opened) == ["api", "portal"]
    assert alice_portal.get(f"/documents/{document_id}/original").status_code == 200
    assert _events(AuditAction.DOCUMENT_DOWNLOADED).count() == 1
    assert alice_api.delete(f"/api/v1/documents/{document_id}").status_code == 204
    deleted = _events(AuditAction.DOCUMENT_DELETED).get()
    assert deleted.target_id == str(document_id)
    assert deleted.actor_email == "alice@acme.example"


def test_searches_and_questions_record_text_only_if_policy_allows(acme, alice_api, settings):
    alice_api.get("/api/v1/search", {"q": "lunch hours"})
    alice_api.post("/api/v1/ask", {"question": "When is lunch?"})
    assert _events(AuditAction.SEARCH).get().extra["text"] == "lunch hours"
    assert _events(AuditAction.QUESTION).get().extra["text"] == "When is lunch?"
    settings.AUDIT_RECORD_QUESTION_TEXT = False
    alice_api.get("/api/v1/search", {"q": "secret merger plans"})
    alice_api.post("/api/v1/ask", {"question": "Who is being fired?"})
    newest = AuditEvent.objects.filter(action__in=[AuditAction.SEARCH, AuditAction.QUESTION])[:2]
    for event in newest:
        assert "text" not in event.extra
        assert event.extra["text_chars"] > 0
    dump = json.dumps([e.extra for e in AuditEvent.objects.all()])
    assert "merger" not in dump
    assert "fired" not in dump


def test_portal_questions_are_recorded(acme, alice_portal):
    response = alice_portal.post("/ask/", {"question": "When is lunch?"})
    assert response.status_code in (200, 302)  # the page may redirect to the conversation
    assert _events(AuditAction.QUESTION).get().actor_email == "alice@acme.example"


def test_membership_changes_are_recorded(acme):
    sales = Workspace.objects.get(slug="sales")
    dave = User.objects.create_user("dave@acme.example", PASSWORD)
    context = AuditContext(user_id=1, email="alice@acme.example")
    membership = workspace_services.membership_save(
        membership=Membership(workspace=sales, user=dave, role=Role.VIEWER), audit=context
    )
    membership.role = Role.EDITOR
    workspace_services.membership_save(membership=membership, audit=context)
    workspace_services.membership_save(membership=membership, audit=context)  # no change
    workspace_services.membership_delete(membership=membership, audit=context)
    assert _events(AuditAction.MEMBERSHIP_CREATED).get().extra["role"] == "viewer"
    changed = _events(AuditAction.MEMBERSHIP_CHANGED).get()
    assert (changed.extra["previous_role"], changed.extra["role"]) == ("viewer", "editor")
    assert _events(AuditAction.MEMBERSHIP_DELETED).get().extra["user"] == "dave@acme.example"


def test_admin_actions_and_admin_membership_edits_are_recorded(acme, alice_portal):
    dave = User.objects.create_user("dave@acme.example", PASSWORD)
    response = alice_portal.post(
        "/admin/workspaces/workspace/add/",
        {
            "name": "Legal",
            "slug": "legal",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-user": str(dave.pk),
            "memberships-0-role": "editor",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    legal = Workspace.objects.get(slug="legal")
    added = _events(AuditAction.ADMIN_ADDED).get()
    assert (added.target_type, added.target_id) == ("workspaces.workspace", str(legal.pk))
    created = _events(AuditAction.MEMBERSHIP_CREATED).get()
    assert created.extra["user"] == "dave@acme.example"
    assert created.actor_email == "alice@acme.example"
    response = alice_portal.post(f"/admin/workspaces/workspace/{legal.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert _events(AuditAction.ADMIN_DELETED).get().target_id == str(legal.pk)


def test_bulk_admin_deletions_are_recorded(acme, alice_portal):
    ids = [Workspace.objects.create(name=f"Temp {n}", slug=f"temp-{n}").pk for n in range(3)]
    response = alice_portal.post(
        "/admin/workspaces/workspace/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert response.status_code == 302
    deleted = {e.target_id for e in _events(AuditAction.ADMIN_DELETED)}
    assert deleted == {str(pk) for pk in ids}


def test_every_registered_admin_is_audited():
    from django.contrib import admin

    from accounts.admin_site import AuditedAdminMixin

    assert admin.site._registry
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, AuditedAdminMixin), model


def test_audit_events_are_append_only(acme):
    event = audit_record(action=AuditAction.SEARCH, context=None)
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    # Even SQL issued past the ORM is refused by the database trigger.
    for sql in (
        "UPDATE accounts_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM accounts_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == AuditAction.SEARCH


@pytest.fixture
def some_events(acme, alice_api, bob_api):
    alice_api.get("/api/v1/search", {"q": "=cmd|calc"})
    bob_api.get("/api/v1/search", {"q": "bob searches"})
    alice_api.post("/api/v1/ask", {"question": "When is lunch?"})


def test_api_lists_and_filters_events(world, some_events, alice_api):
    body = alice_api.get("/api/v1/audit").json()
    assert body["count"] == 3
    assert body["results"][0]["action"] == "question.asked"  # newest first
    only_bob = alice_api.get("/api/v1/audit", {"user": "bob@acme.example"}).json()
    assert [e["extra"]["text"] for e in only_bob["results"]] == ["bob searches"]
    bob_id = User.objects.get(email="bob@acme.example").pk
    assert alice_api.get("/api/v1/audit", {"user": str(bob_id)}).json()["count"] == 1
    searches = alice_api.get("/api/v1/audit", {"action": "search.performed"}).json()
    assert searches["count"] == 2
    today = alice_api.get("/api/v1/audit", {"since": "2000-01-01", "until": "2999-12-31"})
    assert today.json()["count"] == 3
    assert alice_api.get("/api/v1/audit", {"until": "2000-01-01"}).json()["count"] == 0
    for bad in ({"action": "nope"}, {"since": "yesterday"}, {"until": "2026-02-31"}):
        response = alice_api.get("/api/v1/audit", bad)
        assert response.status_code == 400, bad


def test_api_exports_json_lines_and_csv(some_events, alice_api):
    jsonl = alice_api.get("/api/v1/audit", {"format": "jsonl"})
    assert jsonl.status_code == 200
    assert jsonl["Content-Type"].startswith("application/jsonl")
    assert "attachment" in jsonl["Content-Disposition"]
    rows = [json.loads(line) for line in b"".join(jsonl.streaming_content).decode().splitlines()]
    assert [r["action"] for r in rows] == ["question.asked", "search.performed", "search.performed"]
    exported = alice_api.get("/api/v1/audit", {"format": "csv", "action": "search.performed"})
    assert exported["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert len(table) == 2
    # A formula-looking value is defused for spreadsheets.
    assert any(json.loads(r["extra"].lstrip("'"))["text"] == "=cmd|calc" for r in table)
    assert all(not r["extra"].startswith("=") for r in table)


def test_audit_needs_owner_and_scope(world, some_events, bob_api, make_token):
    assert bob_api.get("/api/v1/audit").status_code == 403
    assert bob_api.get("/api/v1/audit", {"format": "csv"}).status_code == 403
    bob_page = portal_client(world.acme, "bob@acme.example").get("/accounts/audit/")
    assert bob_page.status_code == 403
    no_scope = make_token(world.acme, "alice@acme.example", scopes=["ask"])
    assert token_client(world.acme, no_scope).get("/api/v1/audit").status_code == 403
    scoped = make_token(world.acme, "alice@acme.example", scopes=["audit:read"])
    assert token_client(world.acme, scoped).get("/api/v1/audit").status_code == 200


def test_audit_list_query_count_does_not_grow(some_events, alice_api, django_assert_num_queries):
    # domain lookup, count, page; each after a search_path SET
    with django_assert_num_queries(6):
        alice_api.get("/api/v1/audit")
    for n in range(5):
        audit_record(action=AuditAction.SEARCH, context=None, extra={"n": n})
    with django_assert_num_queries(6):
        assert alice_api.get("/api/v1/audit").json()["count"] == 8


def test_portal_page_filters_and_exports(some_events, alice_portal):
    page = alice_portal.get("/accounts/audit/", {"action": "search.performed"})
    assert page.status_code == 200
    assert page.context["page"].paginator.count == 2
    assert b"format=csv" in page.content
    export = alice_portal.get("/accounts/audit/", {"action": "search.performed", "format": "csv"})
    assert export.status_code == 200
    assert len(list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))) == 3
    # (4 events: signing the portal client in was one.)
    jsonl = alice_portal.get("/accounts/audit/", {"format": "jsonl"})
    assert len(b"".join(jsonl.streaming_content).splitlines()) == 4
    assert alice_portal.get("/accounts/audit/", {"since": "someday"}).status_code == 400


def test_token_delete_or_user_delete_keeps_the_log(acme, alice_api):
    body = {"name": "x", "scopes": ["ask"], "workspaces": ["general"], "expires_in_days": 3}
    alice_api.post("/api/v1/tokens", body, format="json")
    dave = User.objects.create_user("dave@acme.example", PASSWORD)
    audit_record(action=AuditAction.SEARCH, context=AuditContext(user_id=dave.pk, email=dave.email))
    ApiToken.objects.all().delete()
    dave.delete()
    assert AuditEvent.objects.filter(actor_email="dave@acme.example").count() == 1


def test_admin_actions_run_on_selected_objects_are_recorded(world, acme, alice_portal, make_token):
    for _ in range(2):
        make_token(world.acme, "alice@acme.example")
    ids = sorted(ApiToken.objects.values_list("pk", flat=True))
    response = alice_portal.post(
        "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": ids}
    )
    assert response.status_code == 302
    ran = _events(AuditAction.ADMIN_ACTION).get()
    assert ran.actor_email == "alice@acme.example"
    assert ran.target_type == "accounts.apitoken"
    assert ran.extra["action"] == "revoke"
    assert ran.extra["count"] == 2
    assert sorted(int(pk) for pk in ran.extra["ids"]) == ids
    assert _events(AuditAction.TOKEN_REVOKED).count() == 2


def test_sso_settings_changes_are_recorded_without_the_secret(acme, alice_portal, settings):
    from sso.models import IdentityProvider
    from sso.services import identity_provider_save

    provider = IdentityProvider(issuer="https://idp.acme.example", client_id="opaa")
    identity_provider_save(
        provider=provider,
        client_secret="the-very-secret",
        audit=AuditContext(email="alice@acme.example"),
    )
    created = _events(AuditAction.SSO_SETTINGS_CHANGED).get()
    assert created.extra["created"] is True
    assert "client_secret" in created.extra["changed"]
    assert "the-very-secret" not in json.dumps(created.extra)
    assert provider.client_secret_encrypted not in json.dumps(created.extra)

    response = alice_portal.post(
        "/sso/settings/",
        {
            "name": "Acme login",
            "issuer": "https://idp.acme.example",
            "client_id": "opaa",
            "scopes": "openid email",
            "role_claim": "groups",
            "role_mapping": "[]",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    changed = _events(AuditAction.SSO_SETTINGS_CHANGED).order_by("id").last()
    assert changed.actor_email == "alice@acme.example"
    assert sorted(changed.extra["changed"]) == ["name", "scopes"]
    assert changed.extra["values"] == {"name": "Acme login", "scopes": "openid email"}
    # Saving the same settings again records nothing.
    alice_portal.post(
        "/sso/settings/",
        {
            "name": "Acme login",
            "issuer": "https://idp.acme.example",
            "client_id": "opaa",
            "scopes": "openid email",
            "role_claim": "groups",
            "role_mapping": "[]",
        },
    )
    assert _events(AuditAction.SSO_SETTINGS_CHANGED).count() == 2


def test_source_changes_and_sync_requests_are_recorded(world, acme, alice_portal, alice_api):
    from ingestion import sources
    from ingestion.models import Source

    connector = sources.connector_create(name="Share", kind="filesystem")
    source = Source.objects.create(
        connector=connector,
        workspace=Workspace.objects.get(slug="general"),
        name="Handbook share",
        paths=["/srv"],
    )
    assert alice_portal.post(f"/sources/{source.pk}/toggle").status_code == 302
    assert alice_portal.post(f"/sources/{source.pk}/sync").status_code == 302
    assert alice_api.post(f"/api/v1/sources/{source.pk}/sync").status_code == 202
    assert alice_portal.post("/sources/reindex?workspace=general").status_code == 302

    toggled = _events(AuditAction.SOURCE_CHANGED).get()
    assert (toggled.target_type, toggled.target_id) == ("source", str(source.pk))
    assert toggled.extra == {
        "workspace": "general",
        "name": "Handbook share",
        "changed": {"enabled": False},
    }
    syncs = _events(AuditAction.SOURCE_SYNC_REQUESTED)
    assert syncs.count() == 2
    assert {e.actor_email for e in syncs} == {"alice@acme.example"}
    reindex = _events(AuditAction.WORKSPACE_REINDEX_REQUESTED).get()
    assert reindex.extra["workspace"] == "general"


def test_the_admin_shows_an_organization_only_its_own_tables(world, acme, alice_portal):
    # The platform's tables (organizations, plans) are on an organization's search path;
    # its admin must not show them, not even to its owner.
    assert alice_portal.get("/admin/tenants/organization/").status_code == 403
    index = alice_portal.get("/admin/")
    assert index.status_code == 200
    assert b"/admin/tenants/" not in index.content
    assert b"/admin/workspaces/" in index.content
