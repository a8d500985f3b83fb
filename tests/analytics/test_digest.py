"""The weekly email of new knowledge gaps: opt-in, admins only, once a week."""

from __future__ import annotations

import datetime as dt

from django.core import mail

from accounts.models import User
from analytics.digest import digest_subscribe, gaps_digest_send
from analytics.models import GapDigestSubscription
from search.models import AnswerMode
from tests.analytics.conftest import ask
from tests.conftest import portal_client
from workspaces.models import Membership, Role

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
VPN = "How do I reset my VPN password?"


def _subscribe(history, email: str) -> User:
    user = User.objects.get(email=email)
    digest_subscribe(
        workspace=history.general, user=user, base_url="http://acme.localhost:8000/", on=True
    )
    return user


def test_subscribers_get_the_new_gaps_once(history, settings):
    ask(
        history.general,
        User.objects.get(email="alice@acme.example"),
        "2026-03-09T10:00",
        text=VPN,
        mode=AnswerMode.NO_ANSWER,
    )
    _subscribe(history, "ana@acme.example")
    assert gaps_digest_send(now=NOW) == 1
    (email,) = mail.outbox
    assert email.to == ["ana@acme.example"]
    assert "General" in email.subject
    assert VPN in email.body
    assert "http://acme.localhost:8000/analytics/gaps/?workspace=general&days=7" in email.body
    # The seeded history's weak questions of early March are older than a week: not new.
    assert history.questions["q2"].text not in email.body
    # A second run (beat twice, a retry) sends nothing again.
    assert gaps_digest_send(now=NOW + dt.timedelta(hours=1)) == 0
    assert len(mail.outbox) == 1


def test_no_email_for_a_former_admin_or_without_question_text(history, settings):
    ask(
        history.general,
        User.objects.get(email="alice@acme.example"),
        "2026-03-09T10:00",
        text=VPN,
        mode=AnswerMode.NO_ANSWER,
    )
    ana = _subscribe(history, "ana@acme.example")
    Membership.objects.filter(user=ana, workspace=history.general).update(role=Role.VIEWER)
    assert gaps_digest_send(now=NOW) == 0
    Membership.objects.filter(user=ana, workspace=history.general).update(role=Role.ADMIN)
    GapDigestSubscription.objects.update(last_sent_at=None)
    settings.AUDIT_RECORD_QUESTION_TEXT = False
    assert gaps_digest_send(now=NOW) == 1
    assert VPN not in mail.outbox[0].body
    assert "question text is not kept" in mail.outbox[0].body


def test_the_gaps_page_turns_it_on_and_off(history, world):
    ana = portal_client(world.acme, "ana@acme.example")
    page = ana.get("/analytics/gaps/", {"workspace": "general"})
    assert "Email me new gaps weekly" in page.content.decode()
    response = ana.post("/analytics/gaps/digest?workspace=general", {"on": "1"})
    assert response.status_code == 302
    subscription = GapDigestSubscription.objects.get()
    assert subscription.user.email == "ana@acme.example"
    assert subscription.base_url == "http://acme.localhost/"
    assert (
        "Stop the weekly email"
        in ana.get("/analytics/gaps/", {"workspace": "general"}).content.decode()
    )
    ana.post("/analytics/gaps/digest?workspace=general", {"on": "0"})
    assert not GapDigestSubscription.objects.exists()
    vera = portal_client(world.acme, "vera@acme.example")
    assert vera.post("/analytics/gaps/digest?workspace=general", {"on": "1"}).status_code == 403


def test_beat_emails_the_gaps_of_active_organizations_only(history, world):
    from django.db import connection
    from django.utils import timezone

    from analytics.tasks import gaps_digest_all
    from tenants.suspension import organization_resume, organization_suspend

    recently = (timezone.now() - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    ask(
        history.general,
        User.objects.get(email="alice@acme.example"),
        recently,
        text=VPN,
        mode=AnswerMode.NO_ANSWER,
    )
    _subscribe(history, "ana@acme.example")
    organization = world.acme.organization

    organization_suspend(organization=organization)
    connection.set_schema_to_public()
    gaps_digest_all.apply()  # beat's task (eager: the per-organization tasks run too)
    assert mail.outbox == []

    organization_resume(organization=organization)
    connection.set_schema_to_public()
    gaps_digest_all.apply()
    assert [email.to for email in mail.outbox] == [["ana@acme.example"]]
    connection.set_tenant(organization)
