"""Analytics' writes: question vectors (computed once, on first use) and resolved gaps."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.db import transaction

from accounts.models import User
from analytics.clustering import normalized
from analytics.models import GapResolution, QuestionVector
from ingestion.embedding import embed_texts
from workspaces.models import Workspace


def embedder_current() -> str:
    """The name vectors are stored under: a change of provider or model recomputes them."""
    return f"{settings.EMBEDDING_PROVIDER}:{settings.EMBEDDING_MODEL}"


def question_vectors_ensure(*, questions: Sequence[dict]) -> dict[int, list[float]]:
    """The vectors of ``questions`` (dicts with ``pk``, ``workspace_id``, ``text``), by
    question id: those stored for the current embedder are read, the others embedded
    in one batch and stored. Idempotent: a second call embeds nothing; two at once may
    both embed a question, and the second insert is ignored."""
    embedder = embedder_current()
    wanted = [q["pk"] for q in questions]
    vectors = {
        pk: list(vector)
        for pk, vector in QuestionVector.objects.filter(
            question_id__in=wanted, embedder=embedder
        ).values_list("question_id", "vector")
    }
    missing = [q for q in questions if q["pk"] not in vectors]
    if missing:
        computed = embed_texts([q["text"] for q in missing])
        with transaction.atomic():
            # A vector of the former embedder is replaced, not kept beside the new one.
            QuestionVector.objects.filter(question_id__in=[q["pk"] for q in missing]).delete()
            QuestionVector.objects.bulk_create(
                [
                    QuestionVector(
                        question_id=q["pk"],
                        workspace_id=q["workspace_id"],
                        vector=vector,
                        embedder=embedder,
                    )
                    for q, vector in zip(missing, computed, strict=True)
                ],
                ignore_conflicts=True,
            )
        vectors.update({q["pk"]: v for q, v in zip(missing, computed, strict=True)})
    return vectors


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
