"""The organization's maximum token lifetime: set by the owner, enforced at creation."""

from __future__ import annotations

import pytest

from accounts.audit import AuditAction
from accounts.models import AccessSettings, AuditEvent
from tests.conftest import portal_client

NEW = {"name": "ci", "scopes": ["ask"], "workspaces": ["general"]}


@pytest.fixture
def env_max_30(settings):
    settings.TOKEN_MAX_DAYS = 30


def test_without_a_setting_the_environments_maximum_applies(acme, alice_api, env_max_30):
    too_long = alice_api.post("/api/v1/tokens", {**NEW, "expires_in_days": 31}, format="json")
    assert too_long.status_code == 400
    assert "1 to 30 days" in too_long.json()["expires_in_days"][0]
    ok = alice_api.post("/api/v1/tokens", {**NEW, "expires_in_days": 30}, format="json")
    assert ok.status_code == 201


def test_the_owner_sets_a_shorter_maximum_in_the_portal(acme, alice_portal, alice_api, env_max_30):
    page = alice_portal.get("/accounts/settings/")
    assert page.status_code == 200
    assert b"30 days" in page.content

    assert alice_portal.post("/accounts/settings/", {"token_max_days": "7"}).status_code == 302

    assert AccessSettings.current().token_max_days == 7
    refused = alice_api.post("/api/v1/tokens", {**NEW, "expires_in_days": 8}, format="json")
    assert refused.status_code == 400
    assert "at most 7" in refused.json()["expires_in_days"][0]
    ok = alice_api.post("/api/v1/tokens", {**NEW, "expires_in_days": 7}, format="json")
    assert ok.status_code == 201
    # The portal's token form refuses the same, and says the organization's maximum.
    form = alice_portal.post(
        "/accounts/tokens/",
        {"name": "x", "scopes": "ask", "workspaces": "general", "expires_in_days": "8"},
    )
    assert form.status_code == 400
    assert b"at most 7" in form.content
    event = AuditEvent.objects.get(action=AuditAction.ACCESS_SETTINGS_CHANGED)
    assert event.actor_email == "alice@acme.example"
    assert event.extra == {"token_max_days": [None, 7], "tokens_shortened": 0}


def test_lowering_the_maximum_shortens_tokens_that_would_outlive_it(
    acme, alice_portal, alice_api, env_max_30
):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import ApiToken

    made = {
        days: alice_api.post(
            "/api/v1/tokens", {**NEW, "name": f"d{days}", "expires_in_days": days}, format="json"
        ).json()
        for days in (3, 30)
    }
    alice_portal.post("/accounts/settings/", {"token_max_days": "7"})

    short, long = (ApiToken.objects.get(pk=made[days]["id"]) for days in (3, 30))
    assert short.expires_at < timezone.now() + timedelta(days=3, minutes=1)  # untouched
    now = timezone.now()
    assert now + timedelta(days=7) - timedelta(minutes=1) < long.expires_at
    assert long.expires_at <= now + timedelta(days=7)
    # The token list shows the new expiry.
    listed = {t["id"]: t for t in alice_api.get("/api/v1/tokens").json()["results"]}
    assert listed[long.pk]["expires_at"].startswith(long.expires_at.date().isoformat())
    event = AuditEvent.objects.get(action=AuditAction.ACCESS_SETTINGS_CHANGED)
    assert event.extra["tokens_shortened"] == 1


def test_a_longer_maximum_than_the_environments_is_allowed_up_to_ten_years(
    acme, alice_portal, alice_api, env_max_30
):
    alice_portal.post("/accounts/settings/", {"token_max_days": "400"})
    ok = alice_api.post("/api/v1/tokens", {**NEW, "expires_in_days": 400}, format="json")
    assert ok.status_code == 201
    # Emptying the field returns to the environment's maximum.
    alice_portal.post("/accounts/settings/", {"token_max_days": ""})
    assert AccessSettings.current().token_max_days is None
    too_long = alice_api.post("/api/v1/tokens", {**NEW, "expires_in_days": 31}, format="json")
    assert too_long.status_code == 400


@pytest.mark.parametrize("value", ["0", "3651", "seven", "-3"])
def test_bad_values_are_a_400_and_change_nothing(acme, alice_portal, value):
    response = alice_portal.post("/accounts/settings/", {"token_max_days": value})
    assert response.status_code == 400
    assert AccessSettings.current().pk is None
    assert not AuditEvent.objects.filter(action=AuditAction.ACCESS_SETTINGS_CHANGED).exists()


def test_only_the_owner_may_see_or_change_it(acme, world):
    bob = portal_client(world.acme, "bob@acme.example")
    assert bob.get("/accounts/settings/").status_code == 403
    assert bob.post("/accounts/settings/", {"token_max_days": "3650"}).status_code == 403
    assert AccessSettings.current().pk is None


def test_the_admin_edits_it_through_the_audited_service(acme, alice_portal):
    response = alice_portal.post("/admin/accounts/accesssettings/add/", {"token_max_days": "14"})
    assert response.status_code == 302, response.content[:2000]
    assert AccessSettings.current().token_max_days == 14
    assert AuditEvent.objects.filter(action=AuditAction.ACCESS_SETTINGS_CHANGED).count() == 1
    assert alice_portal.get("/admin/accounts/accesssettings/add/").status_code == 403
