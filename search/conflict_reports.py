"""Documents to reconcile: the conflicting sources found in a workspace's recent answers.

Reads the answers recorded in the last ``days`` days (``Question.citations`` keep the
cited passages' text) and finds their conflicts again (``search.conflicts``), grouped by
the documents that disagree. Only documents the viewer may read are shown, and no
question text: what an admin needs is which documents state which values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from accounts.models import User
from ingestion.models import Document
from search.conflicts import Conflict, Statement, conflicts_find
from search.models import AnswerMode, Question
from workspaces.models import Workspace
from workspaces.readers import reader_scope

# The most recent answers read, at most: the page stays quick on a busy workspace.
ANSWERS_READ = 2000


@dataclass
class DocumentConflict:
    """Documents that state different values for one thing, and how often it showed."""

    documents: tuple[tuple[int, str], ...]  # (id, title), by id
    kind: str
    topic: str
    statements: tuple[Statement, ...]  # from the latest answer it showed in
    answers: int = 0  # answers that cited the disagreeing passages
    last_seen: object = None  # datetime of the latest
    values: set[str] = field(default_factory=set)


def workspace_conflicts(
    *, workspace: Workspace, viewer: User, days: int = 90
) -> list[DocumentConflict]:
    """The conflicts in ``workspace``'s answers of the last ``days`` days, most frequent
    first, among documents ``viewer`` may read (documents deleted since are left out)."""
    since = timezone.now() - timedelta(days=days)
    rows = (
        Question.objects.filter(workspace=workspace, created_at__gte=since)
        .exclude(mode=AnswerMode.NO_ANSWER)
        .order_by("-created_at")
        .values_list("text", "standalone_text", "citations", "created_at")[:ANSWERS_READ]
    )
    found: list[tuple[Conflict, object]] = []
    for text, standalone, citations, created_at in rows:
        if len({c.get("document_id") for c in citations}) < 2:
            continue
        for conflict in conflicts_find(standalone or text, citations):
            found.append((conflict, created_at))
    cited = {s.document_id for conflict, _ in found for s in conflict.statements}
    scope = reader_scope(viewer, [workspace])
    readable = set(
        # The workspace's documents and those shared into it (docs/sharing.md).
        Document.objects.filter(
            scope.q(), scope.within_q([workspace.pk], document_field="pk"), pk__in=cited
        ).values_list("pk", flat=True)
    )
    groups: dict[tuple, DocumentConflict] = {}
    for conflict, created_at in found:
        if any(s.document_id not in readable for s in conflict.statements):
            continue
        documents = tuple(sorted({(s.document_id, s.document_title) for s in conflict.statements}))
        key = (tuple(d for d, _ in documents), conflict.kind)
        group = groups.get(key)
        if group is None:
            group = groups[key] = DocumentConflict(
                documents=documents,
                kind=conflict.kind,
                topic=conflict.topic,
                statements=conflict.statements,
                last_seen=created_at,
            )
        group.answers += 1
        group.values |= {s.value for s in conflict.statements}
    return sorted(groups.values(), key=lambda g: (-g.answers, g.documents))
