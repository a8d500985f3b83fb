"""Adding an IMAP source from the portal and the API: fields, secrets, checks, access."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from ingestion import sources
from ingestion.models import Connector, ConnectorKind, Source
from tests.conftest import portal_client, token_client

SECRET = "mailbox-secret-never-shown"
FORM = {
    "name": "Support mailbox",
    "config_host": "imap.acme.example",
    "config_port": "993",
    "config_security": "ssl",
    "config_username": "support@acme.example",
    "secret_password": SECRET,
    "paths": "INBOX\nArchive/2026\n",
    "readers": "group:support\n",
    "schedule": "*/30 * * * *",
}
BODY = {
    "kind": "imap",
    "name": "Support mailbox",
    "config": {"host": "imap.acme.example", "security": "starttls", "username": "support"},
    "secrets": {"password": SECRET},
    "paths": ["INBOX"],
    "readers": ["group:support"],
}


def test_admin_adds_an_imap_source_from_the_portal(acme, alice_portal):
    page = alice_portal.get("/sources/new?kind=imap")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="config_host"' in html
    assert 'type="password"' in html
    assert "Add a source" in alice_portal.get("/sources/").content.decode()

    response = alice_portal.post("/sources/new?kind=imap", FORM)

    assert response.status_code == 302
    source = Source.objects.select_related("connector").get(name="Support mailbox")
    assert source.connector.kind == ConnectorKind.IMAP
    assert source.connector.config == {
        "host": "imap.acme.example",
        "port": 993,
        "security": "ssl",
        "username": "support@acme.example",
    }
    assert source.paths == ["INBOX", "Archive/2026"]
    assert source.readers == ["group:support"]
    assert source.schedule == "*/30 * * * *"
    assert SECRET not in source.connector.secrets_encrypted
    assert sources.connector_secrets(source.connector) == {"password": SECRET}


def test_a_portal_form_that_cannot_work_is_shown_again_without_the_password(acme, alice_portal):
    response = alice_portal.post(
        "/sources/new?kind=imap", {**FORM, "config_security": "none", "paths": "Bad*"}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "without TLS is allowed only to this machine" in html
    assert SECRET not in html
    assert 'value="imap.acme.example"' in html  # what was typed is kept
    assert not Connector.objects.exists()  # nothing half-created


def test_admin_adds_an_imap_source_through_the_api_and_never_gets_the_secret_back(acme, alice_api):
    response = alice_api.post("/api/v1/sources", BODY, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["kind"], data["name"], data["paths"]) == ("imap", "Support mailbox", ["INBOX"])
    assert data["config"] == BODY["config"]
    assert SECRET not in response.content.decode()
    source = Source.objects.get(pk=data["id"])
    assert sources.connector_secrets(source.connector) == {"password": SECRET}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"config": {"security": "ssl", "username": "u"}}, "config", "Server is required"),
        ({"config": {**BODY["config"], "port": "imap"}}, "config", "whole number"),
        ({"config": {**BODY["config"], "token": "x"}}, "config", "Unknown settings: token"),
        ({"secrets": {}}, "secrets", "Password is required"),
        ({"config": {**BODY["config"], "host": "mail.example.com", "security": "none"}},
         "config", "without TLS"),
        ({"paths": ["INBOX", "%"]}, "config", "is not a folder name"),
        ({"schedule": "hourly"}, "schedule", "not a cron schedule"),
        ({"kind": "gopher"}, "kind", "not a valid choice"),
        ({"config": "imap.acme.example"}, "config", "dictionary"),
    ],
)  # fmt: skip
def test_api_refuses_settings_that_cannot_work_with_a_clear_400(
    acme, alice_api, change, field, message
):
    response = alice_api.post("/api/v1/sources", {**BODY, **change}, format="json")

    assert response.status_code == 400
    assert message in str(response.json()[field])
    assert SECRET not in response.content.decode()
    assert not Source.objects.exists()


def test_only_workspace_admins_with_the_scope_may_add_sources(
    acme, world, bob_api, carol_api, make_token
):
    # bob edits Sales but administers nothing; carol is in another organization.
    assert bob_api.post("/api/v1/sources?workspace=sales", BODY, format="json").status_code == 403
    # On her own organization's site, Acme's Sales workspace does not exist for her.
    assert carol_api.post("/api/v1/sources?workspace=sales", BODY, format="json").status_code == (
        404
    )
    # On Acme's site she is nobody.
    assert APIClient(HTTP_HOST=world.acme.domain).post(
        "/api/v1/sources", BODY, format="json"
    ).status_code in (401, 403)
    reader = make_token(world.acme, "alice@acme.example", scopes=["documents:read"])
    denied = token_client(world.acme, reader).post("/api/v1/sources", BODY, format="json")
    assert denied.status_code == 403
    admin = make_token(world.acme, "alice@acme.example", scopes=["connectors:admin"])
    allowed = token_client(world.acme, admin).post("/api/v1/sources", BODY, format="json")
    assert allowed.status_code == 201
    assert Source.objects.count() == 1


def test_outsiders_cannot_open_the_portal_form(acme, world):
    bob = portal_client(world.acme, "bob@acme.example")
    assert bob.get("/sources/new?workspace=sales").status_code == 403
    carol_on_acme = Client(HTTP_HOST=world.acme.domain)
    assert carol_on_acme.get("/sources/new").status_code == 302  # sign in first
    assert carol_on_acme.post("/sources/new?kind=imap", FORM).status_code in (302, 403)
    assert not Source.objects.exists()


def test_every_problem_of_a_portal_submit_is_shown_at_once(acme, alice_portal):
    """Issue 16: the form stopped at the first problem, one error per submit."""
    response = alice_portal.post(
        "/sources/new?kind=imap",
        {
            **FORM,
            "name": "",
            "config_host": "",
            "config_port": "imap",
            "secret_password": "",
            "schedule": "hourly",
            "exclude_globs": "\n".join(["*.tmp"] * 51),
        },
    )

    assert response.status_code == 400
    errors = response.context["errors"]
    assert set(errors) == {"name", "config", "secrets", "schedule", "exclude_globs"}
    assert any("Server is required" in e for e in errors["config"])
    assert any("whole number" in e for e in errors["config"])
    html = response.content.decode()
    for message in ("Give the source a name", "Password is required", "not a cron schedule"):
        assert message in html
    assert not Connector.objects.exists()


def test_the_api_names_every_problem_in_one_400(acme, alice_api):
    config = {**BODY["config"], "port": "imap"}
    body = {**BODY, "config": config, "secrets": {}, "schedule": "hourly"}
    response = alice_api.post("/api/v1/sources", body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"config", "secrets", "schedule"}
    assert not Source.objects.exists()


def test_editing_a_source_shows_every_problem_and_changes_nothing(acme, alice_portal):
    alice_portal.post("/sources/new?kind=imap", FORM)
    source = Source.objects.get(name="Support mailbox")

    response = alice_portal.post(
        f"/sources/{source.pk}/edit",
        {"schedule": "daily", "include_globs": "x" * 301, "exclude_globs": "*.tmp"},
    )

    assert response.status_code == 400
    assert set(response.context["errors"]) == {"schedule", "include_globs"}
    source.refresh_from_db()
    assert (source.schedule, source.exclude_globs) == ("*/30 * * * *", [])
