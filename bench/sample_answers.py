"""Extractive answers on the demo corpus: does the answer state the expected fact?

    OPAA_DATA_DIR=/tmp/opaa-sample .venv/bin/python bench/sample_answers.py [--dump FILE]

Indexes ``sample_corpus/`` into a fresh organization, asks every question of
``sample_corpus/questions.json`` (the answer must contain ``answer_contains``) and of
``tests/data/sample_answers.json`` (``expect_any`` / ``expect_none``; unanswerable ones
must be refused or labelled low/medium, never high) through the answer path a person
without an LLM gets (``hybrid_search``, the extractive answer, its confidence), and
prints one line per question and the share answered with the fact. ``--dump`` writes
each question's passages and answer as JSON lines (to study an answer offline).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import ROOT, django_setup, sample_organization


def questions_load() -> list[dict]:
    """Every question with what a right answer states (``expect_any``) or must not."""
    questions = [
        {"question": q["question"], "expect_any": [q["answer_contains"]], "source": q["document"]}
        for q in json.loads((ROOT / "sample_corpus" / "questions.json").read_text())
    ]
    extra = json.loads((ROOT / "tests" / "data" / "sample_answers.json").read_text())
    return questions + extra["questions"]


def verdict(question: dict, answer: str, label: str) -> bool:
    """Right: an answerable question's answer states an expected fact and no excluded
    text; an unanswerable one is refused or not labelled high."""
    if question.get("answerable", True) is False:
        return label != "high"
    if not any(fact in answer for fact in question.get("expect_any", [])):
        return False
    return not any(text in answer for text in question.get("expect_none", []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dump", type=Path, help="write passages and answers here (JSON lines)")
    args = parser.parse_args()
    django_setup("sample-answers")
    from django_tenants.utils import schema_context

    from opaa.evaluation.answers import question_answer
    from tenants.services import organization_delete
    from workspaces.rls import organization_scope

    sample = sample_organization("bench-sample-answers")
    right = 0
    rows = []
    questions = questions_load()
    try:
        with schema_context(sample.schema), organization_scope():
            for question in questions:
                passages, result = question_answer(
                    question["question"], workspace_ids=[sample.workspace_id]
                )
                ok = verdict(question, result["answer"], result["label"])
                right += ok
                print(f"{'ok ' if ok else 'NO '} {result['label']:<7} {question['question']}")
                print(f"      {result['answer'][:300]}")
                rows.append(
                    {
                        **question,
                        **result,
                        "right": ok,
                        "passages": [
                            {
                                "chunk_id": p.chunk_id,
                                "document_id": p.document_id,
                                "document_title": p.document_title,
                                "heading_path": list(p.heading_path),
                                "text": p.text,
                                "score": p.score,
                            }
                            for p in passages
                        ],
                    }
                )
    finally:
        organization_delete(organization=sample.organization)
    print(f"\nright: {right}/{len(questions)}")
    if args.dump:
        args.dump.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


if __name__ == "__main__":
    main()
