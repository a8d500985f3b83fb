"""The answer-quality dashboard's reads: golden questions, runs, and their series.

Document titles are read through the viewer's reader scope: a document they may not
read shows as "a document you cannot open", never by its title.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import User
from analytics.golden import RUN_STALE, authors_runnable
from analytics.models import GoldenQuestion, GoldenRun, GoldenStatus
from analytics.period import Period
from analytics.selectors import analytics_daily
from ingestion.models import DocumentStatus
from ingestion.selectors import documents_readable
from workspaces.models import Workspace

RUNS_LISTED = 20
HIDDEN_TITLE = "a document you cannot open"


@dataclass(frozen=True)
class QualityDay:
    """One day: the last finished run's means that day, and the day's feedback."""

    day: dt.date
    ndcg: float | None
    recall: float | None
    correct: float | None
    helpful_rate: float | None
    run_id: int | None


def quality_daily(*, workspace: Workspace, period: Period) -> list[QualityDay]:
    """Per day of ``period``: the means of the day's last finished run (None without a
    run that day) beside the day's helpful rate (the dashboard's feedback figure)."""
    runs = (
        GoldenRun.objects.filter(
            workspace=workspace,
            status=GoldenStatus.DONE,
            finished_at__gte=period.start,
            finished_at__lt=period.end,
        )
        .annotate(day=TruncDate("finished_at", tzinfo=period.tz))
        .order_by("finished_at", "pk")
        .values("pk", "day", "ndcg", "recall", "correct")
    )
    # Ordered by time: the day's last run wins.
    last: dict[dt.date, dict] = {run["day"]: dict(run) for run in runs}
    feedback = {
        row.key: row.figures.helpful_rate
        for row in analytics_daily(workspaces=[workspace], period=period)
    }
    days = []
    for day in period.days:
        run = last.get(day, {})
        days.append(
            QualityDay(
                day=day,
                ndcg=run.get("ndcg"),
                recall=run.get("recall"),
                correct=run.get("correct"),
                helpful_rate=feedback.get(day.isoformat()),
                run_id=run.get("pk"),
            )
        )
    return days


def runs_recent(*, workspace: Workspace, limit: int = RUNS_LISTED) -> list[GoldenRun]:
    return list(
        GoldenRun.objects.filter(workspace=workspace)
        .select_related("requested_by")
        .order_by("-created_at", "-pk")[:limit]
    )


def run_active(*, workspace: Workspace, now: dt.datetime | None = None) -> GoldenRun | None:
    """The run queued or running now (not one a dead worker left long ago)."""
    now = now or timezone.now()
    return (
        GoldenRun.objects.filter(
            workspace=workspace,
            status__in=(GoldenStatus.QUEUED, GoldenStatus.RUNNING),
            created_at__gte=now - RUN_STALE,
        )
        .order_by("-created_at")
        .first()
    )


def run_last_done(*, workspace: Workspace) -> GoldenRun | None:
    return (
        GoldenRun.objects.filter(workspace=workspace, status=GoldenStatus.DONE)
        .order_by("-finished_at", "-pk")
        .first()
    )


def _titles(viewer: User, workspace: Workspace, ids: Iterable[int]) -> dict[int, str]:
    """Titles of the documents ``viewer`` may read among ``ids``."""
    return dict(
        documents_readable(viewer, workspaces=[workspace])
        .filter(pk__in=set(ids))
        .values_list("pk", "title")
    )


@dataclass(frozen=True)
class GoldenRow:
    """A golden question as the dashboard lists it, with its last result."""

    id: int
    text: str
    expect_answer: bool
    documents: list[tuple[int, str]]  # (id, title or HIDDEN_TITLE) of the expected ones
    author: str
    runnable: bool
    result: dict | None
    found: list[tuple[int, str, bool]]  # (id, title, expected) of the last run's top 10


def golden_rows(*, workspace: Workspace, viewer: User, last: GoldenRun | None) -> list[GoldenRow]:
    goldens = list(
        GoldenQuestion.objects.filter(workspace=workspace)
        .select_related("created_by")
        .order_by("pk")
    )
    results = {r["golden"]: r for r in (last.results if last else [])}
    ids = {d for g in goldens for d in g.documents}
    ids |= {d for r in results.values() for d in r.get("found", [])}
    titles = _titles(viewer, workspace, ids)
    runnable = authors_runnable(goldens, workspace)
    rows = []
    for golden in goldens:
        result = results.get(golden.pk)
        expected = set(golden.documents)
        rows.append(
            GoldenRow(
                id=golden.pk,
                text=golden.text,
                expect_answer=golden.expect_answer,
                documents=[(d, titles.get(d, HIDDEN_TITLE)) for d in golden.documents],
                author=golden.created_by.email if golden.created_by else "a deleted account",
                runnable=golden.created_by_id in runnable,
                result=result,
                found=[
                    (d, titles.get(d, HIDDEN_TITLE), d in expected)
                    for d in (result or {}).get("found", [])
                ],
            )
        )
    return rows


def documents_choices(*, workspace: Workspace, viewer: User, limit: int = 500) -> list:
    """The indexed documents ``viewer`` may pick as a golden question's answer."""
    return list(
        documents_readable(viewer, workspaces=[workspace])
        .filter(status=DocumentStatus.INDEXED)
        .order_by("title", "pk")
        .values_list("pk", "title")[:limit]
    )
