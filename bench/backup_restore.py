"""How long a backup and a restore take, for the sample corpus.

Runs against its own embedded Postgres (``OPAA_DATA_DIR``, default
``.opaa/bench-backup``): creates an organization, indexes ``sample_corpus/`` into it
(eagerly, in this process), then times ``backup_create`` and ``backup_restore`` into a
fresh embedded Postgres and an empty storage, and, for that one organization,
``backup_create(organization=...)``, ``organization_delete`` and ``organization_restore``
into the running installation, ``--runs`` times each. The organization is deleted again
afterwards.

    .venv/bin/python bench/backup_restore.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from common import django_setup, sample_organization  # bench/, beside this file

SLUG = "bench-backup"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    django_setup("bench-backup")
    from django.core.files.storage import FileSystemStorage
    from django.db import connection
    from django_tenants.utils import schema_context

    from ingestion.models import Chunk, Document
    from opaa.backup import Database, backup_create, backup_restore
    from opaa.backup_organization import organization_restore
    from opaa.embedded import postgres_server, superuser_sql
    from tenants.models import Organization
    from tenants.services import organization_delete
    from workspaces.rls import organization_scope

    sample = sample_organization(SLUG)
    schema, documents, chunks = sample.schema, sample.documents, sample.chunks

    backups, restores, sizes = [], [], []
    org_backups, org_restores, org_sizes = [], [], []
    work = Path(tempfile.mkdtemp(prefix="opaa-bench-", dir="/tmp"))
    try:
        for run in range(args.runs):
            started = time.perf_counter()
            result = backup_create(destination=work / f"b{run}")
            backups.append(time.perf_counter() - started)
            sizes.append(result.path.stat().st_size)
            server = postgres_server(work / f"pg{run}")
            superuser_sql(server, "CREATE DATABASE restored;")
            socket_dir = quote(str(server.get_postmaster_info().socket_dir), safe="")
            target = Database.from_url(f"postgres://postgres@{socket_dir}/restored")
            started = time.perf_counter()
            backup_restore(
                archive=result.path,
                database=target,
                storage=FileSystemStorage(location=work / f"media{run}"),
                keep_owners=False,
            )
            restores.append(time.perf_counter() - started)
            server.cleanup()

            started = time.perf_counter()
            own = backup_create(destination=work / f"o{run}", organization=SLUG)
            org_backups.append(time.perf_counter() - started)
            org_sizes.append(own.path.stat().st_size)
            organization_delete(organization=Organization.objects.get(slug=SLUG))
            started = time.perf_counter()
            organization_restore(archive=own.path)
            org_restores.append(time.perf_counter() - started)
            with schema_context(schema), organization_scope():
                assert (Document.objects.count(), Chunk.objects.count()) == (documents, chunks)
            connection.set_schema_to_public()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        organization_delete(organization=Organization.objects.get(slug=SLUG))

    def line(name: str, values: list[float]) -> str:
        shown = ", ".join(f"{v:.2f}" for v in values)
        return f"| {name} | {statistics.median(values):.2f} s | {shown} |"

    print(f"runs: {args.runs}, cpus: {os.cpu_count()}, organization: {documents} documents, "
          f"{chunks} chunks; archive {statistics.median(sizes) / 1e6:.1f} MB, "
          f"organization's archive {statistics.median(org_sizes) / 1e6:.1f} MB")  # fmt: skip
    print("| step | median | each run (s) |")
    print("|---|---|---|")
    print(line("backup (pg_dump + objects + manifest)", backups))
    print(line("restore (verify + pg_restore + objects)", restores))
    print(line("one organization: backup", org_backups))
    print(line("one organization: restore into the running installation", org_restores))


if __name__ == "__main__":
    main()
