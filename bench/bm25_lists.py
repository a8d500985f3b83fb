"""BM25 over whole posting lists scored in the application, against the product's query.

A trial of the keyword side's next layout (docs/scaling.md, "Keyword side at 1M: posting
lists"), on the organization ``bench/retrieval_scale.py --reuse`` keeps: each word's
postings in a workspace as one row of three packed arrays (chunk ids, term frequencies,
chunk lengths), built here from the product's postings into a table of its own
(``bench_posting_lists``; dropped with ``--drop``). A question then fetches its words'
rows (one index scan, a few MB at most), and numpy scores every posting exactly: the
readable chunks are a bit set over the workspace's chunk ids (the chunks everyone may
read, those the reader's principals name, or all for an admin), from which the document
frequencies, the collection's size and mean length are counted as the exhaustive query
counts them. The top ``limit`` are checked once more against the chunk table's readers.

Per reader case, in the same run: the product's BM25 (``bm25_ranking``), the exhaustive
query (its baseline) and the lists; p50 / p95, how many questions have the exhaustive
top 10 (chunks and order) and the mean overlap of the top ``limit``; the readable set's
cost when it is not cached; the table's bytes per chunk against the postings'.

    OPAA_DATA_DIR=/tmp/opaa-1m .venv/bin/python bench/retrieval_scale.py \\
        --chunks 1000000 --reuse ...                      # once: the organization
    OPAA_DATA_DIR=/tmp/opaa-1m .venv/bin/python bench/bm25_lists.py [--queries 20]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
from common import django_setup, load, machine, progress

TABLE = "bench_posting_lists"
LIMIT = 50
STATEMENTS = (
    "SET work_mem = '1GB'",
    f"""CREATE TABLE {TABLE} (
            workspace_id bigint NOT NULL, lexeme text NOT NULL, postings integer NOT NULL,
            chunk_ids bytea NOT NULL, tfs bytea NOT NULL, lengths bytea NOT NULL)""",
    # Stored uncompressed out of line: packed ids hardly compress, and reading a long
    # list then costs no decompression.
    f"ALTER TABLE {TABLE} ALTER chunk_ids SET STORAGE EXTERNAL,"
    " ALTER tfs SET STORAGE EXTERNAL, ALTER lengths SET STORAGE EXTERNAL",
    f"""INSERT INTO {TABLE}
        SELECT p.workspace_id, p.lexeme, count(*),
               string_agg(int8send(p.chunk_id), ''::bytea ORDER BY p.chunk_id),
               string_agg(int2send(p.tf::smallint), ''::bytea ORDER BY p.chunk_id),
               string_agg(int2send(LEAST(c.lexeme_count, 32767)::smallint), ''::bytea
                          ORDER BY p.chunk_id)
          FROM search_posting AS p JOIN ingestion_chunk AS c ON c.id = p.chunk_id
      GROUP BY p.workspace_id, p.lexeme""",  # noqa: S608 - constants
    f"CREATE UNIQUE INDEX {TABLE}_key ON {TABLE} (workspace_id, lexeme)",
    f"ANALYZE {TABLE}",
    f"GRANT SELECT ON {TABLE} TO opaa_app",
)


def build(schema: str) -> float:
    """The lists table from the product's postings (seconds), unless it exists."""
    from django.db import connection

    from workspaces.rls import schema_owner_connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f'"{schema}".{TABLE}'])
        if cursor.fetchone()[0]:
            return 0.0
    started = time.perf_counter()
    with schema_owner_connection():
        # The tenant's schema on the owner's connection: its statements then run in the
        # organization's scope (row-level security hides every posting otherwise).
        connection.set_schema(schema)
        with connection.cursor() as cursor:
            for sql in STATEMENTS:
                cursor.execute(sql)
    return time.perf_counter() - started


def sizes(schema: str, chunks: int) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size(%s), pg_total_relation_size(%s)",
            [f'"{schema}".search_posting', f'"{schema}".{TABLE}'],
        )
        postings, lists = cursor.fetchone()
    return {"postings": postings / chunks, "lists": lists / chunks}


class Readable:
    """The chunks of a scope a reader may read, as a bit set over the scope's chunk ids,
    with their count and total length: the part every reader shares (the chunks with no
    readers, or every chunk for an admin) once per scope, the chunks the reader's
    principals name (the readers' GIN index) per reader."""

    def __init__(self) -> None:
        self.shared: dict = {}
        self.readers: dict = {}

    @staticmethod
    def _ids(where: str, params: dict, *, gin: bool = False) -> tuple[np.ndarray, np.ndarray]:
        from django.db import connection

        workspace = "c.workspace_id + 0" if gin else "c.workspace_id"

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT string_agg(int8send(c.id), ''::bytea ORDER BY c.id),"  # noqa: S608
                " string_agg(int2send(LEAST(c.lexeme_count, 32767)::smallint), ''::bytea"
                " ORDER BY c.id)"
                f" FROM ingestion_chunk AS c WHERE {workspace} = ANY(%(workspaces)s) AND {where}",
                params,
            )
            ids, lengths = cursor.fetchone()
        if ids is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return (
            np.frombuffer(bytes(ids), ">i8").astype(np.int64),
            np.frombuffer(bytes(lengths), ">i2").astype(np.int64),
        )

    def of(self, workspaces: list[int], readers) -> tuple[int, np.ndarray, float, float]:
        """(lowest id, bits over ids from it, readable chunks, their mean length); kept per
        reader (the product would keep it in Redis a few minutes, as its statistics)."""
        params = {"workspaces": workspaces, **readers.params()}
        admin = set(workspaces) <= set(readers.all_in_workspaces)
        whose = (tuple(workspaces), admin, () if admin else tuple(sorted(readers.principals)))
        if whose in self.readers:
            return self.readers[whose]
        key = (tuple(workspaces), admin)
        if key not in self.shared:
            self.shared[key] = self._ids("true" if admin else "c.readers = '{}'", params)
        ids, lengths = self.shared[key]
        if not admin and readers.principals:
            # Through the readers' GIN index alone ("+ 0": not the workspace's index too).
            more, more_lengths = self._ids(
                "c.readers && %(readers_principals)s::varchar[]", params, gin=True
            )
            ids, lengths = np.concatenate([ids, more]), np.concatenate([lengths, more_lengths])
        if not len(ids):
            found = (0, np.zeros(0, bool), 0.0, 1.0)
        else:
            low = int(ids.min())
            bits = np.zeros(int(ids.max()) - low + 1, bool)
            bits[ids - low] = True
            found = (low, bits, float(len(ids)), max(float(lengths.mean()), 1.0))
        self.readers[whose] = found
        return found


def lists_ranking(question: str, workspaces: list[int], readers, readable: Readable):
    """The ``LIMIT`` best readable chunks by BM25 from the lists, scored in numpy."""
    from django.db import connection

    import ingestion.index as index

    k1, b = index.BM25_K1, index.BM25_B
    params = {"text": question, "workspaces": workspaces, **readers.params()}
    low, bits, n, avgdl = readable.of(workspaces, readers)
    with connection.cursor() as cursor:
        lexemes = index._question_words(cursor, params, readers, index._Statistics(params, readers))
        cursor.execute(
            f"SELECT chunk_ids, tfs, lengths FROM {TABLE}"  # noqa: S608 - a constant
            " WHERE workspace_id = ANY(%(workspaces)s) AND lexeme = ANY(%(lexemes)s)",
            {**params, "lexemes": lexemes},
        )
        rows = cursor.fetchall()
    scores = np.zeros(len(bits))
    for ids, tfs, lengths in rows:
        offsets = np.frombuffer(bytes(ids), ">i8") - low
        inside = (offsets >= 0) & (offsets < len(bits))
        keep = np.zeros(len(offsets), bool)
        keep[inside] = bits[offsets[inside]]
        offsets = offsets[keep]
        df = len(offsets)
        if not df:
            continue
        tf = np.frombuffer(bytes(tfs), ">i2")[keep].astype(np.float64)
        length = np.frombuffer(bytes(lengths), ">i2")[keep].astype(np.float64)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        scores[offsets] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avgdl))
    best = np.argpartition(-scores, min(LIMIT, len(scores) - 1))[:LIMIT]
    best = best[scores[best] > 0]
    ordered = sorted(best.tolist(), key=lambda i: (-round(float(scores[i]), 9), i))
    chunk_ids = [low + i for i in ordered]
    # The readers once more, from the chunk table itself (a reader's set may be cached).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id FROM ingestion_chunk AS c WHERE c.workspace_id = ANY(%(workspaces)s)"  # noqa: S608
            f" AND c.id = ANY(%(ids)s) AND {readers.sql('c')}",
            {**params, "ids": chunk_ids},
        )
        allowed = {row[0] for row in cursor.fetchall()}
    return [chunk_id for chunk_id in chunk_ids if chunk_id in allowed]


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):.0f} / {p95:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--drop", action="store_true", help="drop the lists table at the end")
    args = parser.parse_args()
    django_setup("bench-scale")

    import retrieval_scale as rs
    from django_tenants.utils import schema_context

    import ingestion.index as index
    from ingestion.models import Chunk
    from tenants.models import Organization
    from workspaces.models import Workspace
    from workspaces.readers import ReaderScope
    from workspaces.rls import organization_scope

    print(f"machine: {machine()}; load before: {load()}")
    organization = Organization.objects.get(slug=rs.SLUG)
    schema = organization.schema_name
    rng = np.random.default_rng(args.seed)
    words = rs.vocabulary(np.random.default_rng(17))
    probabilities = rs.zipf_probabilities()
    questions = [
        " ".join(words[i] for i in rng.choice(rs.VOCABULARY, rs.QUESTION_WORDS, p=probabilities))
        for _ in range(args.queries)
    ]
    with schema_context(schema), organization_scope():
        progress("building the lists (skipped when the table exists)")
        built = build(schema)
        chunks = Chunk.objects.count()
        size = sizes(schema, chunks)
        big = Workspace.objects.get(is_default=True)
        print(
            f"{chunks:,} chunks; lists built in {built:.0f} s (0: existed); bytes per chunk:"
            f" postings {size['postings']:,.0f}, lists {size['lists']:,.0f}"
        )
        cases = {
            "reads all": ReaderScope.everything([big.pk]),
            "one group": ReaderScope(principals=("user:reader@bench.example", "group:g00")),
        }
        print(
            "| reader | product p50 / p95 ms | exhaustive | lists | lists: same top 10"
            f" | top {LIMIT} overlap | readable set not cached ms |"
        )
        for name, readers in cases.items():
            progress(f"{name}: exhaustive, product, lists")

            def product(question, readers=readers):
                ranked = index.bm25_ranking(
                    question, workspace_ids=[big.pk], readers=readers, limit=LIMIT
                )
                return [r.chunk_id for r in ranked]

            def timed(function) -> tuple[list[float], list]:
                function(questions[0])  # warm
                seconds, results = [], []
                for question in questions:
                    started = time.perf_counter()
                    results.append(function(question))
                    seconds.append((time.perf_counter() - started) * 1000)
                return seconds, results

            saved, index.BM25_EXACT_MAX_CHUNKS = index.BM25_EXACT_MAX_CHUNKS, 10**12
            try:
                exhaustive_ms, truth = timed(product)
            finally:
                index.BM25_EXACT_MAX_CHUNKS = saved
            product_ms, _ = timed(product)
            cold = []
            for _ in range(3):
                started = time.perf_counter()
                Readable().of([big.pk], readers)
                cold.append((time.perf_counter() - started) * 1000)
            readable = Readable()
            lists_ms, found = timed(
                lambda q, r=readers, s=readable: lists_ranking(q, [big.pk], r, s)
            )
            same = sum(got[:10] == want[:10] for got, want in zip(found, truth, strict=True))
            overlap = statistics.mean(
                len(set(got) & set(want)) / max(len(want), 1)
                for got, want in zip(found, truth, strict=True)
            )
            print(
                f"| {name} | {percentiles(product_ms)} | {percentiles(exhaustive_ms)}"
                f" | {percentiles(lists_ms)} | {same} of {len(questions)} | {overlap:.2f}"
                f" | {statistics.median(cold):.0f} |",
                flush=True,
            )
        if args.drop:
            rs.owner_sql(schema, f"DROP TABLE {TABLE}")
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
