"""Plan limits where the usage happens: 402 for a plan limit, 429 for the daily rate."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_redis import get_redis_connection
from django_tenants.utils import schema_context

from accounts.models import User
from ingestion.models import Document, Source
from tenants.models import Organization, Plan, UsageDay
from tenants.quotas import QuotaExceeded
from tests.conftest import filesystem_source, named_file

DOC = b"# Holidays\n\nEveryone gets twenty-eight days of paid holiday a year.\n"


def clear_counters(organization: Organization) -> None:
    redis = get_redis_connection("default")
    for key in redis.scan_iter(f"opaa:quota:{organization.pk}:*"):
        redis.delete(key)


@pytest.fixture
def acme_plan(world, db):
    """Put Acme on a small plan for the test (rolled back with it); returns a setter."""
    organization = world.acme.organization
    plan = Plan.objects.create(code="tiny", name="Tiny")
    Organization.objects.filter(pk=organization.pk).update(plan=plan)
    clear_counters(organization)

    def limit(**values):
        for name, value in values.items():
            setattr(plan, name, value)
        plan.save()
        return plan

    yield limit
    clear_counters(organization)


def upload(client, name="holidays.md", data=DOC):
    return client.post("/api/v1/documents", {"file": named_file(name, data)}, format="multipart")


def test_upload_past_the_document_limit_is_402_naming_it(acme_plan, alice_api):
    acme_plan(documents=1)
    assert upload(alice_api).status_code == 201
    response = upload(alice_api, "second.md", b"# Second\n\nAnother document.\n")
    assert response.status_code == 402
    body = response.json()
    assert body["limit"] == "documents"
    assert body["usage"] == 2
    assert body["allowed"] == 1
    assert body["plan"] == "Tiny"
    assert "documents" in body["detail"]
    assert "Tiny" in body["detail"]
    with schema_context("acme"):
        assert Document.objects.filter(title="second").count() == 0
    # A new version of an existing upload adds no document: still allowed.
    assert (
        upload(alice_api, "holidays.md", DOC + b"\nAnd a day off on your birthday.\n").status_code
        == 200
    )


def test_upload_larger_than_the_plan_allows_is_402(acme_plan, alice_api):
    acme_plan(max_upload_bytes=20)
    response = upload(alice_api)
    assert response.status_code == 402
    assert response.json()["limit"] == "max_upload_bytes"
    assert response.json()["usage"] == len(DOC)


def test_storage_limit_counts_the_bytes_already_stored(acme_plan, alice_api):
    acme_plan(storage_bytes=len(DOC) + 10)
    assert upload(alice_api).status_code == 201
    response = upload(alice_api, "more.md", b"# More\n\nMore words here.\n")
    assert response.status_code == 402
    assert response.json()["limit"] == "storage_bytes"


def test_portal_upload_over_the_limit_shows_the_limit(acme_plan, alice_portal):
    acme_plan(documents=0)
    response = alice_portal.post(
        "/documents/?workspace=general",
        {"files": [named_file("holidays.md", DOC)]},
        HTTP_ACCEPT="text/html,application/xhtml+xml",
    )
    assert response.status_code == 402
    page = response.content.decode()
    assert "Plan limit reached" in page
    assert "documents" in page
    assert "Tiny" in page


def test_questions_past_the_daily_rate_are_429_until_midnight(acme_plan, alice_api):
    acme_plan(questions_per_day=2)
    for _ in range(2):
        assert alice_api.post("/api/v1/ask", {"question": "How many holidays?"}).status_code == 200
    response = alice_api.post("/api/v1/ask", {"question": "How many holidays?"})
    assert response.status_code == 429
    body = response.json()
    assert (body["limit"], body["usage"], body["allowed"]) == ("questions_per_day", 2, 2)
    assert 0 < int(response["Retry-After"]) <= 24 * 3600
    # Streaming is refused before the stream starts, with the same status.
    streamed = alice_api.post("/api/v1/ask?stream=true", {"question": "How many holidays?"})
    assert streamed.status_code == 429
    assert streamed.json()["limit"] == "questions_per_day"


def test_portal_ask_over_the_daily_rate_shows_a_429_page(acme_plan, alice_portal):
    acme_plan(questions_per_day=0)
    response = alice_portal.post(
        "/ask/", {"question": "How many holidays?"}, HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 429
    assert "Daily limit reached" in response.content.decode()
    # The ask page's script streams with fetch() and shows the JSON ``detail``.
    stream = alice_portal.post("/ask/stream", {"question": "How many holidays?"})
    assert stream.status_code == 429
    assert "questions per day" in stream.json()["detail"]


def test_llm_tokens_this_month_are_a_plan_limit_read_from_the_durable_record(acme_plan, alice_api):
    acme_plan(llm_tokens_per_month=1000)
    # As if Redis had lost its counters: the month's rows seed them again.
    UsageDay.objects.create(
        organization=Organization.objects.get(slug="acme"),
        day=timezone.now().date(),
        llm_tokens=1000,
    )
    response = alice_api.post("/api/v1/ask", {"question": "How many holidays?"})
    assert response.status_code == 402
    assert response.json()["limit"] == "llm_tokens_per_month"
    assert response.json()["usage"] == 1000


def test_members_past_the_plan_cannot_be_added(acme_plan, alice_portal, acme):
    acme_plan(members=2)  # alice and bob
    response = alice_portal.post(
        "/admin/accounts/user/add/",
        {"email": "dave@acme.example", "is_active": "on", "_save": "Save"},
    )
    assert response.status_code == 402
    assert "members" in response.content.decode()
    assert not User.objects.filter(email="dave@acme.example").exists()


def test_sources_past_the_plan_cannot_be_created(acme_plan, acme, tmp_path):
    acme_plan(sources=0)
    with pytest.raises(QuotaExceeded) as caught:
        filesystem_source(tmp_path)
    assert caught.value.status_code == 402
    assert caught.value.payload["limit"] == "sources"
    assert not Source.objects.exists()


def test_overrides_win_over_the_plan(acme_plan, alice_api):
    acme_plan(documents=0)
    Organization.objects.filter(slug="acme").update(quota_overrides={"documents": 5})
    assert upload(alice_api).status_code == 201


def test_organizations_without_a_plan_have_no_limits(world, db, carol_api):
    assert world.globex.organization.plan is None
    assert upload(carol_api).status_code == 201


def test_inviting_a_new_person_past_the_plan_is_402(acme_plan, alice_portal, acme):
    acme_plan(members=2)  # alice and bob
    response = alice_portal.post(
        "/accounts/members/?workspace=general", {"email": "erin@acme.example", "role": "viewer"}
    )
    assert response.status_code == 402
    assert "members" in response.content.decode()
    assert not User.objects.filter(email="erin@acme.example").exists()
    # Someone who already has an account is not a new member: adding them is allowed.
    added = alice_portal.post(
        "/accounts/members/?workspace=general", {"email": "bob@acme.example", "role": "viewer"}
    )
    assert added.status_code == 302


def test_a_sync_past_the_document_limit_fails_the_items_over_it(acme_plan, acme, tmp_path):
    from ingestion import sync

    acme_plan(documents=1)
    for name in ("a.md", "b.md"):
        (tmp_path / name).write_text(f"# {name}\n\nSome text of {name}.\n")
    source = filesystem_source(tmp_path)
    run = sync.source_sync(source_id=source.pk)
    assert (run.added, run.failed) == (1, 1)
    assert "documents" in run.item_errors[0]["error"]
    assert "Tiny" in run.item_errors[0]["error"]
    assert Document.objects.filter(synced_from=source).count() == 1
