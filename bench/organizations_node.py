"""How one node's database grows with its organizations (issue 17, item 5).

One organization is created the product's way (``organization_create``: schema, every
organization migration, domain, default workspace, owner) with the sample corpus
indexed; then ``--steps`` more organizations at a time are added as copies of an empty
organization's schema (``pg_dump`` of a fresh organization's schema, its name replaced,
run by ``psql``; an ``Organization`` and a ``Domain`` row each): the same relations,
policies, triggers and migration records a real one has, in a fraction of the time
(``organization_create`` runs every migration: about 10 s each). At every size it
measures what grows with the count of organizations:

- the database: relations (``pg_class``), its size, the system catalogs' size;
- one organization's backup (``backup_create``: ``pg_dump`` of its schema, which reads
  the whole catalog, and its originals);
- a new connection's first read of one organization's documents (``SET search_path``
  and the query: the backend's catalog caches start empty);
- a keyword search in the sample organization on a connection already used;
- ``organization_create`` of one more organization, fresh (no spare);
- at the sizes named by ``--migrate-at``, ``migrate_schemas`` with nothing to apply:
  what every upgrade pays per organization before its own migrations.

Runs against its own embedded Postgres (``OPAA_DATA_DIR``, default
``.opaa/bench-orgs``), whose data directory it empties at the start of every run (an
empty database of its own) and leaves afterwards.

    nice -n 10 .venv/bin/python bench/organizations_node.py --steps 0,100,250,500
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import (  # bench/, beside this
    ROOT,
    asked_as_in_a_request,
    django_setup,
    machine,
    sample_organization,
)

TEMPLATE = "bench-orgs-template"
COPY_PREFIX = "bench_orgs_copy_"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", default="0,100,250,500", help="organizations added, in all")
    parser.add_argument("--migrate-at", default="100,500", help="sizes to time migrate_schemas")
    parser.add_argument("--reads", type=int, default=20, help="new connections timed per size")
    args = parser.parse_args()
    steps = [int(step) for step in args.steps.split(",")]
    migrate_at = {int(size) for size in args.migrate_at.split(",") if size}

    data_dir = Path(os.environ.setdefault("OPAA_DATA_DIR", str(ROOT / ".opaa/bench-orgs")))
    if (data_dir / "pg").exists():
        shutil.rmtree(data_dir / "pg")  # an empty database of its own, every run
    django_setup("bench-organizations")
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import schema_context

    from opaa.backup.archive import backup_create
    from opaa.backup.database import Database, pg_tool
    from tenants.models import Domain, Organization
    from tenants.services import organization_create, organization_delete

    start_load = os.getloadavg()
    sample = sample_organization("bench-orgs-sample")
    database = Database.from_settings()
    empty = organization_create(name="Template", slug=TEMPLATE, owner_email="o@t.example")
    template_schema = empty.organization.schema_name
    dump = subprocess.run(
        [pg_tool("pg_dump"), "--no-owner", "--schema", template_schema, database.conninfo()],
        env=database.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # The schema's name in the dump (quoted or not) is replaced by each copy's.
    assert template_schema.isidentifier()
    owner = connection.settings_dict.get("OWNER", {}).get("USER") or "opaa_owner"

    def copies_add(count: int, first: int) -> float:
        started = time.perf_counter()
        for index in range(first, first + count):
            schema = f"{COPY_PREFIX}{index:05d}"
            sql = dump.replace(template_schema, schema)
            with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as out:
                out.write(f"SET ROLE {owner};\n{sql}")
            try:
                psql = (pg_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1")
                subprocess.run(
                    [*psql, "-d", database.conninfo(), "-f", out.name],
                    env=database.env(),
                    capture_output=True,
                    check=True,
                )
            finally:
                os.unlink(out.name)
            # Rows as organization_create writes them (bulk: save() would migrate).
            (organization,) = Organization.objects.bulk_create(
                [Organization(schema_name=schema, name=schema, slug=schema.replace("_", "-"))]
            )
            Domain.objects.bulk_create(
                [Domain(domain=f"{schema}.bench.example", tenant=organization, is_primary=True)]
            )
        return time.perf_counter() - started

    def figures() -> dict:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), pg_database_size(current_database()),"
                " (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class AS c"
                "  JOIN pg_namespace AS n ON n.oid = c.relnamespace"
                "  WHERE n.nspname = 'pg_catalog' AND c.relkind = 'r')"
                " FROM pg_class"
            )
            relations, size, catalog = cursor.fetchone()
        return {"relations": relations, "database_mb": size / 2**20, "catalog_mb": catalog / 2**20}

    def first_reads() -> float:
        """Median ms of a new connection's first read of the sample's documents."""
        import psycopg

        times = []
        db = connection.settings_dict
        params = {"host": db["HOST"], "port": db["PORT"] or None, "dbname": db["NAME"]}
        params.update(user=db["USER"], password=db["PASSWORD"] or None)
        for _ in range(args.reads):
            started = time.perf_counter()
            with psycopg.connect(**params) as raw:
                raw.execute(f'SET search_path = "{sample.schema}", public')
                raw.execute("SELECT count(*) FROM ingestion_document").fetchone()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    def search_ms() -> float:
        from search.retrieval import keyword_ranking
        from workspaces.readers import ReaderScope

        ids = [sample.workspace_id]
        times = []
        with schema_context(sample.schema), asked_as_in_a_request(sample.schema):
            for question in ("vpn remote access", "expense report deadline", "holiday") * 3:
                started = time.perf_counter()
                keyword_ranking(
                    question, workspace_ids=ids, readers=ReaderScope.everything(ids), limit=50
                )
                times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    def backup_s() -> float:
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            backup_create(destination=Path(out), organization=sample.organization.slug)
            return time.perf_counter() - started

    def create_s(size: int) -> float:
        slug = f"bench-orgs-fresh-{size}"
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # each migration's line
            created = organization_create(name="Fresh", slug=slug, owner_email=f"o@{slug}.example")
        elapsed = time.perf_counter() - started
        organization_delete(organization=created.organization)
        return elapsed

    def migrate_s() -> float:
        started = time.perf_counter()
        call_command("migrate_schemas", interactive=False, verbosity=0)
        return time.perf_counter() - started

    rows, added = [], 0
    for size in steps:
        copy_s = copies_add(size - added, added) if size > added else 0.0
        copied = size - added
        added = size
        row = {"organizations": Organization.objects.exclude(status="spare").count(), **figures()}
        row["copy_s_each"] = copy_s / copied if copied else None
        row["backup_s"] = backup_s()
        row["first_read_ms"] = first_reads()
        row["search_ms"] = search_ms()
        row["create_s"] = create_s(size)
        row["migrate_s"] = migrate_s() if size in migrate_at else None
        rows.append(row)
        print(row, flush=True)

    print()
    print(f"- Machine: {machine()}")
    loads = [" ".join(f"{x:.2f}" for x in load) for load in (start_load, os.getloadavg())]
    print(f"- Load average (1, 5, 15 min): {loads[0]} at the start, {loads[1]} at the end")
    print(f"- Command: `bench/organizations_node.py --steps {args.steps}`")
    print()
    print(
        "| organizations | relations | database | system catalogs | one organization's"
        " backup | a new connection's first read | keyword search | organization_create"
        " (fresh) | migrate_schemas, nothing to apply |"
    )
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        migrate = f"{row['migrate_s']:.0f} s" if row["migrate_s"] is not None else ""
        print(
            f"| {row['organizations']:,} | {row['relations']:,} | {row['database_mb']:,.0f} MB"
            f" | {row['catalog_mb']:,.0f} MB | {row['backup_s']:.2f} s"
            f" | {row['first_read_ms']:.1f} ms | {row['search_ms']:.1f} ms"
            f" | {row['create_s']:.1f} s | {migrate} |"
        )


if __name__ == "__main__":
    main()
