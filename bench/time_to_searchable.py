"""Time to searchable and time to fully indexed, for 1 and for N documents (issue 17, item 3).

Runs against its own embedded Postgres and Redis (``OPAA_DATA_DIR``, default
``.opaa/bench-searchable``) with real Celery workers (prefork, the development
settings, the same database and Redis as this process). For each mode:

- ``inline`` (the baseline: the pipeline before issue 17, ``INDEX_EMBED_INLINE=true``):
  one worker ``-Q default,ingest,fetch --concurrency 2``; a document is found only once
  every chunk is embedded and written;
- ``queued`` (now, as ``make run`` and the compose file start it): the same one worker,
  which consumes ``embed`` too (``WORKER_EMBED_WITH_INGEST``); text first, vectors from
  the ``embed`` queue;
- ``split`` (now, with embedding workers of their own): an ingest worker
  ``--concurrency 1`` (``WORKER_EMBED_WITH_INGEST=false``) and an embedding worker
  ``-Q embed --concurrency 1``: the same two processes, one per queue.

it measures, after warming the workers up (two pages of each organization at once, so
every process loads the model):

1. **one document** on idle workers: upload to found by keyword (a BM25 query for a
   word only it has, polled every 0.1 s) and upload to ``indexed``;
2. **N documents** uploaded at once by one organization (``--docs``, default 1,000;
   short Markdown pages of 2 chunks): per document, upload to searchable (status
   ``searchable`` or ``indexed``, polled every 0.25 s, also while the batch is being
   uploaded; p50/p95/max) and upload of the
   first to the last searchable and the last indexed;
3. **probes during the backlog**, ``--probe-after`` seconds after the batch's first
   upload: one page of the same organization and one of another organization, each
   timed as in 1.

Printed as Markdown: the machine, the load average, the command, one table. Every
document is checked to end ``indexed``. Bounded by ``--timeout`` per mode.

    nice -n 10 .venv/bin/python bench/time_to_searchable.py --docs 1000
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

from common import (  # bench/, beside this file
    ROOT,
    BenchWorker,
    django_setup_for_workers,
    load,
    machine,
    organization_fresh,
    progress,
)

HEAVY, LIGHT = "bench-tts-heavy", "bench-tts-light"
MODES = ("inline", "queued", "split")


def page(n: int, word: str = "") -> bytes:
    """A short handbook page: two sections (two chunks), distinct per ``n``."""
    sections = "\n\n".join(
        f"## Procedure {n}.{s}\n\n"
        + " ".join(
            f"Step {k} of procedure {n}.{s} checks valve {(n * 31 + s * 7 + k) % 997} "
            f"in plant {n % 53} before shift {k % 3} hands over the log."
            for k in range(6)
        )
        for s in range(2)
    )
    return f"# Handbook page {n} {word}\n\n{word}\n\n{sections}\n".encode()


def workers_for(mode: str, env: dict, log_path: Path) -> list[BenchWorker]:
    if mode == "inline":
        inline = {**env, "INDEX_EMBED_INLINE": "true"}
        return [BenchWorker(inline, log_path, concurrency=2, name="ingest")]
    if mode == "queued":
        return [BenchWorker(env, log_path, concurrency=2, name="ingest")]
    ingest_only = {**env, "WORKER_EMBED_WITH_INGEST": "false"}
    return [
        BenchWorker(ingest_only, log_path, concurrency=1, name="ingest"),
        BenchWorker(env, log_path, queues="embed", concurrency=1, name="embed"),
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1000, help="documents in the batch")
    parser.add_argument("--probe-after", type=float, default=20.0, help="seconds into the batch")
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated, of " + "/".join(MODES)
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per mode, at most")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    assert set(modes) <= set(MODES), modes

    data_dir = django_setup_for_workers("bench-searchable")
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django_tenants.utils import schema_context

    from ingestion.erasure import document_delete
    from ingestion.index import bm25_ranking
    from ingestion.models import Chunk, Document
    from ingestion.uploads import document_upload
    from opaa.celery import app
    from workspaces.models import Workspace
    from workspaces.readers import ReaderScope
    from workspaces.rls import organization_scope

    with redirect_stdout(io.StringIO()):  # the organizations' migrations, one line each
        created = {slug: organization_fresh(slug) for slug in (HEAVY, LIGHT)}
    connection.set_schema_to_public()
    app.control.purge()

    def upload(slug: str, name: str, data: bytes) -> tuple[int, float]:
        org = created[slug]
        with schema_context(org.organization.schema_name), organization_scope():
            workspace = Workspace.objects.get(is_default=True)
            document = document_upload(
                workspace=workspace, user=org.owner, file=SimpleUploadedFile(name, data)
            )
        connection.set_schema_to_public()
        return document.pk, time.monotonic()

    def found(slug: str, word: str) -> bool:
        with schema_context(created[slug].organization.schema_name), organization_scope():
            workspace = Workspace.objects.get(is_default=True)
            ids = [workspace.pk]
            hits = bm25_ranking(
                word, workspace_ids=ids, readers=ReaderScope.everything(ids), limit=1
            )
        connection.set_schema_to_public()
        return bool(hits)

    def statuses(slug: str, ids: list[int]) -> dict[int, str]:
        with schema_context(created[slug].organization.schema_name), organization_scope():
            rows = dict(Document.objects.filter(pk__in=ids).values_list("pk", "status"))
        connection.set_schema_to_public()
        return rows

    class Probe:
        """One page with a word only it has: seconds from its upload to found by
        keyword (BM25) and to ``indexed``."""

        def __init__(self, slug: str, n: int, word: str) -> None:
            self.slug, self.word = slug, word
            self.document_id, self.sent = upload(slug, f"probe-{word}.md", page(n, word))
            self.searchable: float | None = None
            self.indexed: float | None = None

        @property
        def done(self) -> bool:
            return self.indexed is not None

        def poll(self) -> None:
            if self.done:
                return
            now = time.monotonic()
            if self.searchable is None and found(self.slug, self.word):
                self.searchable = now - self.sent
            if statuses(self.slug, [self.document_id]).get(self.document_id) == "indexed":
                self.indexed = now - self.sent
                if self.searchable is None:
                    self.searchable = self.indexed

        def result(self) -> dict:
            return {"searchable": self.searchable, "indexed": self.indexed}

    def probe(slug: str, n: int, word: str, deadline: float) -> dict:
        """Upload one page and wait until it is indexed; its times."""
        one = Probe(slug, n, word)
        while not one.done:
            one.poll()
            if time.monotonic() > deadline:
                raise RuntimeError(f"probe {word} not indexed before the timeout")
            time.sleep(0.1)
        return one.result()

    def batch_poll(batch: dict, seen: dict, indexed_at: dict, probes: dict) -> None:
        """Note the first time each page of the batch is seen searchable and indexed;
        poll the probes."""
        now = time.monotonic()
        for document_id, status in statuses(HEAVY, list(batch)).items():
            if status in {"searchable", "indexed"}:
                seen.setdefault(document_id, now)
            if status == "indexed":
                indexed_at.setdefault(document_id, now)
            if status == "failed":
                raise RuntimeError(f"document {document_id} failed")
        for one in probes.values():
            one.poll()

    def probes_send(mode: str) -> dict[str, Probe]:
        return {
            "same": Probe(HEAVY, 2, f"sameorg{mode}"),
            "other": Probe(LIGHT, 3, f"otherorg{mode}"),
        }

    def clean(slug: str) -> None:
        with schema_context(created[slug].organization.schema_name), organization_scope():
            for document in Document.objects.all():
                document_delete(document=document)
        connection.set_schema_to_public()

    env = {**os.environ, "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT)}
    log_path = data_dir / "worker.log"
    log_path.write_text("")
    results: dict[str, dict] = {}
    started_load = load()
    try:
        for mode in modes:
            workers = workers_for(mode, env, log_path)
            for worker in workers:
                worker.start()
            try:
                deadline = time.monotonic() + args.timeout
                # Every worker process loads the model: two pages of each organization
                # at once (one after the other, both could go to one process and leave
                # the other's model load to the first page timed: 9.5 s).
                warm = [
                    Probe(slug, 0, f"warmup{mode}{slug[-5:]}{n}")
                    for n in range(2)
                    for slug in (HEAVY, LIGHT)
                ]
                while not all(one.done for one in warm):
                    for one in warm:
                        one.poll()
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{mode}: the warm-up pages not indexed in time")
                    time.sleep(0.1)
                progress(f"{mode}: workers warm ({load()})")
                single = probe(HEAVY, 1, f"single{mode}", deadline)
                progress(f"{mode}: one document {single}")

                batch: dict[int, float] = {}
                first = time.monotonic()
                # Probes: uploaded during the batch, timed while the batch goes on.
                probes: dict[str, Probe] = {}
                seen: dict[int, float] = {}
                indexed_at: dict[int, float] = {}

                polled = time.monotonic()
                for n in range(args.docs):
                    document_id, sent = upload(HEAVY, f"page-{n}.md", page(1000 + n))
                    batch[document_id] = sent
                    if not probes and time.monotonic() - first >= args.probe_after:
                        probes = probes_send(mode)
                    if time.monotonic() - polled >= 0.25:  # also while uploading
                        batch_poll(batch, seen, indexed_at, probes)
                        polled = time.monotonic()
                uploaded = time.monotonic() - first
                progress(f"{mode}: {args.docs} uploaded in {uploaded:.0f} s ({load()})")
                if not probes:
                    probes = probes_send(mode)
                ids = list(batch)
                while len(indexed_at) < len(ids) or not all(p.done for p in probes.values()):
                    batch_poll(batch, seen, indexed_at, probes)
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"{mode}: {len(indexed_at)}/{len(ids)} indexed at timeout"
                        )
                    time.sleep(0.25)
                per_doc = [seen[pk] - batch[pk] for pk in ids]
                with schema_context(created[HEAVY].organization.schema_name), organization_scope():
                    chunks = Chunk.objects.filter(document_id__in=ids).count()
                connection.set_schema_to_public()
                results[mode] = {
                    "single": single,
                    "probes": {name: one.result() for name, one in probes.items()},
                    "chunks": chunks,
                    "uploaded": uploaded,
                    "p50": statistics.median(per_doc),
                    "p95": percentile(per_doc, 0.95),
                    "max": max(per_doc),
                    "all_searchable": max(seen.values()) - first,
                    "all_indexed": max(indexed_at.values()) - first,
                    "load": load(),
                }
                progress(f"{mode}: {results[mode]}")
            finally:
                for worker in workers:
                    worker.stop()
                app.control.purge()
                for slug in (HEAVY, LIGHT):
                    clean(slug)
    finally:
        from tenants.services import organization_delete

        for org in created.values():
            organization_delete(organization=org.organization)

    print(f"- Machine: {machine()}")
    print(f"- Load average (1, 5, 15 min): {started_load} at the start, {load()} at the end")
    print(f"- Command: `{' '.join(sys.argv)}`")
    chunks = {r["chunks"] for r in results.values()}
    print(
        f"- Data: {args.docs} Markdown pages ({'/'.join(map(str, sorted(chunks)))} chunks); "
        f"probes {args.probe_after:g} s into the batch"
    )
    print()
    print(
        "| mode | 1 doc: searchable / indexed | N docs: per doc to searchable p50 / p95 / max "
        "| N docs: all searchable / all indexed | probe, same org: searchable / indexed "
        "| probe, other org: searchable / indexed | load at end |"
    )
    print("|---|---|---|---|---|---|---|")
    for mode, r in results.items():
        same, other = r["probes"]["same"], r["probes"]["other"]
        print(
            f"| {mode} | {r['single']['searchable']:.1f} / {r['single']['indexed']:.1f} s "
            f"| {r['p50']:.1f} / {r['p95']:.1f} / {r['max']:.1f} s "
            f"| {r['all_searchable']:.0f} / {r['all_indexed']:.0f} s "
            f"| {same['searchable']:.1f} / {same['indexed']:.1f} s "
            f"| {other['searchable']:.1f} / {other['indexed']:.1f} s | {r['load']} |"
        )


if __name__ == "__main__":
    main()
