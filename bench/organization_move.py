"""What an organization costs a Postgres node, and how long moving it to another takes.

Runs against its own embedded Postgres (``OPAA_DATA_DIR``, default
``.opaa/bench-move``): creates an organization and indexes ``sample_corpus/`` into it
(eagerly, in this process), then reports its schema's footprint (relations by kind,
bytes of tables and indexes, the system catalogs' growth for one more organization) and
times ``opaa.organization_move.organization_move`` into a second embedded Postgres
(another cell, migrated here first): the whole move is the time the organization is
suspended. Between runs the target's copy is removed and the organization resumed.

    .venv/bin/python bench/organization_move.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import django_setup, sample_organization  # bench/, beside this file

SLUG = "bench-move"
CATALOGS = ("pg_class", "pg_attribute", "pg_depend", "pg_index", "pg_constraint",
            "pg_type", "pg_policy", "pg_attrdef", "pg_sequence")  # fmt: skip


def _catalog_bytes(cursor) -> int:
    cursor.execute(" + ".join(f"pg_total_relation_size('{name}')" for name in CATALOGS).join(
        ["SELECT ", ""]))  # fmt: skip
    return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data_dir = django_setup("bench-move")
    from django.core.management import call_command
    from django.db import connection

    from opaa.embedded import postgres_server, postgres_start
    from opaa.organization_move import Cluster, _copy_remove, cluster_bound, organization_move
    from tenants.models import Organization
    from tenants.services import organization_create, organization_delete
    from tenants.suspension import organization_resume

    sample = sample_organization(SLUG)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relkind, count(*), sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
            "GROUP BY 1 ORDER BY 1",
            [sample.schema],
        )
        kinds = {kind: (count, int(size)) for kind, count, size in cursor.fetchall()}
        before = _catalog_bytes(cursor)
    for leftover in Organization.objects.filter(slug=f"{SLUG}-empty"):
        organization_delete(organization=leftover)
    started = time.perf_counter()
    empty = organization_create(
        name="Empty", slug=f"{SLUG}-empty", owner_email="owner@empty.example"
    ).organization
    created = time.perf_counter() - started
    with connection.cursor() as cursor:
        catalog = _catalog_bytes(cursor) - before
        cursor.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'm')",
            [empty.schema_name],
        )
        empty_bytes = int(cursor.fetchone()[0])
    organization_delete(organization=empty)

    root = Path(tempfile.mkdtemp(prefix="cell-", dir=data_dir))
    url, owner_url = postgres_start(root / "pg", database="opaa_cell")
    target = Cluster(url=url, owner_url=owner_url, name="cell-2")
    moves = []
    try:
        with cluster_bound(target):
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        for _ in range(args.runs):
            connection.set_schema_to_public()
            started = time.perf_counter()
            result = organization_move(slug=SLUG, target=target)
            moves.append(time.perf_counter() - started)
            assert result.steps == ["copy", "verify", "switch"], result.steps
            _copy_remove(target, sample.schema)
            organization_resume(organization=Organization.objects.get(slug=SLUG))
    finally:
        connection.set_schema_to_public()
        postgres_server(root / "pg").cleanup()
        shutil.rmtree(root, ignore_errors=True)
        organization_delete(organization=Organization.objects.get(slug=SLUG))

    names = {"r": "tables", "i": "indexes", "S": "sequences", "t": "TOAST tables"}
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()}")
    print(f"organization: {sample.documents} documents, {sample.chunks} chunks")
    print("relations in its schema: " + ", ".join(
        f"{count} {names.get(kind, kind)}" for kind, (count, _) in kinds.items()))  # fmt: skip
    print(f"its tables with their indexes and TOAST: {kinds['r'][1] / 1e6:.1f} MB; "
          f"an empty organization's: {empty_bytes / 1e6:.1f} MB, created in {created:.1f} s, "
          f"system catalogs +{catalog / 1e6:.2f} MB")  # fmt: skip
    shown = ", ".join(f"{v:.2f}" for v in moves)
    print(f"| move (suspended until switched) | {statistics.median(moves):.2f} s | {shown} |")


if __name__ == "__main__":
    main()
