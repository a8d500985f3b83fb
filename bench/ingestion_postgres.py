"""Where indexing's Postgres CPU goes, statement by statement (issue 17, item 4).

Uploads N generated documents (``bench/ingestion.py``'s generator) into a throwaway
organization and indexes them in this process (tasks eager: the text stage, then the
embedding queue's batches), reading the Postgres backend's own CPU time before and after
every statement (``/proc/<backend pid>/schedstat``, nanoseconds; the benchmark's own
embedded Postgres, so the backend is on this machine). Reports the server's CPU per chunk
for each step of the write path and the statements that cost most, grouped by their
text with literals and numbers folded.

``--fake-vectors`` replaces the model with random vectors (the run takes seconds, and
the model's CPU does not share the cores with the server's); ``--drop-index NAME`` drops
one of the chunk table's indexes before the uploads, to measure its share (e.g.
``chunk_embedding_hnsw``).

    .venv/bin/python bench/ingestion_postgres.py --documents 24
    .venv/bin/python bench/ingestion_postgres.py --documents 24 --drop-index chunk_embedding_hnsw

Runs against its own embedded Postgres and Redis (``OPAA_DATA_DIR``, default
``.opaa/bench-ingestion-postgres``).
"""

from __future__ import annotations

import argparse
import collections
import io
import random
import re
import time
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

from common import django_setup, load, machine, organization_fresh

SLUG = "bench-ingestion-postgres"


def backend_cpu_ns(pid: int) -> int:
    """CPU nanoseconds the Postgres backend ``pid`` has run so far."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def statement_key(sql: str) -> str:
    """The statement's text, shortened, with literals and numbers folded."""
    text = re.sub(r"\s+", " ", sql).strip()[:110]
    text = re.sub(r"'[^']*'", "?", text)
    return re.sub(r"\d+", "N", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=24)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fake-vectors", action="store_true")
    parser.add_argument("--drop-index", action="append", default=[], metavar="NAME")
    parser.add_argument("--top", type=int, default=15, help="statements listed")
    args = parser.parse_args()
    django_setup(SLUG)

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django_tenants.utils import schema_context
    from ingestion_workers import generator

    import ingestion.embedding_queue as embedding_queue
    import ingestion.index as index
    import ingestion.indexing as indexing
    from ingestion.models import Chunk
    from ingestion.uploads import document_upload
    from tenants.services import organization_delete
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope, schema_owner_connection

    statements: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0])
    steps: dict[str, float] = collections.defaultdict(float)
    pids: dict[int, int] = {}

    def pid_of(conn) -> int:
        raw = conn.connection
        if id(raw) not in pids:
            pids[id(raw)] = raw.info.backend_pid
        return pids[id(raw)]

    def timed(execute, sql, params, many, context):
        pid = pid_of(context["connection"])
        before = backend_cpu_ns(pid)
        try:
            return execute(sql, params, many, context)
        finally:
            entry = statements[statement_key(sql)]
            entry[0] += (backend_cpu_ns(pid) - before) / 1e6
            entry[1] += 1

    @contextmanager
    def step(name: str):
        pid = pid_of(connection)
        before = backend_cpu_ns(pid)
        try:
            yield
        finally:
            steps[name] += (backend_cpu_ns(pid) - before) / 1e6

    def wrap(module, name: str, label: str) -> None:
        function = getattr(module, name)

        def wrapped(*a, **k):
            with step(label):
                return function(*a, **k)

        setattr(module, name, wrapped)

    # Since the chunks' INSERT computes search_vector and lexeme_count, the pipeline
    # calls neither search_vector_write nor an UPDATE of lexeme_count.
    wrap(index, "chunks_replace", "chunks: DELETE + INSERT")
    wrap(index, "search_vector_write", "chunks: search_vector UPDATE")
    wrap(index, "postings_write", "postings (and, before, the lexeme_count UPDATE)")
    wrap(indexing, "facts_write", "facts")
    wrap(embedding_queue, "_batch_embed", "vectors: the queue's UPDATE")
    if args.fake_vectors:
        rng = random.Random(args.seed)

        def vectors(model, texts, kind="passage"):
            return [[rng.uniform(-1, 1) for _ in range(384)] for _ in texts]

        embedding_queue.embed_with = vectors

    bench = generator()
    documents = bench.documents_generate(count=args.documents, seed=args.seed)
    files = [(d.filename, bench.document_bytes(d)) for d in documents]
    with redirect_stdout(io.StringIO()):
        org = organization_fresh(SLUG)
    start_load = load()
    try:
        with schema_context(org.organization.schema_name), organization_scope():
            for name in args.drop_index:
                with schema_owner_connection(), connection.cursor() as cursor:
                    cursor.execute(f'DROP INDEX "{org.organization.schema_name}"."{name}"')
            workspace = Workspace.objects.get(is_default=True)
            started, client_started = time.perf_counter(), time.process_time()
            with connection.execute_wrapper(timed), step("total"):
                for name, data in files:
                    document_upload(
                        workspace=workspace, user=org.owner, file=SimpleUploadedFile(name, data)
                    )
            wall = time.perf_counter() - started
            client = time.process_time() - client_started
            chunks = Chunk.objects.count()
            pending = Chunk.objects.filter(embedding__isnull=True).count()
    finally:
        connection.set_schema_to_public()
        organization_delete(organization=org.organization)
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        pgvector = cursor.fetchone()[0]
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]

    total = steps.pop("total")
    print(f"- Machine: {machine()}")
    print(f"- Load average: {start_load} at the start, {load()} at the end")
    print(f"- Postgres {server}, pgvector {pgvector}")
    print(
        f"- Data: {args.documents} generated documents (seed {args.seed}), {chunks} chunks"
        f" ({pending} without a vector at the end); vectors "
        + ("random (--fake-vectors)" if args.fake_vectors else "by the local model")
        + (f"; dropped: {', '.join(args.drop_index)}" if args.drop_index else "")
    )
    print(f"- Wall time of the uploads and their indexing: {wall:.1f} s")
    print(
        f"- CPU of this process meanwhile: {client:.1f} s, {client / chunks * 1000:.1f} ms a"
        " chunk (parsing, chunking, the ORM and the driver; the model's too, unless"
        " --fake-vectors)"
    )
    sets = sum(n for key, (_, n) in statements.items() if key.startswith("SET search_path"))
    print(
        f"- Statements: {sum(n for _, n in statements.values())} ({sets} of them `SET search_path`)"
    )
    print()
    print("| step | server CPU ms | ms a chunk |")
    print("|---|--:|--:|")
    for name, ms in sorted(steps.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {ms:.0f} | {ms / chunks:.2f} |")
    rest = total - sum(steps.values())
    print(f"| everything else | {rest:.0f} | {rest / chunks:.2f} |")
    print(f"| **all** | **{total:.0f}** | **{total / chunks:.2f}** |")
    print()
    print("| statement | times | server CPU ms | ms a chunk |")
    print("|---|--:|--:|--:|")
    ranked = sorted(statements.items(), key=lambda kv: -kv[1][0])
    for key, (ms, count) in ranked[: args.top]:
        shown = key.replace("|", "\\|")
        print(f"| `{shown}` | {count} | {ms:.0f} | {ms / chunks:.2f} |")


if __name__ == "__main__":
    main()
