"""The embedded Postgres of development and tests (opaa/embedded.py): the version it runs
and pgvector's SQL objects brought up to date when an existing data directory starts.

Each test starts a server of its own in a new data directory (a few seconds: initdb).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from opaa.embedded import POSTGRES_MAJOR, postgres_bin_dir, postgres_server, postgres_start


@pytest.fixture
def data_dir():
    # A short path: a Unix socket's path may not exceed about 100 characters.
    root = Path(tempfile.mkdtemp(prefix="opaa-embedded-", dir="/tmp"))
    try:
        yield root / "pg"
    finally:
        if (root / "pg" / "PG_VERSION").exists():
            postgres_server(root / "pg").cleanup()
        shutil.rmtree(root, ignore_errors=True)


def superuser(data_dir: Path, database: str) -> psycopg.Connection:
    socket_dir = postgres_server(data_dir).get_postmaster_info().socket_dir
    return psycopg.connect(host=str(socket_dir), user="postgres", dbname=database, autocommit=True)


def vector_version(data_dir: Path, database: str) -> str:
    with superuser(data_dir, database) as db:
        row = db.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    assert row is not None, f"no vector extension in {database}"
    return row[0]


def test_a_new_data_directory_runs_postgres_16_with_pgvector_0_8_5(data_dir):
    postgres_start(data_dir, database="app")

    # The package's default for new data directories is 18; the project's is 16.
    assert (data_dir / "PG_VERSION").read_text().strip() == str(POSTGRES_MAJOR) == "16"
    with superuser(data_dir, "app") as db:
        assert db.execute("SHOW server_version").fetchone()[0].startswith("16.")
    assert vector_version(data_dir, "template1") == "0.8.5"
    assert vector_version(data_dir, "app") == "0.8.5"
    # The client tools backups use are the server's own version.
    assert (postgres_bin_dir() / "pg_dump").exists()
    assert postgres_bin_dir() == postgres_server(data_dir).bin_path


def test_an_older_pgvector_in_a_data_directory_is_updated_when_it_starts(data_dir):
    """A data directory pgvector 0.6.2 made (the earlier `pgserver` wheel) is updated with
    ALTER EXTENSION in every database. That was checked by hand with a real one (an HNSW
    index on it answers the same afterwards); the wheel cannot create a 0.6.2 extension,
    so here the databases' recorded version is set back to 0.8.0, whose update scripts up
    to 0.8.5 change no object: what is tested is which databases are updated, and when."""
    postgres_start(data_dir, database="app")
    with superuser(data_dir, "app") as db:
        db.execute("CREATE TABLE chunk (id int PRIMARY KEY, embedding vector(3))")
        db.execute(
            "INSERT INTO chunk SELECT i, ARRAY[cos(i), sin(i), i / 100.0]::vector"
            " FROM generate_series(1, 200) i"
        )
        db.execute("CREATE INDEX chunk_hnsw ON chunk USING hnsw (embedding vector_cosine_ops)")
        db.execute("SET enable_seqscan = off")  # the index's answer, before and after
        nearest = db.execute(
            "SELECT id FROM chunk ORDER BY embedding <=> '[1,0,0.5]' LIMIT 3"
        ).fetchall()
    for database in ("template1", "app"):
        with superuser(data_dir, database) as db:
            db.execute("UPDATE pg_extension SET extversion = '0.8.0' WHERE extname = 'vector'")
        assert vector_version(data_dir, database) == "0.8.0"

    postgres_start(data_dir, database="app")

    assert vector_version(data_dir, "template1") == "0.8.5"
    assert vector_version(data_dir, "app") == "0.8.5"
    with superuser(data_dir, "app") as db:
        db.execute("SET enable_seqscan = off")
        plan = db.execute(
            "EXPLAIN SELECT id FROM chunk ORDER BY embedding <=> '[1,0,0.5]' LIMIT 3"
        ).fetchall()
        assert "chunk_hnsw" in str(plan)
        assert (
            db.execute("SELECT id FROM chunk ORDER BY embedding <=> '[1,0,0.5]' LIMIT 3").fetchall()
            == nearest
        )
