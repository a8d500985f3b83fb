"""With DEBUG on (``make run``), an error never shows a member the settings, the
environment or a database URL (issue 11, 3); the developer on loopback still gets the
technical page, with connection strings hidden."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from search import conversations

# What the development server's request META holds: the whole process environment.
ENVIRONMENT = {
    "DATABASE_URL": "postgres://opaa_app:app-s3cret@127.0.0.1:5432/opaa",
    "DATABASE_OWNER_URL": "postgres://opaa_owner:owner-s3cret@127.0.0.1:5432/opaa",
    "REDIS_URL": "redis://:redis-s3cret@127.0.0.1:6379/0",
}
SECRETS = ["app-s3cret", "owner-s3cret", "redis-s3cret"]


@pytest.fixture
def broken_ask_page(monkeypatch, settings):
    """DEBUG on, and the ask page failing with a connection string in a frame's variables."""
    settings.DEBUG = True

    def conversations_of(user, workspace):
        # A local the technical page lists with the frame (the source line shows no secret).
        dsn = ENVIRONMENT["DATABASE_URL"]  # noqa: F841
        raise RuntimeError("the database went away")

    monkeypatch.setattr(conversations, "conversations_of", conversations_of)


def signed_in(world, email: str, *, remote_addr: str) -> Client:
    client = Client(
        HTTP_HOST=world.acme.domain, REMOTE_ADDR=remote_addr, raise_request_exception=False
    )
    with schema_context(world.acme.schema):
        client.force_login(User.objects.get(email=email))
    return client


def assert_nothing_exposed(body: str, settings) -> None:
    for secret in SECRETS:
        assert secret not in body
    assert "DATABASE_URL" not in body
    assert "DATABASES" not in body
    assert "Traceback" not in body
    password = settings.DATABASES["default"].get("PASSWORD")
    if password:
        assert password not in body


def test_a_member_gets_the_plain_error_page(world, db, broken_ask_page, settings):
    bob = signed_in(world, "bob@acme.example", remote_addr="127.0.0.1")
    response = bob.get("/ask/?workspace=sales", **ENVIRONMENT)
    assert response.status_code == 500
    body = response.content.decode()
    assert "Server error (500)" in body
    assert_nothing_exposed(body, settings)


def test_a_member_calling_the_api_gets_plain_text(world, db, broken_ask_page, settings):
    bob = signed_in(world, "bob@acme.example", remote_addr="127.0.0.1")
    response = bob.get("/ask/?workspace=sales", HTTP_ACCEPT="application/json", **ENVIRONMENT)
    assert response.status_code == 500
    assert_nothing_exposed(response.content.decode(), settings)


def test_the_owner_from_another_machine_gets_the_plain_page(world, db, broken_ask_page, settings):
    alice = signed_in(world, "alice@acme.example", remote_addr="203.0.113.7")
    response = alice.get("/ask/?workspace=sales", **ENVIRONMENT)
    assert response.status_code == 500
    assert_nothing_exposed(response.content.decode(), settings)


def test_the_developer_on_loopback_gets_the_technical_page_without_secrets(
    world, db, broken_ask_page, settings
):
    alice = signed_in(world, "alice@acme.example", remote_addr="127.0.0.1")
    response = alice.get("/ask/?workspace=sales", **ENVIRONMENT)
    assert response.status_code == 500
    body = response.content.decode()
    assert "Traceback" in body
    assert "the database went away" in body
    for secret in SECRETS:
        assert secret not in body
    password = settings.DATABASES["default"].get("PASSWORD")
    if password:
        assert password not in body


def test_the_development_settings_keep_the_guard():
    """``make run`` (opaa.settings.dev) runs with DEBUG and inherits the guarded reporter."""
    import ast
    from pathlib import Path

    import opaa.settings.base as base

    dev = Path(base.__file__).with_name("dev.py").read_text()
    assigned = {
        target.id
        for node in ast.walk(ast.parse(dev))
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert "DEFAULT_EXCEPTION_REPORTER" not in assigned
    assert "DEFAULT_EXCEPTION_REPORTER_FILTER" not in assigned
    assert base.DEFAULT_EXCEPTION_REPORTER == "opaa.debug_page.DeveloperOnlyExceptionReporter"
