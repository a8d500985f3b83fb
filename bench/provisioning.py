"""How long provisioning an organization takes: fresh schema vs. a spare from the pool.

Runs against its own embedded Postgres (``OPAA_DATA_DIR``, default
``.opaa/bench-provisioning``), migrates the public schema, then times
``organization_create`` (schema, migrations, domain, default workspace, owner):

- **fresh**: the pool is empty, so the schema is created and every organization
  migration runs (this is also what one spare costs the beat task);
- **claimed**: the pool holds spares; the signup renames one and adds its rows.

Each organization is deleted again afterwards.

    .venv/bin/python bench/provisioning.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    os.environ.setdefault("OPAA_DATA_DIR", str(ROOT / ".opaa" / "bench-provisioning"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from tenants import pool
    from tenants.models import Organization
    from tenants.services import organization_create, organization_delete

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    for leftover in Organization.objects.filter(slug__startswith="bench-"):
        organization_delete(organization=leftover)
    for spare in Organization.objects.filter(status="spare"):
        spare.delete(force_drop=True)

    def timed_create(slug: str) -> float:
        connection.set_schema_to_public()
        started = time.perf_counter()
        organization_create(name=slug, slug=slug, owner_email=f"owner@{slug}.example")
        return time.perf_counter() - started

    fresh = [timed_create(f"bench-fresh-{i}") for i in range(args.runs)]

    started = time.perf_counter()
    pool.pool_replenish(size=args.runs)
    replenish = time.perf_counter() - started
    claimed = [timed_create(f"bench-claimed-{i}") for i in range(args.runs)]

    connection.set_schema_to_public()
    for organization in Organization.objects.filter(slug__startswith="bench-"):
        organization_delete(organization=organization)

    def line(name: str, values: list[float]) -> str:
        shown = ", ".join(f"{v:.2f}" for v in values)
        return f"| {name} | {statistics.median(values):.2f} s | {shown} |"

    print(f"runs: {args.runs}, cpus: {os.cpu_count()}")
    print("| organization_create | median | each run (s) |")
    print("|---|---|---|")
    print(line("fresh schema (pool empty)", fresh))
    print(line("claimed spare (pool ready)", claimed))
    print(f"\npool_replenish of {args.runs} spares: {replenish:.2f} s")


if __name__ == "__main__":
    main()
