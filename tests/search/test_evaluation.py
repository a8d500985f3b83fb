"""Retrieval evaluation: metrics on hand-computed cases, dataset reading, the command."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from opaa.evaluation import (
    CorpusEntry,
    Dataset,
    DatasetError,
    dataset_limit,
    dataset_load,
    documents_from_chunks,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
)
from search.retrieval import Ranked

BEIR_MINI = Path(__file__).resolve().parents[1] / "data" / "beir_mini"
BEIR_CATEGORIES = Path(__file__).resolve().parents[1] / "data" / "beir_categories"
METRICS = ("ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10")

# Ranking a b c d; b is highly relevant (2), d and e (never retrieved) relevant (1).
RANKING = ["a", "b", "c", "d"]
JUDGED = {"b": 2, "d": 1, "e": 1, "c": 0}


# --- Metrics ------------------------------------------------------------------------


def test_ndcg_uses_the_score_as_gain_and_a_log2_discount():
    # DCG@3 = 2/log2(3); ideal gains 2, 1, 1 -> 2/1 + 1/log2(3) + 1/log2(4).
    expected = (2 / math.log2(3)) / (2 + 1 / math.log2(3) + 1 / 2)
    assert ndcg_at_k(RANKING, JUDGED, 3) == pytest.approx(expected)
    assert ndcg_at_k(RANKING, JUDGED, 3) == pytest.approx(0.40303, abs=1e-5)


def test_ndcg_at_full_depth_counts_every_retrieved_relevant_document():
    # DCG@4 = 2/log2(3) + 1/log2(5); ideal as above plus nothing (only three relevant).
    expected = (2 / math.log2(3) + 1 / math.log2(5)) / (2 + 1 / math.log2(3) + 1 / 2)
    assert ndcg_at_k(RANKING, JUDGED, 4) == pytest.approx(expected)


def test_ndcg_is_one_for_the_ideal_ranking_and_zero_without_hits():
    assert ndcg_at_k(["b", "d", "e"], JUDGED, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "c"], JUDGED, 10) == 0.0
    assert ndcg_at_k(["a"], {"a": 0}, 10) == 0.0  # nothing relevant at all


def test_recall_counts_relevant_documents_in_the_top_k():
    assert recall_at_k(RANKING, JUDGED, 1) == 0.0
    assert recall_at_k(RANKING, JUDGED, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKING, JUDGED, 100) == pytest.approx(2 / 3)


def test_mrr_is_the_reciprocal_rank_of_the_first_relevant_document_within_k():
    assert mrr_at_k(RANKING, JUDGED, 10) == 0.5
    assert mrr_at_k(RANKING, JUDGED, 1) == 0.0
    assert mrr_at_k(["c", "a", "e"], JUDGED, 10) == pytest.approx(1 / 3)  # c is judged 0


def test_percentile_interpolates_between_closest_ranks():
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_a_document_ranks_by_its_best_chunk_and_appears_once():
    ranked = [Ranked(chunk_id, 1.0) for chunk_id in (1, 2, 3, 99, 4)]
    chunks = {1: "x", 2: "x", 3: "y", 4: "z"}  # chunk 99 belongs to no known document
    assert documents_from_chunks(ranked, chunk_documents=chunks, limit=10) == ["x", "y", "z"]
    assert documents_from_chunks(ranked, chunk_documents=chunks, limit=2) == ["x", "y"]


def test_a_chunk_of_identical_entries_ranks_each_of_their_corpus_ids():
    ranked = [Ranked(chunk_id, 1.0) for chunk_id in (1, 2, 3)]
    chunks = {1: ("a", "b"), 2: ("a", "b"), 3: ["c"]}
    assert documents_from_chunks(ranked, chunk_documents=chunks, limit=10) == ["a", "b", "c"]
    assert documents_from_chunks(ranked, chunk_documents=chunks, limit=1) == ["a"]


# --- Reading a dataset --------------------------------------------------------------


def write_dataset(root: Path, *, corpus: str, queries: str, qrels: str) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text(corpus)
    (root / "queries.jsonl").write_text(queries)
    (root / "qrels" / "test.tsv").write_text(qrels)
    return root


CORPUS = '{"_id": "d1", "title": "One", "text": "first"}\n{"_id": "d2", "text": "second"}\n'
QUERIES = '{"_id": "q1", "text": "one?"}\n{"_id": "q2", "text": "two?"}\n'
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t0\n"


def test_dataset_keeps_only_queries_with_a_relevant_judgement(tmp_path):
    root = write_dataset(tmp_path, corpus=CORPUS, queries=QUERIES, qrels=QRELS)
    dataset = dataset_load(path=root)
    assert dataset.corpus == {"d1": CorpusEntry("One", "first"), "d2": CorpusEntry("", "second")}
    assert dataset.queries == {"q1": "one?"}
    assert dataset.qrels == {"q1": {"d1": 1}}


@pytest.mark.parametrize(
    ("corpus", "queries", "qrels", "message"),
    [
        (CORPUS + "{not json\n", QUERIES, QRELS, "corpus.jsonl line 3: not valid JSON"),
        ('{"_id": "d1"}\n', QUERIES, QRELS, "corpus.jsonl line 1: field 'text'"),
        (CORPUS + CORPUS, QUERIES, QRELS, "corpus.jsonl line 3: duplicate _id 'd1'"),
        (CORPUS, '["q1"]\n', QRELS, "queries.jsonl line 1: expected a JSON object"),
        (CORPUS, QUERIES, QRELS + "q1 d2 1\n", "qrels/test.tsv line 4: expected query-id"),
        (CORPUS, QUERIES, QRELS + "q9\td1\t1\n", "qrels/test.tsv line 4: query 'q9'"),
        (CORPUS, QUERIES, "query-id\tcorpus-id\tscore\n", "judges no query relevant"),
    ],
)
def test_a_malformed_dataset_names_the_file_and_line(tmp_path, corpus, queries, qrels, message):
    root = write_dataset(tmp_path, corpus=corpus, queries=queries, qrels=qrels)
    with pytest.raises(DatasetError, match=re.escape(message)):
        dataset_load(path=root)


def test_dataset_keeps_each_querys_metadata_and_category(tmp_path):
    queries = (
        '{"_id": "q1", "text": "one?", "metadata": {"category": "name", "language": "de"}}\n'
        '{"_id": "q2", "text": "two?", "metadata": {"123": [{"label": "SUPPORT"}]}}\n'
        '{"_id": "q3", "text": "three?", "metadata": {"category": 7}}\n'
    )
    qrels = "q1\td1\t1\nq2\td2\t1\nq3\td1\t1\n"
    dataset = dataset_load(
        path=write_dataset(tmp_path, corpus=CORPUS, queries=queries, qrels=qrels)
    )
    assert dataset.query_metadata["q1"] == {"category": "name", "language": "de"}
    assert [dataset.category(q) for q in ("q1", "q2", "q3")] == ["name", None, None]
    limited = dataset_limit(dataset, query_limit=1)
    assert limited.query_metadata == {"q1": {"category": "name", "language": "de"}}


def test_a_missing_file_is_named(tmp_path):
    root = write_dataset(tmp_path, corpus=CORPUS, queries=QUERIES, qrels=QRELS)
    (root / "qrels" / "test.tsv").unlink()
    with pytest.raises(DatasetError, match=r"qrels/test\.tsv is missing"):
        dataset_load(path=root)


def test_a_limited_corpus_keeps_the_judged_documents_of_the_kept_queries():
    corpus = {f"d{n}": CorpusEntry("", f"text {n}") for n in range(1, 11)}
    dataset = Dataset(
        path=Path("x"),
        corpus=corpus,
        queries={"q1": "a", "q2": "b", "q3": "c"},
        qrels={"q1": {"d9": 1}, "q2": {"d10": 1, "d8": 0}, "q3": {"d1": 1}},
    )
    limited = dataset_limit(dataset, corpus_limit=4, query_limit=2)
    assert list(limited.queries) == ["q1", "q2"]
    assert set(limited.qrels) == {"q1", "q2"}
    # d8, d9, d10 are judged for q1/q2; one more document fills the limit, in file order.
    assert list(limited.corpus) == ["d1", "d8", "d9", "d10"]
    assert list(dataset_limit(dataset, corpus_limit=1).corpus) == ["d1", "d8", "d9", "d10"]


@pytest.mark.parametrize("weights", ["1-1", "a:1", "1:-1", "0:0", "1:1,"])
def test_malformed_fusion_weights_are_refused(weights):
    with pytest.raises(CommandError, match="fusion-weights"):
        call_command(
            "evaluate",
            "--dataset",
            str(BEIR_MINI),
            "--fusion-weights",
            weights,
            stdout=StringIO(),
            stderr=StringIO(),
        )


def test_a_malformed_dataset_is_a_command_error(tmp_path):
    root = write_dataset(tmp_path, corpus=CORPUS + "oops\n", queries=QUERIES, qrels=QRELS)
    with pytest.raises(CommandError, match=r"corpus\.jsonl line 3"):
        call_command("evaluate", "--dataset", str(root), stdout=StringIO(), stderr=StringIO())


# --- The command, end to end (commits: no test transaction) -------------------------


@pytest.fixture
def committed_db(django_db_setup, django_db_blocker):
    """Database access without a wrapping transaction: the command creates schemas."""
    with django_db_blocker.unblock():
        yield


def evaluation_organizations() -> list[str]:
    from tenants.models import Organization

    organizations = Organization.objects.filter(slug__startswith="eval-")
    return list(organizations.values_list("slug", flat=True))


def test_evaluate_reports_every_method_and_removes_its_organization(
    committed_db, tmp_path, monkeypatch
):
    from django.core.files.storage import default_storage
    from django.db import connection

    from ingestion.storage import organization_prefix
    from opaa.evaluation import scoring as evaluation
    from search.retrieval import CANDIDATES_PER_RANKER

    # Each query is ranked once by keyword and once by vector; the hybrid fuses those.
    calls = {"keyword": 0, "vector": 0}

    def counted(name, ranking):
        def rank(*args, **kwargs):
            calls[name] += 1
            return ranking(*args, **kwargs)

        return rank

    monkeypatch.setattr(
        evaluation, "keyword_ranking", counted("keyword", evaluation.keyword_ranking)
    )
    monkeypatch.setattr(evaluation, "vector_ranking", counted("vector", evaluation.vector_ranking))

    out, err, report_path = StringIO(), StringIO(), tmp_path / "report.json"
    call_command(
        "evaluate",
        "--dataset",
        str(BEIR_MINI),
        "--json",
        str(report_path),
        "--fusion-weights",
        "1:1,1:0,1:0.5",
        stdout=out,
        stderr=err,
    )

    report = json.loads(report_path.read_text())
    assert report["corpus_size"] == 64
    assert report["query_count"] == 29
    assert report["documents_failed"] == 0
    assert report["timings"]["ingestion_s"] > 0
    assert report["timings"]["ingestion_docs_per_s"] > 0
    assert report["timings"]["ingestion_chunks_per_s"] > 0
    assert calls == {"keyword": 29, "vector": 29}
    # Ranked as deep as hybrid_search ranks: each beir_mini document is one chunk, so the
    # vector ranker returns exactly that many of the 64 documents, not all of them.
    assert report["methods"]["vector"]["documents_returned"] == CANDIDATES_PER_RANKER
    assert report["methods"]["hybrid"]["documents_returned"] <= 2 * CANDIDATES_PER_RANKER
    assert set(report["methods"]) == {
        "keyword",
        "vector",
        "hybrid",
        "hybrid 1:1",
        "hybrid 1:0",
        "hybrid 1:0.5",
    }
    for scores in report["methods"].values():
        for metric in METRICS:
            assert 0.0 <= scores[metric] <= 1.0
        assert 0 < scores["latency_p50_ms"] <= scores["latency_p95_ms"]
    hybrid = report["methods"]["hybrid"]
    assert hybrid["ndcg_at_10"] > 0.5
    assert hybrid["recall_at_100"] >= hybrid["recall_at_10"] > 0.5

    # The weight sweep fuses the same two rankings: equal weights are the hybrid itself,
    # and a vector weight of 0 keeps the keyword order (vector-only hits come after).
    for metric in METRICS:
        assert report["methods"]["hybrid 1:1"][metric] == hybrid[metric]
    keyword_only, keyword = report["methods"]["hybrid 1:0"], report["methods"]["keyword"]
    assert keyword_only["mrr_at_10"] >= keyword["mrr_at_10"]
    assert keyword_only["ndcg_at_10"] >= keyword["ndcg_at_10"]

    table = out.getvalue()
    assert "hybrid 1:0.5" in table
    for method in ("keyword", "vector", "hybrid"):
        assert method in table
    assert f"{hybrid['ndcg_at_10']:.3f}" in table
    assert re.search(
        r"indexed 64/64 documents, 64 chunks \([\d.]+ docs/s, [\d.]+ chunks/s\)", err.getvalue()
    )
    assert "chunks/s" in table

    # The throwaway organization, its schema and its stored originals are gone.
    slug = report["organization"]
    assert slug.startswith("eval-")
    assert slug not in evaluation_organizations()
    schema = slug.replace("-", "_")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        assert cursor.fetchone() is None
    originals = Path(default_storage.path(organization_prefix(schema)))
    assert not [path for path in originals.rglob("*") if path.is_file()]


def test_evaluate_removes_its_organization_when_the_run_fails(committed_db, monkeypatch):
    from opaa.evaluation import run as evaluation

    def fail(**kwargs):
        raise RuntimeError("ranking broke")

    monkeypatch.setattr(evaluation, "methods_score", fail)
    before = evaluation_organizations()
    with pytest.raises(RuntimeError, match="ranking broke"):
        call_command(
            "evaluate",
            "--dataset",
            str(BEIR_MINI),
            "--limit-queries",
            "2",
            "--limit-corpus",
            "5",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert evaluation_organizations() == before


def test_evaluate_reports_categories_and_ranks_every_corpus_id(committed_db, tmp_path):
    """Identical content, names that collide once made safe, categories, per-query rows."""
    out, report_path = StringIO(), tmp_path / "report.json"
    per_query_path = tmp_path / "per-query.jsonl"
    call_command(
        "evaluate",
        "--dataset",
        str(BEIR_CATEGORIES),
        "--json",
        str(report_path),
        "--per-query",
        str(per_query_path),
        stdout=out,
        stderr=StringIO(),
    )
    report = json.loads(report_path.read_text())
    rows = {
        row["query_id"]: row for row in map(json.loads, per_query_path.read_text().split("\n")[:-1])
    }
    assert report["corpus_size"] == 8
    assert list(rows) == ["q1", "q2", "q3", "q4", "q5"]
    assert "per_query" not in report

    # d1 and d2 are one stored document with two corpus ids: both are ranked, each once.
    for method in ("keyword", "vector", "hybrid"):
        q1 = rows["q1"]["methods"][method]
        assert set(q1["relevant_ranks"].values()) == {1, 2}
        assert q1["recall_at_10"] == 1.0
        assert q1["ndcg_at_10"] == pytest.approx(1.0)
    # guide.a and guide_a share a safe file name; neither replaces the other.
    assert rows["q2"]["methods"]["keyword"]["relevant_ranks"] == {"guide.a": 1}
    assert rows["q3"]["methods"]["keyword"]["relevant_ranks"] == {"guide_a": 1}

    # Categories: alpha (q1, q2), beta (q3, q4); q5 has none and counts only overall.
    assert report["category_sizes"] == {"alpha": 2, "beta": 2}
    assert [rows[q]["category"] for q in rows] == ["alpha", "alpha", "beta", "beta", None]
    for category, members in (("alpha", ["q1", "q2"]), ("beta", ["q3", "q4"])):
        for method in ("keyword", "vector", "hybrid"):
            figures = report["categories"][category][method]
            for metric in METRICS:
                mean = sum(rows[q]["methods"][method][metric] for q in members) / 2
                assert figures[metric] == pytest.approx(mean)
    overall = sum(row["methods"]["keyword"]["ndcg_at_10"] for row in rows.values()) / 5
    assert report["methods"]["keyword"]["ndcg_at_10"] == pytest.approx(overall)

    table = out.getvalue()
    assert "nDCG@10 by query category:" in table
    alpha_row = next(line for line in table.splitlines() if line.startswith("alpha "))
    assert alpha_row.split() == [
        "alpha",
        "2",
        *(f"{report['categories']['alpha'][m]['ndcg_at_10']:.3f}" for m in report["methods"]),
    ]


def test_evaluate_without_categories_prints_no_category_table(committed_db, tmp_path):
    out = StringIO()
    call_command(
        "evaluate",
        "--dataset",
        str(BEIR_MINI),
        "--limit-queries",
        "3",
        "--limit-corpus",
        "10",
        "--per-query",
        str(tmp_path / "rows.jsonl"),
        stdout=out,
        stderr=StringIO(),
    )
    assert "by query category" not in out.getvalue()
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert [row["category"] for row in rows] == [None, None, None]
    assert all(set(row["methods"]) == {"keyword", "vector", "hybrid"} for row in rows)


@pytest.mark.parametrize("name", ["entities", "german-long"])
def test_the_committed_evaluation_sets_load_with_categories(name):
    """bench/datasets/: each set loads, and every judged query carries its category."""
    path = Path(__file__).resolve().parents[2] / "bench" / "datasets" / name
    dataset = dataset_load(path=path)
    assert len(dataset.queries) > 100
    for query_id in dataset.queries:
        metadata = dataset.query_metadata[query_id]
        assert dataset.category(query_id)
        assert metadata["language"] in {"en", "de"}
        assert metadata["answerable"] is True
    judged = {doc for judgments in dataset.qrels.values() for doc in judgments}
    assert judged <= dataset.corpus.keys()


def test_evaluate_keeps_nothing_it_did_not_create(committed_db, monkeypatch):
    from opaa.evaluation import run as evaluation

    def fail(**kwargs):
        raise RuntimeError("no organization")

    monkeypatch.setattr(evaluation, "organization_create", fail)
    err = StringIO()
    with pytest.raises(RuntimeError, match="no organization"):
        call_command(
            "evaluate", "--dataset", str(BEIR_MINI), "--keep", stdout=StringIO(), stderr=err
        )
    assert "kept" not in err.getvalue()


def test_a_kept_organization_is_scored_again_without_indexing(committed_db, tmp_path):
    """``--reuse`` finds each corpus id's document again (identical content, colliding
    names) and scores exactly what the run that kept it scored; it indexes nothing and
    never removes the organization."""
    from ingestion.models import Document
    from tenants.models import Organization
    from tenants.services import organization_delete

    first, err = tmp_path / "first.jsonl", StringIO()
    call_command(
        "evaluate",
        "--dataset",
        str(BEIR_CATEGORIES),
        "--keep",
        "--per-query",
        str(first),
        stdout=StringIO(),
        stderr=err,
    )
    slug = re.search(r"kept organization (eval-[0-9a-f]+)", err.getvalue())[1]
    organization = Organization.objects.get(slug=slug)
    try:
        with schema_context(organization.schema_name):
            documents = Document.objects.count()
        again, err = tmp_path / "again.jsonl", StringIO()
        call_command(
            "evaluate",
            "--dataset",
            str(BEIR_CATEGORIES),
            "--reuse",
            slug,
            "--per-query",
            str(again),
            stdout=StringIO(),
            stderr=err,
        )
        assert f"scoring organization {slug} again" in err.getvalue()
        assert "indexed" not in err.getvalue()

        def ranks(path):
            rows = [json.loads(line) for line in path.read_text().splitlines()]
            return {
                row["query_id"]: {m: v["relevant_ranks"] for m, v in row["methods"].items()}
                for row in rows
            }

        assert ranks(again) == ranks(first)
        # d1 and d2 (identical content) are one document and both ranked again.
        assert set(ranks(again)["q1"]["hybrid"].values()) == {1, 2}
        with schema_context(organization.schema_name):
            assert Document.objects.count() == documents
        assert Organization.objects.filter(slug=slug).exists()
    finally:
        organization_delete(organization=organization)

    # Only an evaluation's own organization: a customer's is never scored or migrated.
    with pytest.raises(CommandError, match="an organization an evaluation kept"):
        call_command(
            "evaluate",
            "--dataset",
            str(BEIR_CATEGORIES),
            "--reuse",
            "acme",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    with pytest.raises(CommandError, match="No organization 'eval-00000000'"):
        call_command(
            "evaluate",
            "--dataset",
            str(BEIR_CATEGORIES),
            "--reuse",
            "eval-00000000",
            stdout=StringIO(),
            stderr=StringIO(),
        )


# --- The command in its own process, on a fresh data directory ---------------------------

MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"


def _fresh_environment(data_dir: Path) -> dict[str, str]:
    """The environment of a newcomer: embedded servers under a new OPAA_DATA_DIR."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.pop("CELERY_BROKER_URL", None)
    env.update(OPAA_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="opaa.settings.dev")
    return env


def _processes_using(path: Path) -> list[str]:
    """Command lines of running processes that mention ``path`` (the embedded servers)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in text:
            found.append(text)
    return found


def _organizations_left(data_dir: Path) -> tuple[str, str]:
    """(organization slugs, eval schemas) in the data directory's database, via psql."""
    from opaa.embedded import postgres_server, superuser_sql

    server = postgres_server(data_dir / "pg")
    try:
        slugs = superuser_sql(server, "SELECT slug FROM tenants_organization;", database="opaa")
        schemas = superuser_sql(
            server, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'eval%';", database="opaa"
        )
    finally:
        server.cleanup()
    return slugs, schemas


def test_evaluate_on_a_fresh_data_dir_migrates_and_leaves_no_server_running(tmp_path):
    data_dir = tmp_path / "opaa"
    result = subprocess.run(
        [
            sys.executable,
            str(MANAGE_PY),
            "evaluate",
            "--dataset",
            str(BEIR_MINI),
            "--limit-queries",
            "1",
            "--limit-corpus",
            "3",
            "--keep",
        ],
        env=_fresh_environment(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "does not exist" not in result.stderr
    slug = re.search(r"created organization (eval-[0-9a-f]+)", result.stderr)[1]
    assert f"kept organization {slug}" in result.stderr
    assert "hybrid" in result.stdout
    # Neither the embedded Postgres nor the embedded Redis outlives the command.
    assert _processes_using(data_dir) == []
    assert not (data_dir / "redis" / "redis.pid").exists()


def test_evaluate_stopped_with_sigterm_removes_its_organization_and_servers(tmp_path):
    data_dir, log = tmp_path / "opaa", tmp_path / "stderr.txt"
    with log.open("w") as stderr_file:
        process = subprocess.Popen(
            [sys.executable, str(MANAGE_PY), "evaluate", "--dataset", str(BEIR_MINI)],
            env=_fresh_environment(data_dir),
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
        )
    try:
        # Stop it once it reports indexing progress (the organization exists by then).
        while "\nindexed " not in log.read_text() and process.poll() is None:
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = log.read_text()
    slug = re.search(r"created organization (eval-[0-9a-f]+)", stderr)[1]
    assert process.returncode != 0
    assert "Interrupted." in stderr, (process.returncode, stderr)
    assert f"removed organization {slug}" in stderr
    assert "kept" not in stderr
    assert _processes_using(data_dir) == []
    assert not (data_dir / "redis" / "redis.pid").exists()
    slugs, schemas = _organizations_left(data_dir)
    assert slug not in slugs
    assert schemas.count("eval") == 0


def test_a_manage_py_command_stops_only_the_embedded_redis_it_started(tmp_path):
    from opaa.embedded import redis_answers, redis_start, redis_stop

    data_dir = tmp_path / "opaa"
    command = [sys.executable, str(MANAGE_PY), "check"]
    env = _fresh_environment(data_dir)
    subprocess.run(command, env=env, capture_output=True, timeout=300, check=True)
    assert _processes_using(data_dir) == []
    assert not (data_dir / "redis" / "redis.pid").exists()

    # A Redis that was already running (another process's) is left running.
    url = redis_start(data_dir / "redis")
    try:
        subprocess.run(command, env=env, capture_output=True, timeout=300, check=True)
        assert redis_answers(int(url.rsplit(":", 1)[1].split("/")[0]))
    finally:
        redis_stop(data_dir / "redis")
