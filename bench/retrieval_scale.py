"""Retrieval at scale: keyword, vector and hybrid retrieval over N synthetic chunks.

Bulk-loads ``--chunks`` synthetic chunks into one organization (its own embedded
Postgres under ``OPAA_DATA_DIR``, default ``.opaa/bench-scale``): one big workspace
with half of them and small workspaces of ``--small`` chunks with the rest, ten chunks
per document. Vectors are clustered unit vectors at the model's dimension (a document's
chunks share a cluster); text is drawn from a Zipf-Mandelbrot distribution over a
pseudo-word vocabulary; readers as the issue describes them: 80% of the documents
readable by the whole workspace, 20% restricted to one of 20 groups. Chunks are written
with the product's ``search_vector`` expression, postings with its ``unnest`` insert
(``ingestion.index``), loaded with COPY into temporary tables and ``INSERT ... SELECT``
through the application's role (row-level security applies, the readers trigger runs).
The search indexes are dropped during the load and built afterwards (timed).

Then, for an everyone-reader (reads all: an admin) and a restricted reader (one group)
in the big workspace, for a small workspace, and for a reader of ``--scattered`` small
workspaces at once (a scope above the exact-search threshold but a few percent of the
index, where filters starve an HNSW scan; its questions near its own chunks), it times
``--queries`` questions through
the product's own functions: ``keyword_ranking``, ``vector_ranking`` (k = 50) and
``hybrid_search`` (the question's embedding excluded: the query vector is the
synthetic one); the vector side also with this file's copy of the vector query as it was
before issue 17 ("before", same data, same run), and vector and hybrid without
pgvector's iterative index scans ("no iterative scan": a wider retry, then exact search,
as on a pgvector before 0.8). Recall@10 of the vector side is taken
against exact search over the same readable set. EXPLAIN (ANALYZE, BUFFERS) of every
statement each function ran for the first question goes to ``--plans``.

    nice -n 15 .venv/bin/python bench/retrieval_scale.py --chunks 100000
    nice -n 15 .venv/bin/python bench/retrieval_scale.py --chunks 100000 --reuse  # queries only
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from common import ROOT, asked_as_in_a_request, django_setup, organization_fresh  # bench/

SLUG = "bench-scale"
CHUNKS_PER_DOCUMENT = 10
GROUPS = 20
RESTRICTED_SHARE = 0.2
VOCABULARY = 50_000
# Zipf-Mandelbrot: p(rank r) ~ 1 / (r + 10); the most frequent word is ~1.1% of the
# words, like a common content word once stop words are gone.
ZIPF_OFFSET = 10
WORDS_PER_CHUNK = (45, 105)
QUESTION_WORDS = 4
NOISE = 0.05  # per-dimension noise around a cluster's centre (unit vectors after)
K = 50  # search.retrieval.CANDIDATES_PER_RANKER
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ren",
    "tas",
    "vo",
    "pel",
    "dri",
    "nu",
    "sam",
    "bek",
    "tor",
    "gal",
    "fin",
    "zu",
    "hes",
    "mar",
    "qui",
    "lan",
    "obe",
    "rut",
    "sil",
    "den",
    "pra",
    "cho",
    "wix",
    "fal",
    "ten",
    "mos",
    "ur",
    "ib",
    "ga",
    "ne",
]


# --- The data ----------------------------------------------------------------------


def vocabulary(rng: np.random.Generator) -> list[str]:
    words: set[str] = set()
    while len(words) < VOCABULARY:
        n = int(rng.integers(2, 5))
        words.add("".join(SYLLABLES[i] for i in rng.integers(0, len(SYLLABLES), n)))
    return sorted(words)


def zipf_probabilities() -> np.ndarray:
    p = 1.0 / (np.arange(1, VOCABULARY + 1) + ZIPF_OFFSET)
    return p / p.sum()


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def layout(chunks: int, small: int) -> list[int]:
    """Chunks per workspace: the big one first, then the small ones."""
    big = chunks // 2
    smalls = max(1, (chunks - big) // small)
    return [big] + [small] * smalls


# --- Loading -----------------------------------------------------------------------

SEARCH_INDEXES = {
    # name: (table, definition): ingestion.models, built after the load.
    "chunk_embedding_hnsw": (
        "ingestion_chunk",
        "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)",
    ),
    "chunk_search_vector_gin": ("ingestion_chunk", "USING gin (search_vector)"),
    "chunk_readers_gin": ("ingestion_chunk", "USING gin (readers)"),
    "chunk_workspace_bm25": (
        "ingestion_chunk",
        "USING btree (workspace_id, id) INCLUDE (lexeme_count, readers, document_id)",
    ),
}
TABLES = ("ingestion_chunk", "ingestion_posting_list", "ingestion_document")
# Ingestion migration 0011's covering index for BM25 (with ``document_id`` since 0014:
# the shared-documents policy reads it); dropped for the "before" runs.
COVERING = "chunk_workspace_bm25"
COVERING_DEFINITION = "USING btree (workspace_id, id) INCLUDE (lexeme_count, readers, document_id)"


def owner_sql(schema: str, *statements: str) -> None:
    from django.db import connection

    from workspaces.rls import schema_owner_connection

    with schema_owner_connection(), connection.cursor() as cursor:
        cursor.execute(f'SET search_path TO "{schema}", public')
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for sql in statements:
            cursor.execute(sql)


def load(schema: str, owner, *, chunks: int, small: int, seed: int, storage: str) -> dict:
    """Create the workspaces and load the chunks; returns timings (s) and counts."""
    from django.db import connection, transaction
    from pgvector.psycopg import register_vector

    from workspaces.models import Workspace

    timings: dict[str, float] = {}
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    words = vocabulary(rng)
    probabilities = zipf_probabilities()
    sizes = layout(chunks, small)
    workspaces = [Workspace.objects.get(is_default=True)]
    for index in range(1, len(sizes)):
        workspaces.append(Workspace.objects.create(name=f"Small {index}", slug=f"small-{index}"))
    clusters = max(50, chunks // 200)
    centres = unit(rng.standard_normal((clusters, DIM)))
    timings["generate"] = time.perf_counter() - started

    owner_sql(
        schema,
        *(f"DROP INDEX IF EXISTS {name}" for name in SEARCH_INDEXES),
        *(f"ALTER TABLE {table} SET (autovacuum_enabled = false)" for table in TABLES),
        f"ALTER TABLE ingestion_chunk ALTER COLUMN embedding SET STORAGE {storage}",
    )

    started = time.perf_counter()
    document_n = 0
    with transaction.atomic():
        raw = connection.connection
        register_vector(raw)
        with raw.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bench_document (n bigint, workspace_id bigint, title text,"
                " readers varchar(320)[]) ON COMMIT DROP"
            )
            cursor.execute(
                "CREATE TEMP TABLE bench_chunk (n bigint, ordinal int, text text,"
                " words int, embedding vector) ON COMMIT DROP"
            )
        for workspace, size in zip(workspaces, sizes, strict=True):
            documents = -(-size // CHUNKS_PER_DOCUMENT)
            restricted = rng.random(documents) < RESTRICTED_SHARE
            group = rng.integers(0, GROUPS, documents)
            cluster = rng.integers(0, clusters, documents)
            titles = rng.choice(VOCABULARY, size=(documents, 5), p=probabilities)
            with raw.cursor() as cursor:
                with cursor.copy(
                    "COPY bench_document (n, workspace_id, title, readers) FROM STDIN"
                ) as copy:
                    for d in range(documents):
                        readers = [f"group:g{group[d]:02d}"] if restricted[d] else []
                        title = " ".join(words[i] for i in titles[d])
                        copy.write_row((document_n + d, workspace.pk, title, readers))
                lengths = rng.integers(*WORDS_PER_CHUNK, size)
                text_words = rng.choice(VOCABULARY, size=int(lengths.sum()), p=probabilities)
                owners = np.arange(size) // CHUNKS_PER_DOCUMENT
                vectors = unit(centres[cluster[owners]] + NOISE * rng.standard_normal((size, DIM)))
                with cursor.copy(
                    "COPY bench_chunk (n, ordinal, text, words, embedding) FROM STDIN"
                    " WITH (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["int8", "int4", "text", "int4", "vector"])
                    offset = 0
                    for c in range(size):
                        text = " ".join(words[i] for i in text_words[offset : offset + lengths[c]])
                        offset += lengths[c]
                        copy.write_row(
                            (
                                document_n + owners[c],
                                c % CHUNKS_PER_DOCUMENT,
                                text,
                                int(lengths[c]),
                                vectors[c],
                            )
                        )
            document_n += documents
        timings["copy"] = time.perf_counter() - started
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO ingestion_document
                    (workspace_id, title, source, original_filename, storage_key, mime_type,
                     size_bytes, sha256, status, error_message, language, uploaded_by_id,
                     created_at, updated_at, indexed_at, external_id, source_version,
                     version, readers, metadata)
                SELECT workspace_id, title, 'upload', 'bench-' || n || '.txt',
                       'bench/' || n, 'text/plain', 0, md5(n::text), 'indexed', '',
                       'english', %s, now(), now(), now(), '', '', 1, readers, '{}'
                  FROM bench_document ORDER BY n
                """,
                [owner.pk],
            )
            timings["documents"] = time.perf_counter() - started
            started = time.perf_counter()
            # The product's search_vector and lexeme_count, computed in the insert as
            # ingestion.index's chunk write does.
            cursor.execute(
                """
                INSERT INTO ingestion_chunk
                    (workspace_id, document_id, ordinal, text, heading_path, token_count,
                     embedding, search_vector, lexeme_count, readers, content_sha256)
                SELECT d.workspace_id, d.id, b.ordinal, b.text, '{}', (b.words * 13) / 10,
                       b.embedding, v.sv,
                       (SELECT coalesce(sum(cardinality(t.positions)), 0)
                          FROM unnest(v.sv) AS t),
                       '{}', ''
                  FROM bench_chunk AS b
                  JOIN ingestion_document AS d ON d.storage_key = 'bench/' || b.n
                 CROSS JOIN LATERAL (
                     SELECT setweight(to_tsvector(d.language::regconfig, d.title), 'B')
                         || setweight(to_tsvector(d.language::regconfig, ''), 'B')
                         || setweight(to_tsvector(d.language::regconfig, b.text), 'D') AS sv
                 ) AS v
                 ORDER BY b.n, b.ordinal
                """
            )
            timings["chunks"] = time.perf_counter() - started
            started = time.perf_counter()
            # ingestion.index.postings_write, per workspace instead of per document.
            from ingestion.index import POSTING_SEGMENT_BITS as bits

            for workspace in workspaces:
                cursor.execute(
                    f"""
                    INSERT INTO ingestion_posting_list
                           (workspace_id, lexeme, segment, postings, chunk_ids, tfs, lengths)
                    SELECT c.workspace_id, t.lexeme, (c.id >> {bits})::integer, count(*),
                           string_agg(int8send(c.id), ''::bytea ORDER BY c.id),
                           string_agg(int2send(LEAST(cardinality(t.positions), 32767)::smallint),
                                      ''::bytea ORDER BY c.id),
                           string_agg(int2send(LEAST(c.lexeme_count, 32767)::smallint),
                                      ''::bytea ORDER BY c.id)
                      FROM ingestion_chunk AS c, unnest(c.search_vector) AS t
                     WHERE c.workspace_id = %s
                  GROUP BY 1, 2, 3
                    """,  # noqa: S608 - a module constant
                    [workspace.pk],
                )
            timings["postings"] = time.perf_counter() - started
    for name, (table, definition) in SEARCH_INDEXES.items():
        started = time.perf_counter()
        owner_sql(schema, f"CREATE INDEX {name} ON {table} {definition}")
        timings[f"index {name}"] = time.perf_counter() - started
    started = time.perf_counter()
    owner_sql(
        schema,
        *(f"ALTER TABLE {table} RESET (autovacuum_enabled)" for table in TABLES),
        *(f"VACUUM ANALYZE {table}" for table in TABLES),
    )
    timings["vacuum analyze"] = time.perf_counter() - started
    return timings


def sizes_report(schema: str) -> dict:
    from django.db import connection

    from workspaces.rls import schema_owner_connection

    with schema_owner_connection(), connection.cursor() as cursor:
        cursor.execute(f'SET search_path TO "{schema}", public')
        out = {}
        for table in ("ingestion_chunk", "ingestion_posting_list"):
            cursor.execute(
                "SELECT pg_relation_size(%s::regclass),"
                " pg_total_relation_size(%s::regclass) - pg_relation_size(%s::regclass)"
                " - pg_indexes_size(%s::regclass), pg_indexes_size(%s::regclass)",
                [table] * 5,
            )
            heap, toast, indexes = cursor.fetchone()
            out[table] = {"heap": heap, "toast": toast, "indexes": indexes}
        cursor.execute(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid IN ('ingestion_chunk'::regclass, 'ingestion_posting_list'::regclass)"
            " ORDER BY 2 DESC"
        )
        out["indexes"] = cursor.fetchall()
        # Row counts from the statistics: the owner reads no row (row-level security).
        for table, key in (("ingestion_chunk", "chunks"), ("ingestion_posting_list", "postings")):
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table]
            )
            out[key] = cursor.fetchone()[0]
        cursor.execute(
            "SELECT attstorage FROM pg_attribute"
            " WHERE attrelid = 'ingestion_chunk'::regclass AND attname = 'embedding'"
        )
        out["embedding storage"] = cursor.fetchone()[0]
    return out


# --- The vector query as it was before issue 17 (the baseline) ---------------------


def vector_ranking_before(vector, *, workspace_ids, readers, limit, exact=None):
    """``ingestion.index.vector_ranking`` as of commit bd013d5: ``ORDER BY distance,
    c.id`` (which keeps Postgres off the HNSW index), ``ef_search`` 100, the readable
    count before the exact fallback."""
    from django.db import connection, transaction

    from ingestion.index import Ranked, _vector_literal, scope_size

    where = f"c.workspace_id = ANY(%(workspaces)s) AND {readers.sql('c')}"
    approximate = f"""
    SELECT c.id, 1 - (c.embedding <=> %(vector)s::vector) AS score
      FROM ingestion_chunk AS c WHERE {where}
  ORDER BY c.embedding <=> %(vector)s::vector, c.id LIMIT %(limit)s"""  # noqa: S608
    exact_sql = f"""
    SELECT c.id, 1 - (c.embedding <=> %(vector)s::vector) AS score
      FROM ingestion_chunk AS c WHERE {where}
  ORDER BY (c.embedding <=> %(vector)s::vector) + 0, c.id LIMIT %(limit)s"""  # noqa: S608
    params = {
        "vector": _vector_literal(vector),
        "workspaces": list(workspace_ids),
        "limit": limit,
        **readers.params(),
    }
    fallback = exact is None
    if exact is None:
        exact = scope_size(workspace_ids) <= 20000
    with transaction.atomic(), connection.cursor() as cursor:
        if not exact:
            cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(max(100, limit))])
            cursor.execute(approximate, params)
            rows = cursor.fetchall()
            if (
                len(rows) >= limit
                or not fallback
                or len(rows) >= scope_size(workspace_ids, readers=readers)
            ):
                return [Ranked(i, float(s)) for i, s in rows]
        cursor.execute(exact_sql, params)
        return [Ranked(i, float(s)) for i, s in cursor.fetchall()]


def passages_load_before(ranked, *, readers, k):
    """``search.retrieval.passages_load`` as of commit bd013d5: every fused chunk loaded
    at once, with its vector and words."""
    from ingestion.models import Chunk
    from search.answering import Passage

    chunks = (
        Chunk.objects.select_related("document")
        .filter(readers.q())
        .in_bulk([r.chunk_id for r in ranked])
    )
    passages, per_document = [], {}
    for item in ranked:
        chunk = chunks.get(item.chunk_id)
        if chunk is None or per_document.get(chunk.document_id, 0) >= 2:
            continue
        per_document[chunk.document_id] = per_document.get(chunk.document_id, 0) + 1
        passages.append(
            Passage(
                chunk_id=chunk.pk,
                document_id=chunk.document_id,
                document_title=chunk.document.title,
                heading_path=tuple(chunk.heading_path),
                text=chunk.text,
                score=item.score,
            )
        )
        if len(passages) == k:
            break
    return passages


# --- Measuring ---------------------------------------------------------------------


@contextmanager
def statements_recorded(into: list):
    """Record every (sql, params) the block runs through Django's connection."""
    from django.db import connection

    def wrapper(execute, sql, params, many, context):
        into.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield


def plans_of(statements: list) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of each SELECT, replaying set_config calls before them
    in one transaction, as the function ran them."""
    from django.db import connection, transaction

    plans = []
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, params in statements:
            stripped = sql.strip()
            if "set_config" in stripped:
                cursor.execute(sql, params)
                plans.append(f"-- {stripped} {params}")
                continue
            if not stripped.upper().startswith(("SELECT", "WITH")):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            plan = re.sub(r"'\[[-0-9.e,]{200,}\]'", "'[...]'", plan)  # the query vector
            plans.append(f"-- {' '.join(stripped.split())[:300]}\n{plan}")
    return plans


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(function, questions) -> tuple[list[float], list, int, int]:
    """(milliseconds per call, results, calls that ran the exact query, calls that
    searched the HNSW index a second time)."""
    from django.db import connection

    seconds, results, fallbacks, retries = [], [], 0, 0
    for question in questions:
        seen: list = []
        started = time.perf_counter()
        with statements_recorded(seen):
            results.append(function(question))
        seconds.append((time.perf_counter() - started) * 1000)
        fallbacks += any("+ 0" in sql and "embedding" in sql for sql, _ in seen)
        retries += sum("hnsw.ef_search" in sql for sql, _ in seen) > 1
    connection.close_if_unusable_or_obsolete()
    return seconds, results, fallbacks, retries


DIM = 384


@contextmanager
def bm25_exhaustive():
    """``bm25_ranking`` reading the readable chunks for every question instead of keeping
    them per reader (as a scope of at most ``BM25_EXACT_MAX_CHUNKS`` is searched)."""
    import ingestion.index as index

    saved, index.BM25_EXACT_MAX_CHUNKS = index.BM25_EXACT_MAX_CHUNKS, 10**12
    try:
        yield
    finally:
        index.BM25_EXACT_MAX_CHUNKS = saved


def main() -> None:
    global DIM
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1000, help="chunks per small workspace")
    parser.add_argument(
        "--scattered", type=int, default=30, help="small workspaces searched together (a case)"
    )
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--reuse", action="store_true", help="keep the loaded organization")
    parser.add_argument(
        "--storage",
        default="main",
        choices=["main", "external", "extended", "plain"],
        help="ingestion_chunk.embedding's STORAGE while loading",
    )
    parser.add_argument("--ef", default="", help="also sweep hnsw.ef_search, e.g. 100,200,400")
    parser.add_argument("--skip-before", action="store_true", help="no baseline runs")
    parser.add_argument("--plans", type=Path, default=None)
    args = parser.parse_args()

    django_setup("bench-scale")
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings
    from django_tenants.utils import schema_context

    import ingestion.index as index
    import search.retrieval as retrieval
    from ingestion.index import vector_ranking
    from ingestion.models import Chunk
    from search.retrieval import hybrid_search, keyword_ranking
    from tenants.models import Organization
    from workspaces.models import Workspace
    from workspaces.readers import ReaderScope
    from workspaces.rls import organization_scope

    DIM = settings.EMBEDDING_DIMENSIONS
    plans_path = args.plans or ROOT / "bench" / "plans" / f"retrieval_scale_{args.chunks}.txt"
    timings: dict = {}
    rebuilt = None
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    existing = Organization.objects.filter(slug=SLUG).first()
    if args.reuse and existing is not None:
        schema = existing.schema_name
    else:
        created = organization_fresh(SLUG)
        schema = created.organization.schema_name
        with schema_context(schema), organization_scope():
            timings = load(
                schema,
                created.owner,
                chunks=args.chunks,
                small=args.small,
                seed=args.seed,
                storage=args.storage,
            )
    sizes = sizes_report(schema)
    rng = np.random.default_rng(args.seed + 1)
    words = vocabulary(np.random.default_rng(args.seed))
    probabilities = zipf_probabilities()
    results: dict = {}
    plans: list[str] = []
    with asked_as_in_a_request(schema):
        big = Workspace.objects.get(is_default=True)
        small = Workspace.objects.exclude(pk=big.pk).order_by("pk").first()
        # Questions: the query vector near a cluster of real chunks, the text Zipfian.
        # The same questions in every run: Postgres' random() seeded in this session.
        with connection.cursor() as cursor:
            cursor.execute("SELECT setseed(%s)", [args.seed / 1000])
        sample = list(
            Chunk.objects.filter(workspace_id__in=[big.pk, small.pk])
            .order_by("?")
            .values_list("embedding", flat=True)[: args.queries]
        )
        vectors = unit(np.array(sample) + NOISE * rng.standard_normal((len(sample), DIM)))
        texts = [
            " ".join(words[i] for i in rng.choice(VOCABULARY, QUESTION_WORDS, p=probabilities))
            for _ in sample
        ]
        questions = list(zip(texts, vectors, strict=True))
        group_reader = ReaderScope(principals=("user:reader@bench.example", "group:g00"))
        # Several small workspaces searched together: questions near their own chunks.
        scattered = list(
            Workspace.objects.exclude(pk=big.pk)
            .order_by("pk")
            .values_list("pk", flat=True)[: args.scattered]
        )
        scattered_sample = list(
            Chunk.objects.filter(workspace_id__in=scattered)
            .order_by("?")
            .values_list("embedding", flat=True)[: args.queries]
        )
        scattered_vectors = unit(
            np.array(scattered_sample) + NOISE * rng.standard_normal((len(scattered_sample), DIM))
        )
        scattered_questions = list(zip(texts, scattered_vectors, strict=True))
        cases = {
            "big workspace, reads all": ([big.pk], ReaderScope.everything([big.pk]), questions),
            "big workspace, one group": ([big.pk], group_reader, questions),
            "small workspace, one group": ([small.pk], group_reader, questions),
            f"{len(scattered)} small workspaces, one group": (
                scattered,
                group_reader,
                scattered_questions,
            ),
        }

        def operations_of(ids, readers) -> dict:
            def keyword(q):
                return keyword_ranking(q[0], workspace_ids=ids, readers=readers, limit=K)

            def vector(q, ranking=vector_ranking):
                return ranking(q[1], workspace_ids=ids, readers=readers, limit=K)

            def without_iterative(function):
                def run(q):
                    with override_settings(HNSW_ITERATIVE_SCAN="off"):
                        return function(q)

                return run

            def exact(q):
                return vector_ranking(
                    q[1], workspace_ids=ids, readers=readers, limit=10, exact=True
                )

            def hybrid(q):
                retrieval.embed_texts = lambda texts, v=q[1]: [list(map(float, v))]
                return hybrid_search(q[0], workspace_ids=ids, readers=readers, k=6)

            def before(function):
                """``function`` with the vector query and the passage loading as they
                were (BM25 as it is: the table the old query read is gone since ingestion
                migration 0018; its figures are in bench/RESULTS.md)."""

                def run(q):
                    saved = (retrieval.vector_ranking, retrieval.passages_load)
                    retrieval.vector_ranking = vector_ranking_before
                    retrieval.passages_load = passages_load_before
                    try:
                        return function(q)
                    finally:
                        retrieval.vector_ranking, retrieval.passages_load = saved

                return run

            def keyword_exhaustive(q):
                with bm25_exhaustive():
                    return keyword(q)

            def hybrid_exhaustive(q):
                with bm25_exhaustive():
                    return hybrid(q)

            return {
                "before": {
                    "vector (before)": lambda q: vector(q, ranking=vector_ranking_before),
                    "hybrid (before, BM25 as now)": before(hybrid),
                },
                "after": {
                    "keyword (exhaustive)": keyword_exhaustive,
                    "keyword": keyword,
                    "vector": vector,
                    "vector (no iterative scan)": without_iterative(vector),
                    "hybrid (exhaustive BM25)": hybrid_exhaustive,
                    "hybrid": hybrid,
                    "hybrid (no iterative scan)": without_iterative(hybrid),
                    "exact": exact,
                },
            }

        def measure(case: str, name: str, function, questions) -> None:
            function(questions[0])  # warm the cache
            ms, found, fallbacks, retries = timed(function, questions)
            row = {
                "p50": percentile(ms, 0.5),
                "p95": percentile(ms, 0.95),
                "fb": fallbacks,
                "retries": retries,
            }
            results[(case, name)] = (row, found)
            seen: list = []
            with statements_recorded(seen):
                function(questions[0])
            plans.append(f"\n===== {case} / {name} =====")
            plans.extend(plans_of(seen))

        # Before: the queries as they were, without the covering index they did not have.
        if not args.skip_before:
            owner_sql(schema, f"DROP INDEX IF EXISTS {COVERING}")
            for case, (ids, readers, asked) in cases.items():
                for name, function in operations_of(ids, readers)["before"].items():
                    measure(case, name, function, asked)
            started = time.perf_counter()
            owner_sql(schema, f"CREATE INDEX {COVERING} ON ingestion_chunk {COVERING_DEFINITION}")
            owner_sql(schema, "VACUUM ANALYZE ingestion_chunk")
            rebuilt = time.perf_counter() - started
        for case, (ids, readers, asked) in cases.items():
            operations = operations_of(ids, readers)
            for name, function in operations["after"].items():
                measure(case, name, function, asked)
            truth = [[r.chunk_id for r in ranked] for ranked in results[(case, "exact")][1]]
            vector = operations["after"]["vector"]
            for name in ("vector", "vector (no iterative scan)", "vector (before)"):
                if (case, name) in results:
                    row, found = results[(case, name)]
                    recall = [
                        len({r.chunk_id for r in ranked[:10]} & set(t)) / max(1, len(t))
                        for ranked, t in zip(found, truth, strict=True)
                    ]
                    row["recall@10"] = statistics.mean(recall)
                    row["min recall@10"] = min(recall)
            for ef in [int(x) for x in args.ef.split(",") if x]:
                # ef_search exactly ``ef`` (not HNSW_EF_PER_RESULT per result).
                saved, index.HNSW_EF_PER_RESULT = index.HNSW_EF_PER_RESULT, 0
                try:
                    with override_settings(HNSW_EF_SEARCH=ef):
                        vector(asked[0])
                        ms, found, fallbacks, retries = timed(vector, asked)
                finally:
                    index.HNSW_EF_PER_RESULT = saved
                recall = [
                    len({r.chunk_id for r in ranked[:10]} & set(t)) / max(1, len(t))
                    for ranked, t in zip(found, truth, strict=True)
                ]
                results[(case, f"vector ef_search={ef}")] = (
                    {
                        "p50": percentile(ms, 0.5),
                        "p95": percentile(ms, 0.95),
                        "fb": fallbacks,
                        "retries": retries,
                        "recall@10": statistics.mean(recall),
                        "min recall@10": min(recall),
                    },
                    found,
                )
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            pgvector_version = cursor.fetchone()[0]
            cursor.execute("SHOW server_version")
            server_version = cursor.fetchone()[0]
    if not args.reuse:
        pass  # the organization stays for --reuse; organization_fresh replaces it next time

    plans_path.parent.mkdir(parents=True, exist_ok=True)
    plans_path.write_text("\n".join(plans) + "\n")
    n = sizes["chunks"]
    print(
        f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}, Postgres "
        f"{server_version}, pgvector {pgvector_version}, chunks: {n:,} (big workspace "
        f"{layout(args.chunks, args.small)[0]:,}, small ones {args.small:,}), postings: "
        f"{sizes['postings']:,} ({sizes['postings'] / n:.1f} per chunk), queries: "
        f"{args.queries}, k = {K}, embedding storage: {sizes['embedding storage']}"
    )
    if timings:
        print("build: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        print(f"build total: {sum(timings.values()):.0f} s")
    if rebuilt is not None:
        print(f"{COVERING} rebuilt after the runs before, with VACUUM ANALYZE: {rebuilt:.1f} s")
    chunk, posting = sizes["ingestion_chunk"], sizes["ingestion_posting_list"]
    print(
        f"bytes per chunk: chunk table {chunk['heap'] / n:,.0f} + toast {chunk['toast'] / n:,.0f}"
        f" + indexes {chunk['indexes'] / n:,.0f} = "
        f"{sum(chunk.values()) / n:,.0f}; postings {posting['heap'] / n:,.0f} + indexes "
        f"{posting['indexes'] / n:,.0f} = {sum(posting.values()) / n:,.0f}; "
        f"total {(sum(chunk.values()) + sum(posting.values())) / n:,.0f}"
    )
    print("indexes: " + ", ".join(f"{name} {size / n:,.0f}" for name, size in sizes["indexes"]))
    print()
    print("| case | retrieval | p50 | p95 | HNSW retried / exact ran | recall@10 (min) |")
    print("|---|---|--:|--:|--:|--:|")
    for (case, name), (row, _) in results.items():
        recall = (
            f"{row['recall@10']:.4f} ({row['min recall@10']:.2f})" if "recall@10" in row else ""
        )
        fallbacks = (
            f"{row['retries']} / {row['fb']} of {args.queries}"
            if name.startswith(("vector", "hybrid"))
            else ""
        )
        print(
            f"| {case} | {name} | {row['p50']:,.1f} ms | {row['p95']:,.1f} ms |"
            f" {fallbacks} | {recall} |"
        )

    # The readable chunks kept against read each question, on the same data: same top 10 / 50?
    for case in cases:
        if (case, "keyword (exhaustive)") not in results:
            continue
        pairs = list(
            zip(
                results[(case, "keyword")][1],
                results[(case, "keyword (exhaustive)")][1],
                strict=True,
            )
        )
        same = sum([r.chunk_id for r in a] == [r.chunk_id for r in b] for a, b in pairs)
        overlap10 = statistics.mean(
            len({r.chunk_id for r in a[:10]} & {r.chunk_id for r in b[:10]}) / max(1, len(b[:10]))
            for a, b in pairs
        )
        overlap50 = statistics.mean(
            len({r.chunk_id for r in a} & {r.chunk_id for r in b}) / max(1, len(b))
            for a, b in pairs
        )
        worst10 = min(
            len({r.chunk_id for r in a[:10]} & {r.chunk_id for r in b[:10]}) / max(1, len(b[:10]))
            for a, b in pairs
        )
        print(
            f"{case}: kept vs read readable chunks: identical rankings {same} of {len(pairs)},"
            f" top-10 overlap {overlap10:.4f} (min {worst10:.2f}), top-50 overlap {overlap50:.4f}"
        )
    shown = plans_path.relative_to(ROOT) if plans_path.is_relative_to(ROOT) else plans_path
    print(f"\nplans: {shown}")


if __name__ == "__main__":
    main()
