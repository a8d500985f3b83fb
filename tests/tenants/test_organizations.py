"""Provisioning organizations, and tasks that refuse to run outside one."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import User
from ingestion.tasks import index_document
from tenants.models import Organization
from tenants.services import organization_create
from workspaces.models import Membership, Workspace
from workspaces.rls.tasks import OrganizationMissing


def test_create_organization_command_provisions_everything(committed_org, capsys):
    call_command(
        "create_organization", "hooli", "--owner-email", "gavin@hooli.example", "--name", "Hooli"
    )
    out = capsys.readouterr().out
    assert "Created Hooli at hooli.localhost" in out
    password = out.split("Password (shown once): ")[1].strip()
    organization = Organization.objects.get(slug="hooli")
    try:
        assert organization.domains.get().domain == "hooli.localhost"
        with schema_context(organization.schema_name):
            owner = User.objects.get(email="gavin@hooli.example")
            assert owner.is_owner
            assert owner.check_password(password)
            workspace = Workspace.objects.get(is_default=True)
            assert Membership.objects.get(user=owner, workspace=workspace).role == "admin"
    finally:
        organization.delete(force_drop=True)


@pytest.mark.parametrize(
    ("slug", "message"),
    [("acme", "already exists"), ("Bad Slug", "lowercase"), ("public", "reserved")],
)
def test_create_organization_rejects_bad_or_taken_slugs(world, db, slug, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_organization", slug, "--owner-email", "x@example.com")


def test_same_email_in_two_organizations_is_two_accounts(world, db):
    with schema_context(world.acme.schema):
        User.objects.create_user("shared@example.com", "acme-password")
    with schema_context(world.globex.schema):
        assert not User.objects.filter(email="shared@example.com").exists()
        User.objects.create_user("shared@example.com", "globex-password")
    with schema_context(world.acme.schema):
        assert User.objects.get(email="shared@example.com").check_password("acme-password")


def test_organization_task_refuses_to_run_without_an_organization(world, db):
    connection.set_schema_to_public()
    with pytest.raises(OrganizationMissing):
        index_document.apply(args=[1]).get()


def test_failed_provisioning_leaves_no_organization(committed_org, monkeypatch):
    # committed_org: autocommit, as in production (schema DDL inside a test transaction
    # cannot be dropped again).
    connection.set_schema_to_public()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Workspace.objects, "create", broken)
    with pytest.raises(RuntimeError):
        organization_create(name="Broken", slug="broken", owner_email="a@broken.example")
    assert not Organization.objects.filter(slug="broken").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'broken'")
        assert cursor.fetchone() is None
