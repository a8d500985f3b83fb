"""Questions grouped by meaning: the top questions, and the knowledge gaps.

Reads the period's questions (at most ``MAX_GROUPED``, the most recent) with their
feedback counts in one query, makes sure each has a vector (``services``), clusters
them (``clustering``) and sums each group's figures. Question text is only returned
when the scope allows it (``AnalyticsScope.show_text``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from pgvector.django import CosineDistance

from analytics.clustering import SIMILARITY, clusters_of, normalized, similarity_to
from analytics.models import GapResolution, QuestionVector
from analytics.period import Period
from analytics.scope import AnalyticsScope
from analytics.services import embedder_current, question_vectors_ensure
from infra.celery import app
from search.confidence import confidence_label
from search.models import AnswerMode, Feedback, Question
from search.retrieval import hybrid_search
from workspaces.readers import ReaderScope

# Clustering is quadratic in the number of questions: beyond this many in a period,
# the most recent are grouped (the page says so).
MAX_GROUPED = 2000
# Questions a page embeds itself (about 5 s on a busy CPU); the rest are embedded by a
# task, and the page groups what has a vector meanwhile (it says how many wait).
INLINE_EMBED_MAX = 200
VECTORS_FILL_TASK = "analytics.tasks.question_vectors_fill"
EXAMPLES = 3
PASSAGES = 3
# Gaps a page searches passages for (one hybrid search each); the rest show none.
GAPS_SEARCHED = 10


@dataclass
class QuestionGroup:
    question_ids: list[int]
    questions: int
    people: int
    answered: int
    helpful: int
    unhelpful: int
    representative: str | None  # None: question text is not shown to this caller
    examples: list[str]
    first_asked: dt.datetime
    last_asked: dt.datetime
    workspace_id: int
    centroid: np.ndarray = field(repr=False)
    passages: list[dict] = field(default_factory=list)
    # What a search for the gap's passages looks for (never shown: it is question text).
    search_text: str = field(default="", repr=False)
    # Knowledge gaps: the resolution this group matches, and the weak questions since it.
    resolution: GapResolution | None = None
    weak_since_resolved: int = 0
    # The question the representative text is of (a golden question is added from it).
    representative_id: int = 0

    @property
    def answered_rate(self) -> float:
        return round(self.answered / self.questions, 4)

    @property
    def status(self) -> str:
        if self.resolution is None:
            return "open"
        return "reopened" if self.weak_since_resolved else "resolved"


@dataclass(frozen=True)
class Grouping:
    groups: list[QuestionGroup]
    grouped: int  # questions grouped
    truncated: bool  # the period had more than MAX_GROUPED
    pending: int = 0  # questions left out until the task has embedded them


def _is_weak(row: dict) -> bool:
    return (
        row["mode"] == AnswerMode.NO_ANSWER
        or confidence_label(row["confidence"]) == "low"
        or row["n_unhelpful"] > 0
    )


def _rows(scope: AnalyticsScope, period: Period) -> tuple[list[dict], bool]:
    rows = list(
        Question.objects.filter(
            workspace__in=scope.workspaces,
            created_at__gte=period.start,
            created_at__lt=period.end,
        )
        .order_by("-created_at", "-pk")
        .annotate(
            n_helpful=Count("feedback", filter=Q(feedback__helpful=True)),
            n_unhelpful=Count("feedback", filter=Q(feedback__helpful=False)),
        )
        .values(
            "pk",
            "workspace_id",
            "asked_by_id",
            "text",
            "standalone_text",
            "mode",
            "confidence",
            "citations",
            "created_at",
            "n_helpful",
            "n_unhelpful",
        )[: MAX_GROUPED + 1]
    )
    truncated = len(rows) > MAX_GROUPED
    # Ascending ids: the clustering's input order, so the groups are reproducible.
    return sorted(rows[:MAX_GROUPED], key=lambda r: r["pk"]), truncated


def _vectors(rows: list[dict]) -> tuple[list[dict], dict[int, list[float]], int]:
    """The rows that have a vector now, their vectors, and how many wait for the task
    ``analytics.tasks.question_vectors_fill`` (sent once the transaction commits)."""
    vectors, pending = question_vectors_ensure(
        questions=[
            {
                "pk": r["pk"],
                "workspace_id": r["workspace_id"],
                "text": r["standalone_text"] or r["text"],
            }
            for r in rows
        ],
        inline_max=INLINE_EMBED_MAX,
    )
    if pending:
        # Sent by name: analytics.tasks imports the digest, which imports this module.
        transaction.on_commit(lambda: app.send_task(VECTORS_FILL_TASK, args=[pending]))
    return [r for r in rows if r["pk"] in vectors], vectors, len(pending)


def _grouped(
    rows: list[dict], vectors: dict[int, list[float]], scope: AnalyticsScope, *, with_passages: bool
) -> list[QuestionGroup]:
    if not rows:
        return []
    groups = []
    for cluster in clusters_of([vectors[r["pk"]] for r in rows]):
        members = [rows[i] for i in cluster.members]
        representative = rows[cluster.medoid]
        # Other wordings of the question: each once, never the representative's own.
        examples = list(dict.fromkeys(r["text"] for r in members))
        examples = [t for t in examples if t != representative["text"]][: EXAMPLES - 1]
        group = QuestionGroup(
            question_ids=[r["pk"] for r in members],
            questions=len(members),
            people=len({r["asked_by_id"] for r in members if r["asked_by_id"]}),
            answered=sum(r["mode"] != AnswerMode.NO_ANSWER for r in members),
            helpful=sum(r["n_helpful"] for r in members),
            unhelpful=sum(r["n_unhelpful"] for r in members),
            representative=representative["text"] if scope.show_text else None,
            examples=examples if scope.show_text else [],
            first_asked=min(r["created_at"] for r in members),
            last_asked=max(r["created_at"] for r in members),
            workspace_id=representative["workspace_id"],
            centroid=cluster.centroid,
            representative_id=representative["pk"],
        )
        if with_passages:
            group.passages = _passages(members)
            group.search_text = representative["standalone_text"] or representative["text"]
        groups.append(group)
    return groups


def _passages(members: list[dict]) -> list[dict]:
    """The passages these questions' answers cited most often (best first)."""
    counted: Counter = Counter()
    seen: dict = {}
    for row in members:
        for citation in row["citations"] or []:
            key = (citation.get("document_id"), citation.get("chunk_id"))
            counted[key] += 1
            seen.setdefault(key, citation)
    return [
        {
            "document_id": seen[key].get("document_id"),
            "document_title": seen[key].get("document_title", ""),
            "text": (seen[key].get("text") or "")[:300],
            "times": times,
        }
        for key, times in counted.most_common(PASSAGES)
    ]


def top_questions(*, scope: AnalyticsScope, period: Period) -> Grouping:
    """The period's questions grouped by meaning, most asked first (by people, then by
    questions)."""
    rows, truncated = _rows(scope, period)
    rows, vectors, pending = _vectors(rows)
    groups = _grouped(rows, vectors, scope, with_passages=False)
    groups.sort(key=lambda g: (-g.people, -g.questions, g.question_ids[0]))
    return Grouping(groups, len(rows), truncated, pending)


def _passages_found(groups: list[QuestionGroup], readers: ReaderScope) -> None:
    """For the first gaps whose answers cited nothing ("not in the documents"), the
    passages a search for the representative question finds now, among those the
    admin may read: what came closest, or proof that nothing does."""
    searched = [g for g in groups if not g.passages and g.status != "resolved"]
    for group in searched[:GAPS_SEARCHED]:
        found = hybrid_search(
            group.search_text, workspace_ids=[group.workspace_id], readers=readers, k=PASSAGES
        )
        group.passages = [
            {
                "document_id": p.document_id,
                "document_title": p.document_title,
                "text": p.text[:300],
                "times": 0,
            }
            for p in found
        ]


def knowledge_gaps(
    *, scope: AnalyticsScope, period: Period, readers: ReaderScope | None = None
) -> Grouping:
    """The period's weak questions (answered "not in the documents", with low
    confidence, or rated 👎) grouped by meaning, ranked by how many people asked them.

    A group within ``SIMILARITY`` of a gap an admin resolved carries that resolution,
    and counts the weak questions asked since: none, it is resolved; some, reopened.
    With ``readers`` (the admin's), gaps whose answers cited nothing get the passages a
    search finds now (``times`` 0).
    """
    rows, truncated = _rows(scope, period)
    weak, vectors, pending = _vectors([r for r in rows if _is_weak(r)])
    groups = _grouped(weak, vectors, scope, with_passages=True)
    resolutions = list(
        GapResolution.objects.filter(
            workspace__in=scope.workspaces, embedder=embedder_current()
        ).order_by("-resolved_at")
    )
    if resolutions:
        centroids = normalized([r.centroid for r in resolutions])
        by_id = {r["pk"]: r for r in weak}
        for group in groups:
            match = similarity_to(centroids, group.centroid)
            best = int(np.argmax(match))
            candidate = resolutions[best]
            if match[best] >= SIMILARITY and candidate.workspace_id == group.workspace_id:
                group.resolution = candidate
                group.weak_since_resolved = sum(
                    by_id[pk]["created_at"] >= candidate.resolved_at for pk in group.question_ids
                )
    groups.sort(key=lambda g: (g.status == "resolved", -g.people, -g.questions, g.question_ids[0]))
    if readers is not None:
        _passages_found(groups, readers)
    return Grouping(groups, len(weak), truncated, pending)


def resolution_reasked(*, resolution: GapResolution) -> tuple[int, int]:
    """Questions asked since ``resolution`` near its centroid (among those analytics has
    grouped), and how many of them were weak again: (asked, weak)."""
    near = (
        QuestionVector.objects.filter(
            workspace_id=resolution.workspace_id,
            embedder=resolution.embedder,
            question__created_at__gte=resolution.resolved_at,
        )
        .alias(distance=CosineDistance("vector", resolution.centroid))
        .filter(distance__lte=1 - SIMILARITY)
    )
    unhelpful = Feedback.objects.filter(question_id=OuterRef("question_id"), helpful=False)
    counts = near.aggregate(
        asked=Count("pk"),
        weak=Count(
            "pk",
            filter=Q(question__mode=AnswerMode.NO_ANSWER)
            | Q(question__confidence__lt=0.4)
            | Q(Exists(unhelpful)),
        ),
    )
    return counts["asked"], counts["weak"]
