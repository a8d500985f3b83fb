"""How far an answer can be trusted, from retrieval and citation coverage (0 to 1)."""

from __future__ import annotations

import re

from django.conf import settings

from search.answering import Answer

_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_MARKER = re.compile(r"\[\d+(?:\s*[,\u2013-]\s*\d+)*\]")


def citation_coverage(text: str) -> float:
    """The share of the answer's sentences that carry at least one citation marker."""
    sentences = [s for s in _SENTENCE.findall(text) if len(s.split()) >= 3]
    if not sentences:
        return 0.0
    # A marker may close the sentence it belongs to ("... 45 EUR. [1]") or follow it.
    cited = sum(
        1
        for i, s in enumerate(sentences)
        if _MARKER.search(s)
        or (i + 1 < len(sentences) and sentences[i + 1].lstrip().startswith("["))
    )
    return cited / len(sentences)


def retrieval_strength(answer: Answer) -> float:
    """How high the best cited passage ranked, relative to first place in both rankings."""
    if not answer.citations:
        return 0.0
    best_possible = (settings.FUSION_KEYWORD_WEIGHT + settings.FUSION_VECTOR_WEIGHT) / (
        settings.FUSION_RRF_K + 1
    )
    best = max(c.passage.score for c in answer.citations)
    return max(0.0, min(1.0, best / best_possible))


def answer_confidence(answer: Answer) -> float:
    """Half retrieval strength, half citation coverage; 0 when there is no answer."""
    if answer.mode == "no_answer" or not answer.citations:
        return 0.0
    return round(0.5 * retrieval_strength(answer) + 0.5 * citation_coverage(answer.text), 2)


def confidence_label(value: float) -> str:
    if value >= 0.7:
        return "high"
    if value >= 0.4:
        return "medium"
    return "low"
