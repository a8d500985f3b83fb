"""How far an answer can be trusted (0 to 1, shown as high / medium / low), and when the
documents do not answer at all.

Both are read from the answer's evidence (``search.evidence``: what the passages say
about the question's words, names and asked-for fact), not from retrieval scores, whose
scale depends on the fusion in use. The thresholds were calibrated on questions that no
document answers (``manage.py evaluate --answers``; bench/RESULTS.md, "Honest
confidence"), the same for every collection:

- **refused** ("not in the documents"): the best cited passage covers less than
  ``REFUSE_COVERAGE`` of the question's (rarity-weighted) words, or none of the names
  and numbers the question mentions.
- the **confidence** is that coverage, lowered when a name of the question is missing
  from the passage, when the kind of fact asked for (an amount, a number, a date) is not
  in the answer, when another document covers the question as well as the cited one
  (``lead``), and when the cited documents disagree (``search.conflicts``), each of
  which caps it below "high".

An answer without evidence (an LLM's: the answerer did not measure it) keeps the older
measure: half retrieval strength, half the share of its sentences that cite a passage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from search.wording import CITATION_MARKER_RE

if TYPE_CHECKING:
    from search.answering import Answer

# Under this share of the question's weighted words in the best cited passage, the
# passages talk about something else.
REFUSE_COVERAGE = 0.25
HIGH = 0.7
MEDIUM = 0.4
# The most an answer reaches with one of the warning signs above: "medium".
CAPPED = 0.6
# A passage must cover the question this much better than any other document's to
# settle which document answers.
LEAD_MIN = 0.05

_SENTENCE = re.compile(r"[^.!?]+[.!?]*")


def answer_refused(evidence: Mapping[str, float]) -> bool:
    """Whether the evidence says the documents do not answer the question."""
    return evidence["coverage"] < REFUSE_COVERAGE or evidence["names"] == 0.0


def evidence_confidence(evidence: Mapping[str, float]) -> float:
    """The confidence (0 to 1) an answer with ``evidence`` earns."""
    if answer_refused(evidence):
        return 0.0
    value = evidence["coverage"]
    warnings = (
        evidence["names"] < 1.0,
        evidence["fact"] == 0.0,
        evidence["lead"] < LEAD_MIN,
        evidence.get("conflict", 0.0) == 1.0,  # cited documents disagree (search.conflicts)
    )
    if any(warnings):
        value = min(value, CAPPED)
    return round(value, 2)


def citation_coverage(text: str) -> float:
    """The share of the answer's sentences that carry at least one citation marker."""
    sentences = [s for s in _SENTENCE.findall(text) if len(s.split()) >= 3]
    if not sentences:
        return 0.0
    # A marker may close the sentence it belongs to ("... 45 EUR. [1]") or follow it.
    cited = sum(
        1
        for i, s in enumerate(sentences)
        if CITATION_MARKER_RE.search(s)
        or (i + 1 < len(sentences) and sentences[i + 1].lstrip().startswith("["))
    )
    return cited / len(sentences)


def retrieval_strength(answer: Answer) -> float:
    """How high the best cited passage scored: hybrid search's fused scores run from 0
    (last of both rankings) to 1 (first of both; ``search.fusion.score_fusion``)."""
    if not answer.citations:
        return 0.0
    best = max(c.passage.score for c in answer.citations)
    return max(0.0, min(1.0, best))


def answer_confidence(answer: Answer) -> float:
    """The answer's confidence: from its evidence when it has some; else half retrieval
    strength, half citation coverage. 0 when there is no answer."""
    if answer.mode == "no_answer" or not answer.citations:
        return 0.0
    if answer.evidence:
        return evidence_confidence(answer.evidence)
    return round(0.5 * retrieval_strength(answer) + 0.5 * citation_coverage(answer.text), 2)


def confidence_label(value: float) -> str:
    if value >= HIGH:
        return "high"
    if value >= MEDIUM:
        return "medium"
    return "low"
