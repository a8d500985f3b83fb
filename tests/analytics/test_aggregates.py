"""The dashboard's figures against the seeded history, worked out by hand (conftest)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from analytics.period import Period
from analytics.selectors import (
    analytics_by_channel,
    analytics_by_workspace,
    analytics_daily,
    analytics_totals,
)
from workspaces.models import Workspace


def test_days_in_berlin_with_empty_days(history):
    days = analytics_daily(workspaces=[history.general], period=history.period)
    assert [row.key for row in days] == [f"2026-03-0{d}" for d in range(1, 8)]
    by_day = {row.key: row.figures for row in days}
    first = by_day["2026-03-01"]
    assert (first.questions, first.people, first.answered, first.not_in_documents) == (1, 1, 1, 0)
    assert (first.helpful, first.unhelpful, first.helpful_rate) == (1, 1, 0.5)
    assert (first.latency_p50_ms, first.latency_p95_ms) == (100, 100)
    assert (first.prompt_tokens, first.completion_tokens, first.cost_usd) == (10, 5, 0.001)
    second = by_day["2026-03-02"]  # q2 (23:30 UTC on the 1st), q3, q4
    assert (second.questions, second.people, second.answered, second.not_in_documents) == (
        3,
        2,
        2,
        1,
    )
    assert second.answered_rate == round(2 / 3, 4)
    assert (second.helpful, second.unhelpful) == (1, 1)
    # 200, 300, 400: p50 is 300; p95 lies 0.9 of the way from 300 to 400.
    assert second.latency_p50_ms == 300
    assert second.latency_p95_ms == pytest.approx(390)
    assert second.tokens == 150
    for empty in ("2026-03-03", "2026-03-04", "2026-03-06", "2026-03-07"):
        figures = by_day[empty]
        assert figures.questions == 0
        assert figures.answered_rate is None
        assert figures.latency_p50_ms is None
    fifth = by_day["2026-03-05"]
    assert (fifth.questions, fifth.not_in_documents, fifth.not_in_documents_rate) == (1, 1, 1.0)
    assert fifth.helpful_rate is None


def test_the_same_days_in_utc_move_the_questions_near_midnight(history):
    utc = Period(first=dt.date(2026, 3, 1), last=dt.date(2026, 3, 7), tz=ZoneInfo("UTC"))
    by_day = {
        row.key: row.figures.questions
        for row in analytics_daily(workspaces=[history.general], period=utc)
    }
    # q2 is on the 1st in UTC; q6 (23:30 UTC on the 7th) is inside; q0 stays outside.
    assert by_day["2026-03-01"] == 2
    assert by_day["2026-03-02"] == 2
    assert by_day["2026-03-07"] == 1
    assert sum(by_day.values()) == 6


def test_totals_count_people_once(history):
    totals = analytics_totals(workspaces=[history.general], period=history.period)
    assert (totals.questions, totals.people, totals.answered, totals.not_in_documents) == (
        5,
        2,
        3,
        2,
    )
    assert (totals.helpful, totals.unhelpful) == (2, 2)
    # 50, 100, 200, 300, 400
    assert totals.latency_p50_ms == 200
    assert totals.latency_p95_ms == pytest.approx(380)
    assert totals.cost_usd == pytest.approx(0.011)


def test_by_channel(history):
    rows = {
        row.key: row.figures
        for row in analytics_by_channel(workspaces=[history.general], period=history.period)
    }
    assert set(rows) == {"api", "portal"}
    assert (rows["api"].questions, rows["api"].not_in_documents) == (3, 1)
    assert (rows["api"].helpful, rows["api"].unhelpful) == (1, 1)
    assert (rows["portal"].questions, rows["portal"].people) == (2, 1)


def test_by_workspace_and_a_deleted_workspace(history):
    every = list(Workspace.objects.all())
    assert "gone" not in {w.slug for w in every}
    rows = {
        row.key: row.figures
        for row in analytics_by_workspace(workspaces=every, period=history.period)
    }
    assert rows["general"].questions == 5
    assert rows["sales"].questions == 1
    totals = analytics_totals(workspaces=every, period=history.period)
    assert totals.questions == 6  # the deleted workspace's question is gone with it
    assert totals.people == 3


def test_an_erased_persons_questions_leave_the_figures(history):
    from accounts.models import User
    from opaa.actions.erasure import user_erase

    user_erase(user=User.objects.get(email="ana@acme.example"))
    totals = analytics_totals(workspaces=[history.general], period=history.period)
    # Left: q1, q2, q5 (alice); q1's 👎 was ana's and went with her.
    assert (totals.questions, totals.people, totals.helpful, totals.unhelpful) == (3, 1, 1, 1)
