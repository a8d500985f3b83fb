"""The BM25 query right after a workspace is indexed, before Postgres has statistics.

A new organization's tables are analyzed by autovacuum about a minute after its first
documents arrive; until then the planner guesses. This benchmark indexes
``sample_corpus/`` into a new organization (its own embedded Postgres under
``OPAA_DATA_DIR``, default ``.opaa/bench-cold``), keeps autovacuum off those tables, and
times the keyword ranking of ``--questions`` questions with the BM25 query as it is
(its small CTEs MATERIALIZED) and, as the baseline in the same run, with the same query
inlined (``AS (`` instead of ``AS MATERIALIZED (``); then again after ``ANALYZE``.

    .venv/bin/python bench/keyword_cold.py --questions 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import django_setup, organization_fresh, sample_corpus_upload  # bench/

SLUG = "bench-cold"
QUESTIONS = [
    "How many days of annual leave do employees get?",
    "Where do visitors park?",
    "Who approves travel expenses?",
    "How long are invoices kept?",
    "What is the password policy?",
]
TABLES = ("ingestion_chunk", "search_posting", "ingestion_document")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=5)
    args = parser.parse_args()

    django_setup("bench-cold")
    from django.db import connection
    from django_tenants.utils import schema_context

    from ingestion.index import _bm25_sql
    from tenants.models import Organization
    from tenants.services import organization_delete
    from workspaces.models import Workspace
    from workspaces.readers import reader_scope
    from workspaces.rls import organization_scope, schema_owner_connection

    created = organization_fresh(SLUG)
    schema = created.organization.schema_name

    def owner_sql(sql: str) -> None:
        with schema_owner_connection(), connection.cursor() as cursor:
            cursor.execute(sql)

    tables = ", ".join(f'"{schema}".{table}' for table in TABLES)
    for table in TABLES:
        owner_sql(f'ALTER TABLE "{schema}".{table} SET (autovacuum_enabled = false)')
    try:
        with schema_context(schema), organization_scope():
            workspace = Workspace.objects.get(is_default=True)
            sample_corpus_upload(workspace=workspace, user=created.owner)
            readers = reader_scope(created.owner, [workspace])
            materialized = _bm25_sql(readers)
            inlined = materialized.replace(" AS MATERIALIZED (", " AS (")
            assert inlined != materialized

            def timed(sql: str) -> list[float]:
                seconds = []
                for question in (QUESTIONS * args.questions)[: args.questions]:
                    params = {"text": question, "workspaces": [workspace.pk], "limit": 50}
                    started = time.perf_counter()
                    with connection.cursor() as cursor:
                        cursor.execute(sql, {**params, **readers.params()})
                        cursor.fetchall()
                    seconds.append(time.perf_counter() - started)
                return seconds

            rows = [("no statistics", "inlined", timed(inlined))]
            rows.append(("no statistics", "materialized", timed(materialized)))
            owner_sql(f"ANALYZE {tables}")
            rows.append(("after ANALYZE", "inlined", timed(inlined)))
            rows.append(("after ANALYZE", "materialized", timed(materialized)))
    finally:
        connection.set_schema_to_public()
        organization_delete(organization=Organization.objects.get(slug=SLUG))

    print(f"cpus: {os.cpu_count()}, questions: {args.questions}, sample corpus")
    print("| statistics | BM25 query | median | max |")
    print("|---|---|--:|--:|")
    for state, variant, seconds in rows:
        median, worst = statistics.median(seconds) * 1000, max(seconds) * 1000
        print(f"| {state} | {variant} | {median:,.1f} ms | {worst:,.1f} ms |")


if __name__ == "__main__":
    main()
