"""Indexing fairness between organizations: a light organization's page behind a heavy batch.

Runs against its own embedded Postgres and Redis (``OPAA_DATA_DIR``, default
``.opaa/bench-fairness``). Creates two organizations: *heavy* and *light*. For each
mode (``off`` first, the baseline: ``INDEX_SLOTS_PER_ORGANIZATION`` = the worker's
concurrency, so one organization may take every slot, as before the fair share; then
``on``: the default, all of a worker's slots but one), it

- starts a real Celery worker (``celery -A opaa worker``, prefork pool,
  ``--concurrency 2``, dev settings, the same database and Redis as this process);
- warms it up: two one-page uploads from two other organizations at once, so both
  worker processes have loaded the embedding model before anything is measured;
- uploads the heavy organization's ``--heavy`` PDFs of ``--pages`` pages each (built
  with ``tests/fakes/pdf.py``), then at once the light organization's one-page
  Markdown file;
- waits until everything is indexed and reads, from the documents' ``created_at`` and
  ``indexed_at``, the light page's time-to-indexed and the heavy batch's (its last
  document's) time-to-indexed;
- stops the worker and deletes the documents.

Every document is checked to end ``indexed``. Printed as Markdown: the machine, the
load average, the data, one row per mode and round. Bounded: each round gives up after
``--timeout`` seconds.

    .venv/bin/python bench/indexing_fairness.py --heavy 2 --pages 300 --rounds 1
"""

from __future__ import annotations

import argparse
import io
import os
import time
from contextlib import redirect_stdout

from common import (  # bench/, beside this file
    ROOT,
    BenchWorker,
    django_setup_for_workers,
    load,
    machine,
    organization_fresh,
    progress,
)

SLUGS = {"heavy": "bench-heavy", "light": "bench-light"}
WARM_SLUGS = ("bench-warm-a", "bench-warm-b")
CONCURRENCY = 2


def heavy_pdf(seed: int, pages: int) -> bytes:
    """``pages`` pages of 8 distinct lines each (a chunk or so per page)."""
    from tests.fakes.pdf import make_pdf

    return make_pdf(
        [
            [
                f"Annual report {seed}, page {page}, line {line}: cost centre "
                f"{(page * 8 + line) % 211} closed {line % 13} items in ledger {page % 97}."
                for line in range(8)
            ]
            for page in range(pages)
        ]
    )


LIGHT_PAGE = b"# Canteen\n\nLunch is served from 11:30 to 14:00 on every working day.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--heavy", type=int, default=2, help="large PDFs of the heavy org")
    parser.add_argument("--pages", type=int, default=300, help="pages per large PDF")
    parser.add_argument("--rounds", type=int, default=1, help="off/on pairs to run")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per round, at most")
    args = parser.parse_args()

    data_dir = django_setup_for_workers("bench-fairness")
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django_tenants.utils import schema_context

    from ingestion.erasure import document_delete
    from ingestion.models import Document
    from ingestion.uploads import document_upload
    from opaa.celery import app
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    with redirect_stdout(io.StringIO()):  # the organizations' migrations, one line each
        created = {slug: organization_fresh(slug) for slug in (*SLUGS.values(), *WARM_SLUGS)}
    connection.set_schema_to_public()
    app.control.purge()

    def upload(slug: str, name: str, data: bytes) -> int:
        org = created[slug]
        with schema_context(org.organization.schema_name), organization_scope():
            workspace = Workspace.objects.get(is_default=True)
            # Autocommit: the task is sent as soon as the row is committed.
            document = document_upload(
                workspace=workspace, user=org.owner, file=SimpleUploadedFile(name, data)
            )
        connection.set_schema_to_public()
        return document.pk

    def documents(slug: str, ids: list[int]) -> list[Document]:
        with schema_context(created[slug].organization.schema_name), organization_scope():
            found = list(Document.objects.filter(pk__in=ids))
        connection.set_schema_to_public()
        return found

    def wait_indexed(slug: str, ids: list[int], deadline: float) -> list[Document]:
        while True:
            found = documents(slug, ids)
            states = {d.status for d in found}
            if len(found) == len(ids) and states <= {"indexed", "failed"}:
                failed = [d for d in found if d.status != "indexed"]
                if failed:
                    raise RuntimeError(f"not indexed: {[(d.pk, d.error_message) for d in failed]}")
                return found
            if time.monotonic() > deadline:
                raise RuntimeError(f"{slug}: still {sorted(states)} after the round's timeout")
            time.sleep(0.5)

    def clean(slug: str) -> None:
        with schema_context(created[slug].organization.schema_name), organization_scope():
            for document in Document.objects.all():
                document_delete(document=document)
        connection.set_schema_to_public()

    heavy_files = [heavy_pdf(n, args.pages) for n in range(args.heavy)]
    env = {**os.environ, "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT)}
    log_path = data_dir / "worker.log"
    log_path.write_text("")
    rows = []
    started_load = load()
    progress(f"{args.heavy} PDFs of {args.pages} pages ({sum(map(len, heavy_files))} bytes)")
    try:
        for round_number in range(1, args.rounds + 1):
            for mode, slots in (("off", str(CONCURRENCY)), ("on", "0")):
                worker = BenchWorker(
                    {**env, "INDEX_SLOTS_PER_ORGANIZATION": slots},
                    log_path,
                    concurrency=CONCURRENCY,
                    ready_s=120,
                )
                worker.start()
                try:
                    deadline = time.monotonic() + args.timeout
                    warm = [
                        (slug, upload(slug, "warm.md", b"# Warm\n\nUp.\n")) for slug in WARM_SLUGS
                    ]
                    for slug, pk in warm:
                        wait_indexed(slug, [pk], deadline)
                    progress(f"round {round_number}, fairness {mode}: worker warm, uploading")
                    heavy_ids = [
                        upload(SLUGS["heavy"], f"report-{n}.pdf", data)
                        for n, data in enumerate(heavy_files)
                    ]
                    light_ids = [upload(SLUGS["light"], "canteen.md", LIGHT_PAGE)]
                    light = wait_indexed(SLUGS["light"], light_ids, deadline)[0]
                    progress(f"light page indexed; waiting for the heavy batch ({load()})")
                    heavy = wait_indexed(SLUGS["heavy"], heavy_ids, deadline)
                    first_upload = min(d.created_at for d in heavy)
                    rows.append(
                        {
                            "round": round_number,
                            "mode": mode,
                            "light": (light.indexed_at - light.created_at).total_seconds(),
                            "heavy": (
                                max(d.indexed_at for d in heavy) - first_upload
                            ).total_seconds(),
                            "heavy_first": (
                                min(d.indexed_at for d in heavy) - first_upload
                            ).total_seconds(),
                            "load": load(),
                        }
                    )
                    progress(f"{rows[-1]}")
                finally:
                    worker.stop()
                    app.control.purge()
                    for slug in (*SLUGS.values(), *WARM_SLUGS):
                        clean(slug)
    finally:
        from tenants.services import organization_delete

        for org in created.values():
            organization_delete(organization=org.organization)

    print(f"- Machine: {machine()}")
    print(f"- Load average (1, 5, 15 min): {started_load} at the start, {load()} at the end")
    print(
        f"- Data: heavy organization {args.heavy} PDFs x {args.pages} pages "
        f"({sum(map(len, heavy_files)) / 1e6:.1f} MB); light organization one Markdown page"
    )
    print(f"- Worker: prefork, --concurrency {CONCURRENCY}; rounds: {args.rounds}")
    print()
    print(
        "| round | fair share | light page: upload to indexed | heavy: first PDF indexed "
        "| heavy: last PDF indexed | load at end |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['round']} | {row['mode']} | {row['light']:.1f} s | {row['heavy_first']:.1f} s "
            f"| {row['heavy']:.1f} s | {row['load']} |"
        )


if __name__ == "__main__":
    main()
