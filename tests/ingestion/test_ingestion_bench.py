"""bench/ingestion.py: generated documents through the real pipeline, timed per stage."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from ingestion import parsers

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ingestion.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_ingestion", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _bench()


def test_generated_documents_are_the_same_for_a_seed_and_differ_between_seeds():
    first = [bench.document_bytes(d) for d in bench.documents_generate(count=4, seed=7)]
    again = [bench.document_bytes(d) for d in bench.documents_generate(count=4, seed=7)]
    other = [bench.document_bytes(d) for d in bench.documents_generate(count=4, seed=8)]
    # DOCX embeds its save time; the text formats and the PDF are byte-identical.
    for index in (0, 1, 3):
        assert first[index] == again[index]
        assert first[index] != other[index]


@pytest.mark.parametrize("index", range(4))
def test_every_generated_format_parses_into_its_pages_of_text(index):
    document = bench.documents_generate(count=4, seed=3)[index]
    parsed = parsers.parse(bench.document_bytes(document), filename=document.filename)
    words = sum(len(section.text.split()) for section in parsed.sections)
    pages = len(document.pages)
    assert document.filename.endswith(bench.FORMATS[index])
    assert parsed.title == document.title
    assert words >= pages * bench.WORDS_PER_PAGE
    seen = " ".join(" ".join([*s.heading_path, s.text]) for s in parsed.sections)
    assert document.pages[-1][-1].heading in seen


@pytest.fixture
def committed_db(django_db_setup, django_db_blocker):
    """Database access without a wrapping transaction: the benchmark creates a schema."""
    with django_db_blocker.unblock():
        yield


def test_benchmark_reports_every_stage_and_positive_rates_and_cleans_up(committed_db):
    from django.db import connection

    from tenants.models import Organization

    messages: list[str] = []
    report = bench.ingestion_benchmark_run(documents=3, seed=11, progress=messages.append)

    assert report.documents == 3
    assert report.documents_failed == 0
    assert report.chunks >= 3
    assert report.documents_per_s > 0
    assert report.chunks_per_s > 0
    assert report.baseline_chunks_per_s > 0
    assert report.embed_chunks_per_s > 0
    assert set(report.stage_s) == {*bench.STAGES, "other"}
    for stage in bench.STAGES:
        assert report.stage_s[stage] > 0, stage
    assert sum(report.stage_s.values()) == pytest.approx(report.wall_s)
    assert sum(report.stage_share.values()) == pytest.approx(1.0)
    assert len(report.load_average) == 3

    text = bench.report_text(report)
    for stage in (*bench.STAGES, "other"):
        assert f"| {stage} |" in text
    assert "bare model, baseline" in text
    assert "load average" in text

    # The throwaway organization and its schema are gone.
    assert not Organization.objects.filter(slug=report.organization).exists()
    with connection.cursor() as cursor:
        schema = report.organization.replace("-", "_")
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        assert cursor.fetchone() is None
    assert f"removed organization {report.organization}" in messages
