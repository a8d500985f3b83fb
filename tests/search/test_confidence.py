"""Answer confidence: citation coverage and retrieval strength."""

import pytest

from search.answering import Answer, Citation, Passage, evidence_attach
from search.confidence import answer_confidence, citation_coverage, confidence_label


def _passage(score: float) -> Passage:
    return Passage(1, 1, "Policy", (), "text", score)


@pytest.mark.parametrize(
    ("text", "coverage"),
    [
        ("Meals cost 45 EUR a day [1]. Hotels are booked centrally [2].", 1.0),
        ("Meals cost 45 EUR a day [1]. Hotels are probably free for you.", 0.5),
        ("Nothing is cited in this answer at all.", 0.0),
        ("Meals cost 45 EUR a day. [1] Hotels are booked centrally. [2]", 1.0),
    ],
)
def test_citation_coverage(text, coverage):
    assert citation_coverage(text) == coverage


def test_confidence_combines_retrieval_and_coverage():
    best = 1.0  # first in both rankings: score fusion's highest score
    cited = "Meals cost 45 EUR a day [1]."
    strong = Answer(cited, [Citation(1, _passage(best))], "llm")
    weak = Answer(cited, [Citation(1, _passage(best / 10))], "llm")
    assert answer_confidence(strong) == 1.0
    assert answer_confidence(weak) == pytest.approx(0.55)
    assert confidence_label(answer_confidence(strong)) == "high"
    assert answer_confidence(Answer("No.", [], "no_answer")) == 0.0
    assert confidence_label(0.1) == "low"


def test_api_reports_confidence(acme, alice_api, upload_indexed):
    upload_indexed(
        alice_api, "doc.md", b"# Wifi\n\nThe guest wifi password changes every Monday.\n"
    )
    body = alice_api.post("/api/v1/ask", {"question": "When does the wifi password change?"}).json()
    assert 0 < body["confidence"] <= 1
    assert body["confidence_label"] in {"high", "medium", "low"}
    none = alice_api.post("/api/v1/ask", {"question": "Quantum chromodynamics lecture?"}).json()
    assert none["confidence"] == 0.0


def test_an_llm_answer_is_as_confident_as_its_evidence():
    """An LLM's answer is labelled from what its cited passage says about the question,
    as an extractive one is, not from how high the passage ranked: quoting an unrelated
    passage that happened to rank first is never "high"."""
    question = "What is the per-diem rate for a trip to Berlin?"
    per_diem = Passage(1, 1, "Travel policy", (), "The per-diem rate for Berlin is 45 EUR.", 1.0)
    parking = Passage(2, 2, "Parking", (), "Staff park for free in the north garage.", 1.0)
    passages = [parking, per_diem]
    right = Answer("Berlin's per-diem rate is 45 EUR [1].", [Citation(1, per_diem)], "llm")
    wrong = Answer("Parking is free for staff [1].", [Citation(1, parking)], "llm")
    right, wrong = (evidence_attach(question, a, passages) for a in (right, wrong))
    assert right.evidence
    assert wrong.evidence
    assert confidence_label(answer_confidence(right)) == "high"
    assert confidence_label(answer_confidence(wrong)) != "high"
    assert answer_confidence(wrong) < answer_confidence(right)
