"""The vector query uses the HNSW index, orders ties by chunk id, scans on (pgvector's
iterative scans) or falls back when the filters starve the index scan (issue 17)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.db import connection, transaction

import ingestion.index as index
from ingestion.embedding import embed_texts
from ingestion.index import (
    _vector_exact_sql,
    _vector_literal,
    _vector_sql,
    iterative_scans,
    pgvector_version,
    vector_ranking,
)
from ingestion.models import Chunk
from workspaces.models import Workspace
from workspaces.readers import ReaderScope

NOTE = b"# Fire drill\n\nThe fire drill is on the first Tuesday of each quarter.\n"


def plan(sql: str, params: dict) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        # Too few rows here for the planner to prefer the index on cost alone: make
        # scanning and sorting everything dear, so the plan shows whether the index *can*
        # serve the query's order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_hnsw_query_is_served_by_the_index(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "note.md", NOTE)
    general = Workspace.objects.get(slug="general")
    readers = ReaderScope(principals=("group:finance",))
    [vector] = embed_texts(["When is the fire drill?"])
    params = {
        "vector": _vector_literal(vector),
        "workspaces": [general.pk],
        "limit": 5,
        **readers.params(),
    }
    served = plan(_vector_sql(readers), params)
    assert "chunk_embedding_hnsw" in served, served
    # The exact query must not be: it exists to compute every distance.
    assert "chunk_embedding_hnsw" not in plan(_vector_exact_sql(readers), params)


def test_equal_distances_come_back_by_chunk_id(acme, alice_api, upload_indexed, settings):
    for name in ("a.md", "b.md", "c.md"):
        upload_indexed(alice_api, name, NOTE + name.encode())
    general = Workspace.objects.get(slug="general")
    ids = sorted(Chunk.objects.filter(workspace=general).values_list("pk", flat=True))
    assert len(ids) == 3
    # The same vector in every chunk: three equal distances.
    [vector] = embed_texts(["fire drill"])
    Chunk.objects.filter(pk__in=ids).update(embedding=vector)
    scope = ReaderScope.everything([general.pk])
    exact = vector_ranking(vector, workspace_ids=[general.pk], readers=scope, limit=3, exact=True)
    # The index's way, as a question takes it (its retries included): in the test
    # database the index also holds the entries of every rolled-back test's chunks,
    # never vacuumed, and an index scan this narrow can come back empty (seen in CI);
    # the product then searches wider, then exactly, and the order must hold either way.
    settings.VECTOR_EXACT_MAX_CHUNKS = 0
    approximate = vector_ranking(vector, workspace_ids=[general.pk], readers=scope, limit=3)
    assert [r.chunk_id for r in exact] == ids
    assert [r.chunk_id for r in approximate] == ids


@pytest.fixture
def starved(acme, alice_api, upload_indexed, settings, monkeypatch):
    """A question in a workspace holding few of the table's chunks, with an index scan
    one candidate wide (most candidates are elsewhere): (vector, scope, exact ranking,
    a function that searches the index's way and returns its statements too)."""
    for index_ in range(6):
        upload_indexed(alice_api, f"sales{index_}.md", NOTE + b"x" * index_, workspace="sales")
    for index_ in range(6):
        upload_indexed(alice_api, f"general{index_}.md", b"# Fire\n\nFire " * (index_ + 1))
    sales = Workspace.objects.get(slug="sales")
    scope = ReaderScope.everything([sales.pk])
    [vector] = embed_texts(["When is the fire drill?"])
    exact = vector_ranking(vector, workspace_ids=[sales.pk], readers=scope, limit=5, exact=True)
    settings.VECTOR_EXACT_MAX_CHUNKS = 0
    settings.HNSW_EF_SEARCH = 1
    monkeypatch.setattr(index, "HNSW_EF_PER_RESULT", 0)
    monkeypatch.setattr(index, "HNSW_EF_SEARCH_MAX", 2)

    def search(limit: int = 5) -> tuple[list, list[str]]:
        statements: list[str] = []

        def record(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.cursor() as cursor:
            # So few rows that Postgres would sort them all rather than use the index.
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("SET enable_sort = off")
        try:
            with connection.execute_wrapper(record):
                found = vector_ranking(vector, workspace_ids=[sales.pk], readers=scope, limit=limit)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET enable_seqscan")
                cursor.execute("RESET enable_sort")
        return found, statements

    return exact, search


def test_a_starved_index_scan_scans_on_with_iterative_scans(starved):
    """pgvector 0.8's iterative scan: the index alone finds the k readable chunks, one
    scan, no retry, no exact search."""
    exact, search = starved
    assert iterative_scans()  # the embedded server's pgvector is 0.8.5
    found, statements = search()
    assert [r.chunk_id for r in found] == [r.chunk_id for r in exact]
    assert sum("hnsw.iterative_scan" in sql for sql in statements) == 1
    assert sum("hnsw.ef_search" in sql for sql in statements) == 1
    assert not any("+ 0" in sql for sql in statements)


def test_a_starved_index_scan_is_retried_then_done_exactly(starved, settings):
    """Without iterative scans (turned off, or an older pgvector): a wider retry, then
    exact search fills k."""
    settings.HNSW_ITERATIVE_SCAN = "off"
    exact, search = starved
    found, statements = search()
    assert [r.chunk_id for r in found] == [r.chunk_id for r in exact]
    assert not any("hnsw.iterative_scan" in sql for sql in statements)
    assert sum("hnsw.ef_search" in sql for sql in statements) == 2
    assert any("+ 0" in sql for sql in statements)


def test_an_iterative_scan_still_short_is_finished_exactly(starved):
    """Fewer readable chunks than asked for: the iterative scan runs out (or gives up at
    HNSW_MAX_SCAN_TUPLES), and exact search says which it was; every readable chunk of
    the scope comes back."""
    exact, search = starved
    readable = Chunk.objects.filter(workspace__slug="sales").count()
    found, statements = search(limit=readable + 10)
    assert len(found) == readable
    assert [r.chunk_id for r in found[:5]] == [r.chunk_id for r in exact]
    assert any("+ 0" in sql for sql in statements)


def test_an_older_pgvector_is_not_sent_the_setting(starved, monkeypatch):
    """Servers before 0.8 refuse hnsw.iterative_scan: the version decides, once."""
    exact, search = starved
    monkeypatch.setattr(index, "_iterative_scans_known", {})
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        (real,) = cursor.fetchone()
    assert pgvector_version(real) >= (0, 8, 0)
    monkeypatch.setattr(index, "ITERATIVE_SCANS_SINCE", (99, 0, 0))
    found, statements = search()
    assert [r.chunk_id for r in found] == [r.chunk_id for r in exact]
    assert any("extversion" in sql for sql in statements)
    assert not any("hnsw.iterative_scan" in sql for sql in statements)
    _, again = search()
    assert not any("extversion" in sql for sql in again)


def test_pgvector_versions_compare_by_number():
    assert pgvector_version("0.7.4") < (0, 8, 0) <= pgvector_version("0.8.0")
    assert pgvector_version("0.10.1") >= (0, 8, 0)
    assert pgvector_version("") == () < (0, 8, 0)
    assert pgvector_version("0.8.0-dev") == ()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HNSW_ITERATIVE_SCAN", "sometimes", "use relaxed_order, strict_order or off"),
        ("HNSW_MAX_SCAN_TUPLES", "0", "use 1 or more"),
    ],
)
def test_a_wrong_iterative_scan_setting_stops_the_start_with_its_reason(name, value, message):
    """Checked when the settings load, not at the first question (a 500 then)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "opaa.settings.typecheck", name: value}
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr
    assert f"{name} is" in started.stderr
    assert message in started.stderr
