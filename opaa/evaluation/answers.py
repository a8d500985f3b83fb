"""The answer path under evaluation: is an unanswerable question refused, an answerable
one answered, and how is each labelled?

Each question goes through what a person without an LLM gets: ``hybrid_search`` over the
whole workspace, the extractive answer, its confidence and label. The calibration table
counts, per label ("high", "medium", "low", and "refused" for "not in the documents"),
how many answerable and how many unanswerable questions ended there: an unanswerable
question labelled "high" is the failure that matters most (issue 13's bar: under 5%).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings

from search.answering import Passage, answer_extractive
from search.confidence import answer_confidence, confidence_label
from search.retrieval import hybrid_search
from workspaces.readers import ReaderScope

LABELS = ("high", "medium", "low", "refused")
PROGRESS_EVERY_QUESTIONS = 50

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Calibration:
    """How many answerable and unanswerable questions ended at each label."""

    answerable: dict[str, int]  # label -> questions
    unanswerable: dict[str, int]

    @property
    def unanswerable_high_rate(self) -> float:
        """Share of unanswerable questions labelled "high" (the bar: under 0.05)."""
        total = sum(self.unanswerable.values())
        return self.unanswerable["high"] / total if total else 0.0

    @property
    def answerable_refused_rate(self) -> float:
        total = sum(self.answerable.values())
        return self.answerable["refused"] / total if total else 0.0

    def as_dict(self) -> dict:
        return {
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "unanswerable_high_rate": self.unanswerable_high_rate,
            "answerable_refused_rate": self.answerable_refused_rate,
        }


def answer_label(answer_mode: str, confidence: float) -> str:
    """The label a person sees: "refused" for "not in the documents", else the
    confidence label."""
    return "refused" if answer_mode == "no_answer" else confidence_label(confidence)


def _passage_row(rank: int, passage: Passage, documents: Mapping[int, Sequence[str]]) -> dict:
    return {
        "rank": rank,
        "corpus_ids": list(documents.get(passage.document_id, ())),
        "title": passage.document_title,
        "heading_path": list(passage.heading_path),
        "text": passage.text,
        "score": passage.score,
    }


def question_answer(text: str, *, workspace_ids: Sequence[int]) -> tuple[list[Passage], dict]:
    """The passages found for ``text`` and the extractive answer given, as a person
    reading every document of the workspaces would get them."""
    passages = hybrid_search(
        text,
        workspace_ids=workspace_ids,
        readers=ReaderScope.everything(workspace_ids),
        k=settings.RETRIEVAL_TOP_K,
    )
    answer = answer_extractive(text, passages)
    confidence = answer_confidence(answer)
    return passages, {
        "answer": answer.text,
        "mode": answer.mode,
        "confidence": confidence,
        "label": answer_label(answer.mode, confidence),
        "cited_ranks": [passages.index(c.passage) for c in answer.citations],
        "evidence": dict(answer.evidence),
    }


def answers_score(
    *,
    questions: Mapping[str, str],
    unanswerable: set[str],
    workspace_ids: Sequence[int],
    document_corpus_ids: Mapping[int, Sequence[str]],
    progress: Progress,
) -> tuple[Calibration, list[dict]]:
    """Answer every question; count labels for the answerable and the unanswerable ones.

    Returns the calibration and one row per question (its answer, label, evidence and
    the passages it was answered from, for ``--per-query``)."""
    counts = {True: dict.fromkeys(LABELS, 0), False: dict.fromkeys(LABELS, 0)}
    rows = []
    for done, (query_id, text) in enumerate(questions.items(), start=1):
        passages, result = question_answer(text, workspace_ids=workspace_ids)
        answerable = query_id not in unanswerable
        counts[answerable][result["label"]] += 1
        rows.append(
            {
                "query_id": query_id,
                "text": text,
                "answerable": answerable,
                **result,
                "passages": [
                    _passage_row(rank, passage, document_corpus_ids)
                    for rank, passage in enumerate(passages)
                ],
            }
        )
        if done % PROGRESS_EVERY_QUESTIONS == 0 or done == len(questions):
            progress(f"answered {done}/{len(questions)} questions")
    return Calibration(answerable=counts[True], unanswerable=counts[False]), rows


def calibration_table(calibration: Calibration) -> str:
    """Per label: how many answerable and unanswerable questions ended there."""
    answerable, unanswerable = calibration.answerable, calibration.unanswerable
    total_a, total_u = sum(answerable.values()) or 1, sum(unanswerable.values()) or 1
    lines = [
        "Answers (extractive, no LLM) by label:",
        f"{'label':<8} {'answerable':>12} {'unanswerable':>14}",
    ]
    for label in LABELS:
        lines.append(
            f"{label:<8} {answerable[label]:>5} ({answerable[label] / total_a:>4.0%}) "
            f"{unanswerable[label]:>6} ({unanswerable[label] / total_u:>4.0%})"
        )
    lines.append(
        f"unanswerable labelled high: {calibration.unanswerable_high_rate:.1%}; "
        f"answerable refused: {calibration.answerable_refused_rate:.1%}"
    )
    return "\n".join(lines)
