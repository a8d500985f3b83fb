"""Analytics' writes: question vectors (computed once, on first use) and resolved gaps."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from accounts.models import User
from analytics.clustering import normalized
from analytics.models import GapResolution, QuestionVector
from ingestion.embedding import active_model, embed_texts
from search.models import Question
from workspaces.models import Workspace


def embedder_current() -> str:
    """The name vectors are stored under: the organization's embedding model (questions
    are embedded with it), so a change of provider or model recomputes them."""
    return active_model()


def question_vectors_ensure(
    *, questions: Sequence[dict], inline_max: int | None = None
) -> tuple[dict[int, list[float]], list[int]]:
    """The vectors of ``questions`` (dicts with ``pk``, ``workspace_id``, ``text``), by
    question id, and the ids still without one. Stored vectors of the current embedder
    are read; at most ``inline_max`` of the others (all with None) are embedded now, each
    distinct text once, and stored; the rest are returned as pending (the caller queues
    ``analytics.tasks.question_vectors_fill``). Idempotent: a second call embeds nothing;
    two at once may both embed a question, and the second insert is ignored."""
    embedder = embedder_current()
    wanted = [q["pk"] for q in questions]
    vectors = {
        pk: list(vector)
        for pk, vector in QuestionVector.objects.filter(
            question_id__in=wanted, embedder=embedder
        ).values_list("question_id", "vector")
    }
    missing = [q for q in questions if q["pk"] not in vectors]
    now = missing if inline_max is None else missing[:inline_max]
    pending = [q["pk"] for q in missing[len(now) :]]
    if now:
        # People ask the same thing in the same words: each distinct text is embedded once.
        texts = list(dict.fromkeys(q["text"] for q in now))
        by_text = dict(zip(texts, embed_texts(texts), strict=True))
        with transaction.atomic():
            # A vector of the former embedder is replaced, not kept beside the new one.
            QuestionVector.objects.filter(question_id__in=[q["pk"] for q in now]).delete()
            QuestionVector.objects.bulk_create(
                [
                    QuestionVector(
                        question_id=q["pk"],
                        workspace_id=q["workspace_id"],
                        vector=by_text[q["text"]],
                        embedder=embedder,
                    )
                    for q in now
                ],
                ignore_conflicts=True,
            )
        vectors.update({q["pk"]: by_text[q["text"]] for q in now})
    return vectors, pending


def question_vectors_fill(*, question_ids: Sequence[int]) -> int:
    """Embed and store the vectors ``question_ids`` lack (those still existing); returns
    how many were embedded. Idempotent: a second run finds them stored."""
    rows = Question.objects.filter(pk__in=list(question_ids)).values(
        "pk", "workspace_id", "text", "standalone_text"
    )
    questions = [
        {
            "pk": r["pk"],
            "workspace_id": r["workspace_id"],
            "text": r["standalone_text"] or r["text"],
        }
        for r in rows
    ]
    stored = set(
        QuestionVector.objects.filter(
            question_id__in=[q["pk"] for q in questions], embedder=embedder_current()
        ).values_list("question_id", flat=True)
    )
    question_vectors_ensure(questions=questions)
    return len(questions) - len(stored)


def gap_resolve(
    *, workspace: Workspace, question_ids: Sequence[int], user: User, note: str = ""
) -> GapResolution:
    """Mark the gap made of ``question_ids`` (those of ``workspace`` with a vector)
    resolved: its centroid is kept, the question texts are not. Raises ValueError when
    none of them is found."""
    embedder = embedder_current()
    vectors = list(
        QuestionVector.objects.filter(
            workspace=workspace, question_id__in=list(question_ids), embedder=embedder
        ).values_list("vector", flat=True)
    )
    if not vectors:
        raise ValueError("None of these questions is in this workspace.")
    centroid = normalized(vectors).mean(axis=0)
    return GapResolution.objects.create(
        workspace=workspace,
        centroid=centroid.tolist(),
        embedder=embedder,
        questions=len(vectors),
        note=note[:500],
        resolved_by=user,
    )
