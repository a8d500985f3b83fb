"""Public signup at the platform address: provisioning, verification, the form's errors."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django_redis import get_redis_connection
from django_tenants.utils import schema_context

from accounts.models import User
from tenants import pool
from tenants.models import Organization, OrganizationStatus
from tenants.services import organization_delete
from workspaces.models import Membership, Workspace

PASSWORD = "a long signup passphrase 42"
IP = "203.0.113.7"


@pytest.fixture
def signup_open(settings):
    settings.SIGNUP_ENABLED = True
    settings.SIGNUP_RATE_PER_HOUR = 5
    get_redis_connection("default").delete(f"opaa:signup:ip:{IP}")
    yield settings
    get_redis_connection("default").delete(f"opaa:signup:ip:{IP}")


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Autocommit, like production (schemas cannot be made inside a test transaction);
    organizations whose slug starts with ``signup-`` and spares are dropped afterwards."""
    with django_db_blocker.unblock():
        try:
            yield
        finally:
            connection.set_schema_to_public()
            for organization in Organization.objects.filter(slug__startswith="signup-"):
                organization_delete(organization=organization)
            for spare in Organization.objects.filter(status=OrganizationStatus.SPARE):
                spare.delete(force_drop=True)


def platform() -> Client:
    return Client(HTTP_HOST="localhost", REMOTE_ADDR=IP)


def sign_up(client: Client, slug: str, **fields):
    data = {
        "name": "Initech",
        "slug": slug,
        "owner_email": "Peter@Initech.example",
        "password": PASSWORD,
        **fields,
    }
    return client.post("/signup/", data)


def verification_path() -> str:
    link = re.search(r"https?://\S+/signup/verify/\S+", mail.outbox[-1].body).group(0)
    return link.split("localhost", 1)[1]


def test_signup_verify_sign_in_and_ask(signup_open, committed, upload_indexed):
    response = sign_up(platform(), "signup-initech")
    assert response.status_code == 201, response.content
    assert "Check your email" in response.content.decode()
    assert mail.outbox[-1].to == ["peter@initech.example"]

    organization = Organization.objects.get(slug="signup-initech")
    assert organization.status == OrganizationStatus.PENDING
    assert organization.plan.code == "free"
    assert organization.domains.get().domain == "signup-initech.localhost"
    with schema_context(organization.schema_name):
        owner = User.objects.get(email="peter@initech.example")
        assert owner.is_owner
        assert owner.check_password(PASSWORD)
        general = Workspace.objects.get(is_default=True)
        assert Membership.objects.get(user=owner, workspace=general).role == "admin"

    # Before the link is followed, nobody can sign in at the new address.
    site = Client(HTTP_HOST="signup-initech.localhost")
    blocked = site.get("/accounts/login/")
    assert blocked.status_code == 403
    assert "not yet confirmed" in blocked.content.decode()

    verified = platform().get(verification_path())
    assert verified.status_code == 200
    assert "http://signup-initech.localhost/accounts/login/" in verified.content.decode()
    organization.refresh_from_db()
    assert organization.status == OrganizationStatus.ACTIVE
    # Following the link again is harmless.
    assert platform().get(verification_path()).status_code == 200

    signed_in = site.post(
        "/accounts/login/", {"username": "peter@initech.example", "password": PASSWORD}
    )
    assert signed_in.status_code == 302, signed_in.content
    upload_indexed(
        site, "stapler.md", b"# Staplers\n\nEvery desk gets one red Swingline stapler.\n"
    )
    answer = site.post("/api/v1/ask", {"question": "What colour is the stapler?"}).json()
    assert "red Swingline" in answer["answer"]
    assert answer["citations"][0]["document_title"]


def test_signup_claims_a_spare_schema_from_the_pool(signup_open, committed):
    assert pool.pool_replenish(size=1) == 1
    spare = Organization.objects.get(status=OrganizationStatus.SPARE)
    assert pool.pool_replenish(size=1) == 0  # already full

    response = sign_up(platform(), "signup-pooled")
    assert response.status_code == 201, response.content

    organization = Organization.objects.get(slug="signup-pooled")
    assert organization.pk == spare.pk
    assert organization.schema_name == "signup_pooled"
    assert not Organization.objects.filter(status=OrganizationStatus.SPARE).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname IN (%s, %s)",
            [spare.schema_name, "signup_pooled"],
        )
        assert [row[0] for row in cursor.fetchall()] == ["signup_pooled"]
    with schema_context("signup_pooled"):
        assert User.objects.get(email="peter@initech.example").is_owner
        assert Workspace.objects.filter(is_default=True).count() == 1


def test_an_unverified_signup_is_deleted_once_its_link_expired(signup_open, committed):
    from datetime import timedelta

    from django.utils import timezone

    from tenants.tasks import signups_expired_delete

    assert sign_up(platform(), "signup-late").status_code == 201
    assert sign_up(platform(), "signup-fresh", owner_email="f@fresh.example").status_code == 201
    link = verification_path()  # the fresh one's
    old = timezone.now() - timedelta(seconds=signup_open.SIGNUP_VERIFY_MAX_AGE_S + 60)
    Organization.objects.filter(slug="signup-late").update(created_at=old)

    assert signups_expired_delete.apply().result == 1
    assert not Organization.objects.filter(slug="signup-late").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'signup_late'")
        assert cursor.fetchone() is None
    # The name is free again; the organization still waiting for its owner stays.
    assert Organization.objects.get(slug="signup-fresh").status == OrganizationStatus.PENDING
    assert platform().get(link).status_code == 200


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("acme", "is taken"),
        ("admin", "is reserved"),
        ("signup", "is reserved"),
        ("spare-abc", "is reserved"),
        ("Bad Slug!", "lowercase letters"),
        ("ab", "lowercase letters"),
    ],
)
def test_taken_reserved_or_malformed_names_are_form_errors(signup_open, world, db, slug, message):
    before = Organization.objects.count()
    response = sign_up(platform(), slug)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Organization.objects.count() == before
    assert mail.outbox == []


def test_weak_password_and_bad_email_are_form_errors(signup_open, world, db):
    response = sign_up(platform(), "signup-weak", password="password", owner_email="nope")
    body = response.content.decode()
    assert response.status_code == 400
    assert "too common" in body
    assert "valid email address" in body
    assert not Organization.objects.filter(slug="signup-weak").exists()


def test_signups_are_rate_limited_per_address(signup_open, world, db):
    signup_open.SIGNUP_RATE_PER_HOUR = 2
    client = platform()
    assert sign_up(client, "admin").status_code == 400
    assert sign_up(client, "admin").status_code == 400
    throttled = sign_up(client, "admin")
    assert throttled.status_code == 429
    assert "Too many signups" in throttled.content.decode()
    assert throttled["Retry-After"] == "3600"
    # Another address is not affected.
    other = Client(HTTP_HOST="localhost", REMOTE_ADDR="198.51.100.9")
    get_redis_connection("default").delete("opaa:signup:ip:198.51.100.9")
    assert sign_up(other, "admin").status_code == 400


def test_a_damaged_verification_link_is_refused(signup_open, world, db):
    response = platform().get("/signup/verify/not-a-real-token")
    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_signup_is_closed_unless_enabled(world, db, settings):
    settings.SIGNUP_ENABLED = False
    assert platform().get("/signup/").status_code == 404
    assert sign_up(platform(), "signup-closed").status_code == 404


def test_signup_is_not_served_at_an_organization_address(signup_open, world, db):
    assert Client(HTTP_HOST="acme.localhost").get("/signup/").status_code == 404


def test_the_platform_home_offers_signup_also_to_a_signed_in_operator(signup_open, world, db):
    connection.set_schema_to_public()
    client = platform()
    client.force_login(User.objects.create_superuser("ops-home@opaa.example", PASSWORD))
    response = client.get("/")
    assert response.status_code == 200
    assert 'href="/signup/"' in response.content.decode()
    signup_open.SIGNUP_ENABLED = False
    assert 'href="/signup/"' not in client.get("/").content.decode()
