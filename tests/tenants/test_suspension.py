"""Operators suspend, resume and delete organizations; suspension blocks people and syncs."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from ingestion import sources, sync
from ingestion.models import SyncRun
from ingestion.tasks import sources_sync_due
from tenants.models import Organization, OrganizationStatus
from tenants.services import organization_create
from tenants.suspension import organization_resume, organization_suspend
from tests.conftest import PASSWORD, filesystem_source


@pytest.fixture
def operator(world, db) -> Client:
    """A platform operator signed in to the admin at the platform address."""
    connection.set_schema_to_public()
    staff = User.objects.create_superuser("ops@opaa.example", PASSWORD)
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    return client


def acme_row() -> Organization:
    return Organization.objects.get(slug="acme")


def test_a_suspended_organization_blocks_portal_api_and_sign_in(world, db, alice_portal, alice_api):
    organization_suspend(organization=acme_row(), reason="Invoice 42 is unpaid.")

    page = alice_portal.get("/ask/")
    assert page.status_code == 403
    assert "Acme is suspended" in page.content.decode()
    assert "Invoice 42 is unpaid." in page.content.decode()

    api = alice_api.get("/api/v1/documents")
    assert api.status_code == 403
    assert api.json()["code"] == "organization_suspended"

    sign_in = Client(HTTP_HOST="acme.localhost").post(
        "/accounts/login/", {"username": "alice@acme.example", "password": PASSWORD}
    )
    assert sign_in.status_code == 403

    # Globex is not affected; health probes still answer for Acme's host.
    assert Client(HTTP_HOST="globex.localhost").get("/accounts/login/").status_code == 200
    assert Client(HTTP_HOST="acme.localhost").get("/healthz").status_code == 200

    organization_resume(organization=acme_row())
    assert alice_portal.get("/ask/").status_code == 200
    assert alice_api.get("/api/v1/documents").status_code == 200


def test_a_suspended_organization_runs_no_scheduled_sync(world, db, tmp_path):
    with schema_context("acme"):
        source = filesystem_source(tmp_path)
        source.next_run_at = source.next_run_at.replace(year=2000)
        source.save(update_fields=["next_run_at"])

    organization_suspend(organization=acme_row())
    connection.set_schema_to_public()
    sources_sync_due.apply()  # beat's task (eager: the per-organization tasks run too)
    with schema_context("acme"):
        assert not SyncRun.objects.filter(source=source).exists()
        # Even tasks already queued before the suspension do nothing.
        assert sources.sources_sync_due() == []
        assert sync.source_sync(source_id=source.pk) is None
        assert not SyncRun.objects.filter(source=source).exists()

    organization_resume(organization=acme_row())
    connection.set_schema_to_public()
    sources_sync_due.apply()
    with schema_context("acme"):
        assert SyncRun.objects.filter(source=source, trigger="schedule").count() == 1


def test_operators_suspend_and_resume_from_the_admin(operator):
    acme = acme_row()
    listing = operator.get("/admin/tenants/organization/")
    assert listing.status_code == 200
    assert "Acme" in listing.content.decode()
    assert "Globex" in listing.content.decode()

    response = operator.post(
        "/admin/tenants/organization/",
        {"action": "suspend", "_selected_action": [acme.pk]},
    )
    assert response.status_code == 302
    assert acme_row().status == OrganizationStatus.SUSPENDED
    assert Client(HTTP_HOST="acme.localhost").get("/accounts/login/").status_code == 403

    operator.post(
        "/admin/tenants/organization/", {"action": "resume", "_selected_action": [acme.pk]}
    )
    assert acme_row().status == OrganizationStatus.ACTIVE
    assert Client(HTTP_HOST="acme.localhost").get("/accounts/login/").status_code == 200


def test_operators_change_an_organizations_plan(operator):
    from tenants.models import Plan

    acme = acme_row()
    team = Plan.objects.get(code="team")
    change = operator.get(f"/admin/tenants/organization/{acme.pk}/change/")
    assert change.status_code == 200
    response = operator.post(
        f"/admin/tenants/organization/{acme.pk}/change/",
        {
            "name": "Acme",
            "slug": "acme",
            "plan": team.pk,
            "quota_overrides": "{}",
            "suspension_reason": "",
            "domains-TOTAL_FORMS": "1",
            "domains-INITIAL_FORMS": "1",
            "domains-0-id": acme.domains.get().pk,
            "domains-0-tenant": acme.pk,
            "domains-0-domain": "acme.localhost",
            "domains-0-is_primary": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert acme_row().plan == team


def test_the_operators_admin_is_not_shown_at_an_organizations_address(alice_portal):
    response = alice_portal.get("/admin/tenants/organization/")
    assert response.status_code == 403
    assert "Globex" not in response.content.decode()
    assert "Organizations" not in alice_portal.get("/admin/").content.decode()


def test_operators_delete_an_organization_with_its_schema(django_db_setup, django_db_blocker):
    # Autocommit, as in production: a schema cannot be dropped inside a test transaction.
    with django_db_blocker.unblock():
        doomed = organization_create(name="Doomed", slug="doomed", owner_email="d@doomed.example")
        connection.set_schema_to_public()
        try:
            # Left in place afterwards: the audit log (append-only) refers to it.
            staff, _ = User.objects.get_or_create(
                email="ops-delete@opaa.example", defaults={"is_staff": True, "is_superuser": True}
            )
            client = Client(HTTP_HOST="localhost")
            client.force_login(staff)
            url = f"/admin/tenants/organization/{doomed.organization.pk}/delete/"
            assert "Are you sure" in client.get(url).content.decode()
            assert client.post(url, {"post": "yes"}).status_code == 302
            assert not Organization.objects.filter(slug="doomed").exists()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'doomed'")
                assert cursor.fetchone() is None
        finally:
            connection.set_schema_to_public()
            for leftover in Organization.objects.filter(slug="doomed"):
                leftover.delete(force_drop=True)
