"""The dashboard's figures, each one aggregate query in SQL over the query log.

Every function takes the workspaces to count (already checked: the caller administers
them) and a :class:`~analytics.period.Period`. Days are counted in the period's time
zone; a day without questions is there with zeros. Erased people's questions are
deleted with them (``search.erasure``), and a deleted workspace's with it, so neither
counts. Rates are None where there is nothing to divide by.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from analytics.period import Period
from ingestion.models import Document, DocumentStatus, Source, SyncRun, SyncStatus
from search.models import AnswerMode, Channel, Feedback, Question
from workspaces.models import Workspace


class Percentile(Aggregate):
    """Postgres ``percentile_cont``: the linear interpolation between the two nearest
    values (numpy's default), e.g. p50 of 100, 200, 300, 400 is 250."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        # A constant of this module, never input: safe in the SQL text.
        super().__init__(expression, fraction=float(fraction), **extra)


@dataclass(frozen=True)
class Figures:
    """What one day, channel or workspace counts."""

    questions: int = 0
    people: int = 0
    answered: int = 0
    not_in_documents: int = 0
    helpful: int = 0
    unhelpful: int = 0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def answered_rate(self) -> float | None:
        return round(self.answered / self.questions, 4) if self.questions else None

    @property
    def not_in_documents_rate(self) -> float | None:
        return round(self.not_in_documents / self.questions, 4) if self.questions else None

    @property
    def helpful_rate(self) -> float | None:
        rated = self.helpful + self.unhelpful
        return round(self.helpful / rated, 4) if rated else None

    @property
    def unhelpful_rate(self) -> float | None:
        rated = self.helpful + self.unhelpful
        return round(self.unhelpful / rated, 4) if rated else None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "answered_rate": self.answered_rate,
            "not_in_documents_rate": self.not_in_documents_rate,
            "helpful_rate": self.helpful_rate,
            "unhelpful_rate": self.unhelpful_rate,
            "tokens": self.tokens,
        }


FIGURES = [f.name for f in fields(Figures)]


@dataclass(frozen=True)
class Row:
    """Figures under a key: a day, a channel or a workspace."""

    key: str
    label: str
    figures: Figures


def _questions(workspaces: Iterable[Workspace], period: Period) -> QuerySet[Question]:
    return Question.objects.filter(
        workspace__in=list(workspaces),
        created_at__gte=period.start,
        created_at__lt=period.end,
    )


_QUESTION_AGGREGATES = {
    "questions": Count("id"),
    "people": Count("asked_by", distinct=True),
    "answered": Count("id", filter=~Q(mode=AnswerMode.NO_ANSWER)),
    "not_in_documents": Count("id", filter=Q(mode=AnswerMode.NO_ANSWER)),
    "latency_p50_ms": Percentile("latency_ms", 0.5),
    "latency_p95_ms": Percentile("latency_ms", 0.95),
    "prompt_tokens": Coalesce(Sum("prompt_tokens"), 0),
    "completion_tokens": Coalesce(Sum("completion_tokens"), 0),
    "cost_usd": Coalesce(Sum("cost_usd", output_field=FloatField()), 0.0),
}


def _grouped(
    questions: QuerySet[Question], key: Combinable, *, feedback_key: str | Combinable
) -> dict[object, Figures]:
    """Two queries: the questions' figures by ``key``, and their feedback by the same
    key seen from a vote (a field path or an expression), apart, so that a join with
    feedback cannot count a question twice."""
    # order_by(): the model's default ordering would join the GROUP BY.
    rows = questions.order_by().annotate(_key=key).values("_key").annotate(**_QUESTION_AGGREGATES)
    votes = {
        row["_key"]: row
        for row in Feedback.objects.filter(question__in=questions.values("pk"))
        .order_by()
        .annotate(_key=F(feedback_key) if isinstance(feedback_key, str) else feedback_key)
        .values("_key")
        .annotate(
            # Not "helpful": an annotation may not shadow the field it filters on.
            n_helpful=Count("id", filter=Q(helpful=True)),
            n_unhelpful=Count("id", filter=Q(helpful=False)),
        )
    }
    grouped = {}
    for row in rows:
        figures: dict[str, Any] = dict(row)
        vote: dict[str, Any] = dict(votes.get(figures["_key"], {}))
        grouped[figures["_key"]] = Figures(
            **{name: figures[name] for name in _QUESTION_AGGREGATES},
            helpful=vote.get("n_helpful", 0),
            unhelpful=vote.get("n_unhelpful", 0),
        )
    return grouped


def analytics_daily(*, workspaces: Iterable[Workspace], period: Period) -> list[Row]:
    """One row per day of the period (zeros on a day without questions), keyed by the
    ISO date in the period's time zone."""
    questions = _questions(workspaces, period)
    by_day = _grouped(
        questions,
        TruncDate("created_at", tzinfo=period.tz),
        feedback_key=TruncDate("question__created_at", tzinfo=period.tz),
    )
    return [
        Row(key=day.isoformat(), label=day.isoformat(), figures=by_day.get(day, Figures()))
        for day in period.days
    ]


def analytics_by_channel(*, workspaces: Iterable[Workspace], period: Period) -> list[Row]:
    """One row per channel questions came by (portal, API, ...), most used first."""
    by_channel = _grouped(
        _questions(workspaces, period), F("channel"), feedback_key="question__channel"
    )
    labels = dict(Channel.choices)
    rows = [
        Row(key=str(key or "unknown"), label=labels.get(str(key), "Not recorded"), figures=figures)
        for key, figures in by_channel.items()
    ]
    return sorted(rows, key=lambda row: (-row.figures.questions, row.key))


def analytics_by_workspace(*, workspaces: Iterable[Workspace], period: Period) -> list[Row]:
    """One row per workspace of ``workspaces`` (zeros for one without questions)."""
    workspaces = list(workspaces)
    by_workspace = _grouped(
        _questions(workspaces, period), F("workspace_id"), feedback_key="question__workspace_id"
    )
    rows = [
        Row(key=w.slug, label=w.name, figures=by_workspace.get(w.pk, Figures())) for w in workspaces
    ]
    return sorted(rows, key=lambda row: (-row.figures.questions, row.label))


def analytics_totals(*, workspaces: Iterable[Workspace], period: Period) -> Figures:
    """The whole period's figures (people counted once however many days they asked)."""
    grouped = _grouped(_questions(workspaces, period), Value(1), feedback_key=Value(1))
    return next(iter(grouped.values()), Figures())


# --- documents that carry the load --------------------------------------------------

# A document cited by at least this many questions in the period, whose content was last
# indexed this long ago, is "stale": much relied on, long unchanged.
STALE_DAYS = 180
STALE_MIN_QUESTIONS = 3
DOCUMENTS_SHOWN = 20


@dataclass(frozen=True)
class DocumentLoad:
    id: int
    title: str
    workspace: str
    questions: int  # questions whose answers cited it
    last_cited: dt.datetime | None
    indexed_at: dt.datetime | None


def _cited_sql() -> str:
    # Each citation of an answer names its document ("document_id"); a question citing a
    # document twice counts once. Documents erased since are gone from the citations
    # (search's erasure hook drops the answers that cite them).
    return f"""
        SELECT (c->>'document_id')::bigint AS document_id,
               COUNT(DISTINCT q.id) AS questions,
               MAX(q.created_at) AS last_cited
        FROM {Question._meta.db_table} q
        CROSS JOIN LATERAL jsonb_array_elements(q.citations) c
        WHERE q.workspace_id = ANY(%(workspaces)s)
          AND q.created_at >= %(start)s AND q.created_at < %(end)s
          AND c ? 'document_id'
        GROUP BY 1
    """  # noqa: S608 - table names of our models; every value is a parameter


def _documents(sql: str, params: dict) -> list[DocumentLoad]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [DocumentLoad(*row) for row in cursor.fetchall()]


def _params(workspaces: Iterable[Workspace], period: Period, **more) -> dict:
    return {
        "workspaces": [w.pk for w in workspaces],
        "start": period.start,
        "end": period.end,
        "limit": DOCUMENTS_SHOWN,
        **more,
    }


_DOCUMENT_COLUMNS = "d.id, d.title, w.name"


def _tables() -> dict[str, str]:
    return {"document": Document._meta.db_table, "workspace": Workspace._meta.db_table}


def _cited_documents_sql(condition: str = "") -> str:
    """The period's cited documents of the scope's workspaces with their citing questions,
    most cited first; ``condition`` narrows them (SQL over ``d`` and ``cited``)."""
    t = _tables()
    return f"""
        WITH cited AS ({_cited_sql()})
        SELECT {_DOCUMENT_COLUMNS}, cited.questions, cited.last_cited, d.indexed_at
        FROM cited
        JOIN {t["document"]} d ON d.id = cited.document_id
        JOIN {t["workspace"]} w ON w.id = d.workspace_id
        WHERE d.workspace_id = ANY(%(workspaces)s) {condition}
        ORDER BY cited.questions DESC, d.id
        LIMIT %(limit)s
    """  # noqa: S608 - table names of our models; every value is a parameter


def documents_most_cited(*, workspaces: Iterable[Workspace], period: Period) -> list[DocumentLoad]:
    """The documents the period's answers cited most (by questions), most first."""
    return _documents(_cited_documents_sql(), _params(workspaces, period))


def documents_never_cited(
    *, workspaces: Iterable[Workspace], period: Period
) -> tuple[int, list[DocumentLoad]]:
    """How many indexed documents no answer of the period cited, and the oldest of them."""
    t = _tables()
    base = f"""
        WITH cited AS ({_cited_sql()})
        SELECT {{columns}}
        FROM {t["document"]} d
        JOIN {t["workspace"]} w ON w.id = d.workspace_id
        WHERE d.workspace_id = ANY(%(workspaces)s) AND d.status = %(indexed)s
          AND NOT EXISTS (SELECT 1 FROM cited WHERE cited.document_id = d.id)
    """  # noqa: S608 - table names of our models; every value is a parameter
    params = _params(workspaces, period, indexed=DocumentStatus.INDEXED)
    with connection.cursor() as cursor:
        cursor.execute(base.format(columns="COUNT(*)"), params)
        (count,) = cursor.fetchone()
    rows = _documents(
        base.format(columns=f"{_DOCUMENT_COLUMNS}, 0, NULL::timestamptz, d.indexed_at")
        + " ORDER BY d.created_at, d.id LIMIT %(limit)s",
        params,
    )
    return count, rows


def documents_stale(
    *, workspaces: Iterable[Workspace], period: Period, now: dt.datetime | None = None
) -> list[DocumentLoad]:
    """Documents cited by at least ``STALE_MIN_QUESTIONS`` questions of the period whose
    content was last indexed more than ``STALE_DAYS`` ago (an unchanged file is not
    indexed again by a sync, so ``indexed_at`` is when its content last changed)."""
    before = (now or timezone.now()) - dt.timedelta(days=STALE_DAYS)
    sql = _cited_documents_sql(
        "AND cited.questions >= %(minimum)s AND COALESCE(d.indexed_at, d.created_at) < %(before)s"
    )
    return _documents(sql, _params(workspaces, period, minimum=STALE_MIN_QUESTIONS, before=before))


@dataclass(frozen=True)
class FailingSource:
    id: int
    name: str
    workspace: str
    consecutive_failures: int
    last_error: str
    last_failed_at: dt.datetime | None


def sources_failing(*, workspaces: Iterable[Workspace]) -> list[FailingSource]:
    """Sources whose last syncs failed, the most failures first, with the last error."""
    last_failed = SyncRun.objects.filter(source=OuterRef("pk"), status=SyncStatus.FAILED).order_by(
        "-finished_at", "-pk"
    )
    rows = (
        Source.objects.filter(workspace__in=list(workspaces), consecutive_failures__gt=0)
        .annotate(
            last_error=Subquery(last_failed.values("error_message")[:1]),
            last_failed_at=Subquery(last_failed.values("finished_at")[:1]),
        )
        .order_by("-consecutive_failures", "name", "pk")
        .values_list(
            "pk", "name", "workspace__name", "consecutive_failures", "last_error", "last_failed_at"
        )
    )
    return [
        FailingSource(pk, name, workspace, failures, error or "", at)
        for pk, name, workspace, failures, error, at in rows
    ]
