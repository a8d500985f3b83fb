"""A seeded history of questions in Acme, with figures worked out by hand.

Days are counted in Europe/Berlin (UTC+1 in early March), so two questions sit on the
other side of midnight than in UTC. Period: 2026-03-01 to 2026-03-07.

General (alice owns Acme; ana administers General; vera views it):

==  =================  ======  ==========  =======  ======  ==========  =============
q   UTC                Berlin  by          mode     ms      tokens      channel
==  =================  ======  ==========  =======  ======  ==========  =============
q0  02-28 22:30        02-28   ana         llm      999     —           portal (before)
q1  03-01 10:00        03-01   alice       extr.    100     10+5 $0.001 portal
q2  03-01 23:30        03-02   alice       no_ans.  300     —           api
q3  03-02 08:00        03-02   ana         llm      200     100+50 $.01 api
q4  03-02 09:00        03-02   ana         llm      400     —           api
q5  03-05 12:00        03-05   alice       no_ans.  50      —           portal
q6  03-07 23:30        03-08   ana         llm      999     —           portal (after)
==  =================  ======  ==========  =======  ======  ==========  =============

Feedback: q1 👍 alice, q1 👎 ana, q2 👎 alice, q3 👍 ana. Sales has one question on
03-02 (bob); the workspace "Gone" had one on 03-02 and was deleted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from accounts.audit import AuditContext
from accounts.models import User
from analytics.period import Period
from search.models import AnswerMode, Feedback, Question
from tests.conftest import PASSWORD
from workspaces.models import Membership, Role, Workspace
from workspaces.services import membership_save, workspace_delete

BERLIN = "Europe/Berlin"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@dataclass
class History:
    general: Workspace
    sales: Workspace
    questions: dict[str, Question]
    period: Period


def ask(workspace, user, when, *, mode=AnswerMode.LLM, ms=100, channel="portal", text="", **kw):
    question = Question.objects.create(
        workspace=workspace,
        asked_by=user,
        text=text or f"question at {when}",
        answer="an answer",
        mode=mode,
        latency_ms=ms,
        channel=channel,
        **kw,
    )
    Question.objects.filter(pk=question.pk).update(created_at=at(when))
    return question


def member(email: str, workspace: Workspace, role: str) -> User:
    user = User.objects.filter(email=email).first() or User.objects.create_user(email, PASSWORD)
    membership_save(
        membership=Membership(workspace=workspace, user=user, role=role), audit=AuditContext()
    )
    return user


@pytest.fixture
def history(acme) -> History:
    from zoneinfo import ZoneInfo

    general = Workspace.objects.get(slug="general")
    sales = Workspace.objects.get(slug="sales")
    alice = User.objects.get(email="alice@acme.example")
    bob = User.objects.get(email="bob@acme.example")
    ana = member("ana@acme.example", general, Role.ADMIN)
    member("vera@acme.example", general, Role.VIEWER)
    q = {
        "q0": ask(general, ana, "2026-02-28T22:30", ms=999),
        "q1": ask(
            general,
            alice,
            "2026-03-01T10:00",
            mode=AnswerMode.EXTRACTIVE,
            ms=100,
            prompt_tokens=10,
            completion_tokens=5,
            cost_usd=Decimal("0.001"),
        ),
        "q2": ask(
            general, alice, "2026-03-01T23:30", mode=AnswerMode.NO_ANSWER, ms=300, channel="api"
        ),
        "q3": ask(
            general,
            ana,
            "2026-03-02T08:00",
            ms=200,
            channel="api",
            prompt_tokens=100,
            completion_tokens=50,
            cost_usd=Decimal("0.01"),
        ),
        "q4": ask(general, ana, "2026-03-02T09:00", ms=400, channel="api"),
        "q5": ask(general, alice, "2026-03-05T12:00", mode=AnswerMode.NO_ANSWER, ms=50),
        "q6": ask(general, ana, "2026-03-07T23:30", ms=999),
        "sales": ask(sales, bob, "2026-03-02T10:00", ms=700),
    }
    Feedback.objects.create(question=q["q1"], user=alice, helpful=True)
    Feedback.objects.create(question=q["q1"], user=ana, helpful=False)
    Feedback.objects.create(question=q["q2"], user=alice, helpful=False)
    Feedback.objects.create(question=q["q3"], user=ana, helpful=True)
    gone = Workspace.objects.create(name="Gone", slug="gone")
    ask(gone, alice, "2026-03-02T10:00", ms=5000)
    workspace_delete(workspace=gone, audit=AuditContext())
    period = Period(first=dt.date(2026, 3, 1), last=dt.date(2026, 3, 7), tz=ZoneInfo(BERLIN))
    return History(general=general, sales=sales, questions=q, period=period)
