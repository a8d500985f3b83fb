"""Usage metering per organization per day, shown to the owner and to operators."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone
from django_redis import get_redis_connection
from django_tenants.utils import schema_context

from accounts.models import User
from ingestion.models import Document, SyncRun
from search.models import Question
from tenants import metering
from tenants.models import Organization, UsageDay
from tenants.tasks import usage_measure_all
from tests.conftest import PASSWORD, filesystem_source
from tests.fakes.openai_server import FakeOpenAIServer

DOC = b"# Parking\n\nVisitors park on level minus two, bay numbers 200 to 240.\n"
LOCKERS = b"# Lockers\n\nLockers on the ground floor open with the staff card.\n"


@pytest.fixture
def fresh_counters(world):
    redis = get_redis_connection("default")

    def clear():
        for org in (world.acme, world.globex):
            for key in redis.scan_iter(f"opaa:quota:{org.organization.pk}:*"):
                redis.delete(key)

    clear()
    yield
    clear()


def today(slug: str) -> UsageDay:
    return UsageDay.objects.get(organization__slug=slug, day=timezone.now().date())


def test_questions_tokens_and_uploads_are_metered_per_day(
    fresh_counters, alice_api, upload_indexed
):
    document = upload_indexed(alice_api, "parking.md", DOC)
    usage = today("acme")
    assert (usage.documents_added, usage.documents, usage.storage_bytes) == (1, 1, len(DOC))

    with (
        FakeOpenAIServer(api_key="sk-meter", reply=lambda m: "Level minus two [1].") as llm,
        override_settings(LLM_API_BASE=llm.base_url, LLM_API_KEY="sk-meter", LLM_MODEL="m"),
    ):
        first = alice_api.post("/api/v1/ask", {"question": "Where do visitors park?"}).json()
        alice_api.post("/api/v1/ask", {"question": "Which bays are for visitors?"})
    assert first["mode"] == "llm"
    with schema_context("acme"):
        asked = Question.objects.filter(
            text__in=["Where do visitors park?", "Which bays are for visitors?"]
        )
        tokens = sum(q.prompt_tokens + q.completion_tokens for q in asked)
    assert tokens > 0
    usage = today("acme")
    assert usage.questions == 2
    assert usage.llm_tokens == tokens
    # Globex asked nothing.
    assert not UsageDay.objects.filter(organization__slug="globex", questions__gt=0).exists()
    assert document["id"]


def test_measurement_counts_levels_and_sync_runs_and_never_lowers_counts(
    fresh_counters, world, db, alice_api, upload_indexed
):
    upload_indexed(alice_api, "parking.md", DOC)
    alice_api.post("/api/v1/ask", {"question": "Where do visitors park?"})
    with schema_context("acme"):
        source = filesystem_source("/tmp")
        SyncRun.objects.create(source=source, trigger="manual", started_at=timezone.now())
        Question.objects.all().delete()  # e.g. a retention purge: asked is still asked
    connection.set_schema_to_public()
    assert usage_measure_all.apply().result >= 2
    usage = today("acme")
    assert usage.sync_runs == 1
    assert usage.documents == 1
    assert usage.storage_bytes == len(DOC)
    assert usage.questions == 1
    assert usage.measured_at is not None
    # Measuring twice writes the same row.
    again = metering.usage_measure(organization=Organization.objects.get(slug="acme"))
    assert (again.sync_runs, again.documents, again.questions) == (1, 1, 1)

    # Measured today: an upload adds itself to the measured levels (nothing counted
    # again); a deletion shows at the next measurement.
    upload_indexed(alice_api, "lockers.md", LOCKERS)
    usage = today("acme")
    assert (usage.documents, usage.storage_bytes) == (2, len(DOC) + len(LOCKERS))
    assert usage.documents_added == 2
    with schema_context("acme"):
        Document.objects.filter(original_filename="parking.md").delete()
    connection.set_schema_to_public()
    metering.usage_measure(organization=Organization.objects.get(slug="acme"))
    assert (today("acme").documents, today("acme").storage_bytes) == (1, len(LOCKERS))


def test_the_owner_sees_usage_and_plan(fresh_counters, world, db, alice_portal, alice_api):
    alice_api.post("/api/v1/ask", {"question": "Where do visitors park?"})
    page = alice_portal.get("/usage/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Usage & plan" in body  # {% translate %} output is not escaped
    assert "unlimited" in body  # Acme has no plan
    assert 'id="limit-questions_per_day"' in body
    row = body.split('id="limit-questions_per_day"')[1].split("</tr>")[0]
    assert "<td>1</td>" in row


def test_usage_page_is_for_the_owner_only(world, db, acme):
    bob = Client(HTTP_HOST="acme.localhost")
    bob.force_login(User.objects.get(email="bob@acme.example"))
    assert bob.get("/usage/").status_code == 403
    anonymous = Client(HTTP_HOST="acme.localhost").get("/usage/")
    assert anonymous.status_code == 302


def test_each_owner_sees_only_their_own_organization(
    fresh_counters, world, db, alice_api, carol_portal
):
    alice_api.post("/api/v1/ask", {"question": "Where do visitors park?"})
    body = carol_portal.get("/usage/").content.decode()
    assert "Globex" in body
    assert "Acme" not in body
    row = body.split('id="limit-questions_per_day"')[1].split("</tr>")[0]
    assert "<td>0</td>" in row


def test_operators_see_usage_in_the_organization_list(fresh_counters, world, db, alice_api):
    alice_api.post("/api/v1/ask", {"question": "Where do visitors park?"})
    connection.set_schema_to_public()
    staff = User.objects.create_superuser("ops-usage@opaa.example", PASSWORD)
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    body = client.get("/admin/tenants/organization/").content.decode()
    assert "Questions today" in body
    acme_row = body.split(">Acme<")[1].split("</tr>")[0]
    assert '<td class="field-questions_today">1</td>' in acme_row
    usage = client.get("/admin/tenants/usageday/")
    assert usage.status_code == 200
