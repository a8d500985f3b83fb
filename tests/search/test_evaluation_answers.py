"""The answerability check of manage.py evaluate: unanswerable questions kept, variants
with relevant documents removed, the calibration table (no database)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from opaa.evaluation import dataset_limit, dataset_load, dataset_unanswerable_variant
from opaa.evaluation.answers import Calibration, answer_label, calibration_table

GERMAN_LONG = Path(__file__).resolve().parents[2] / "bench" / "datasets" / "german-long"
BEIR_MINI = Path(__file__).resolve().parents[1] / "data" / "beir_mini"


def test_unanswerable_questions_are_kept_apart_from_the_judged_ones():
    dataset = dataset_load(path=GERMAN_LONG)

    assert len(dataset.queries) == 145
    assert len(dataset.unanswerable) == 15
    assert not set(dataset.unanswerable) & set(dataset.queries)
    assert all(dataset.query_metadata[q]["answerable"] is False for q in dataset.unanswerable)
    limited = dataset_limit(dataset, query_limit=5)
    assert len(limited.queries) == 5
    assert len(limited.unanswerable) == 5


def test_the_variant_removes_the_relevant_documents_of_a_share_of_the_questions():
    dataset = dataset_load(path=GERMAN_LONG)

    variant = dataset_unanswerable_variant(dataset, share=0.3)

    removed = set(dataset.corpus) - set(variant.corpus)
    assert removed
    made = set(variant.unanswerable) - set(dataset.unanswerable)
    assert len(made) >= round(0.3 * len(dataset.queries))
    for query in made:  # every relevant document of theirs is gone
        assert set(dataset.qrels[query]) <= removed
    for judged in variant.qrels.values():  # the others keep only what is left
        assert set(judged) <= set(variant.corpus)
        assert judged
    assert dataset_unanswerable_variant(dataset, share=0.3).corpus.keys() == variant.corpus.keys()


def test_labels_and_the_calibration_table():
    assert answer_label("no_answer", 0.0) == "refused"
    assert answer_label("extractive", 0.9) == "high"
    calibration = Calibration(
        answerable={"high": 6, "medium": 2, "low": 1, "refused": 1},
        unanswerable={"high": 1, "medium": 3, "low": 0, "refused": 16},
    )

    assert calibration.unanswerable_high_rate == 0.05
    assert calibration.answerable_refused_rate == 0.1
    table = calibration_table(calibration)
    assert "unanswerable labelled high: 5.0%; answerable refused: 10.0%" in table


@pytest.fixture
def committed_db(django_db_setup, django_db_blocker):
    """Database access without a wrapping transaction: the command creates schemas."""
    with django_db_blocker.unblock():
        yield


def test_evaluate_answers_every_question_and_reports_the_labels(committed_db, tmp_path):
    out, per_query = StringIO(), tmp_path / "per-query.jsonl"
    call_command(
        "evaluate",
        "--dataset",
        str(BEIR_MINI),
        "--limit-queries",
        "6",
        "--limit-corpus",
        "12",
        "--unanswerable-share",
        "0.34",
        "--answers",
        "--per-query",
        str(per_query),
        stdout=out,
        stderr=StringIO(),
    )

    table = out.getvalue()
    assert "Answers (extractive, no LLM) by label:" in table
    assert "unanswerable labelled high:" in table
    rows = [json.loads(line) for line in per_query.read_text().splitlines()]
    answered = [row for row in rows if row.get("answer_check")]
    assert len(answered) == 6  # the judged ones left and the ones made unanswerable
    assert sum(not row["answerable"] for row in answered) >= 2
    for row in answered:
        assert row["label"] in {"high", "medium", "low", "refused"}
        assert row["text"]
        assert len(row["passages"]) <= 6
