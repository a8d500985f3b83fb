"""Answer confidence: citation coverage and retrieval strength."""

import pytest

from search.answering import Answer, Citation, Passage
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


def test_confidence_combines_retrieval_and_coverage(settings):
    settings.FUSION_RRF_K = 60
    best = (settings.FUSION_KEYWORD_WEIGHT + settings.FUSION_VECTOR_WEIGHT) / 61
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
