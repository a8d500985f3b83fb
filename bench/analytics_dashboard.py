"""How long the analytics pages take with a year of history for 1,000 people.

Seeds one organization (its own embedded Postgres under ``OPAA_DATA_DIR``, default
``.opaa/bench-analytics``) with ``--people`` members of its default workspace, 60
indexed documents and, for every person, one question per working day (Monday to
Friday) of the last ``--days-back`` days: about 260,000 questions for 1,000 people and a
year. Answers: 70% written by an LLM (600 + 120 tokens), 15% quoted, 15% "not in the
documents"; each answered one cites one of the documents; about one question in 13
is rated (4 of 5 helpful); latencies 300-2,300 ms; a third by API. Also 20 golden
questions with a run every night of the year (the answer-quality page reads them). The
questions are written with one ``INSERT ... SELECT generate_series`` through the
application's role (row-level security applies).

Then it times the pages through Django's test client, signed in as the owner, DEBUG
off, warm (one request first, then ``--repeat`` timed): Usage (``/analytics/``), the
Documents page and the Answer quality page, for the last 7, 30, 90 and 365 days. The
baseline, in the same run: the same pages over an empty workspace (what a page costs
without data), and the dashboard's daily query alone (``analytics_daily``).

    nice -n 10 .venv/bin/python bench/analytics_dashboard.py            # seed and time
    nice -n 10 .venv/bin/python bench/analytics_dashboard.py --reuse    # time only
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time

from common import django_setup, organization_fresh  # bench/

SLUG = "bench-analytics"
DOCUMENTS = 60
GOLDEN = 20
PERIODS = (7, 30, 90, 365)


def seed(*, people: int, days_back: int) -> None:
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.db.models import F
    from django_tenants.utils import schema_context

    from accounts.models import User
    from analytics.models import GoldenQuestion, GoldenRun
    from ingestion.models import Document, DocumentStatus
    from search.models import Feedback, Question
    from workspaces.models import Membership, Role, Workspace
    from workspaces.rls import organization_scope

    created = organization_fresh(SLUG)
    schema = created.organization.schema_name
    started = time.perf_counter()
    with schema_context(schema), organization_scope():
        workspace = Workspace.objects.get(is_default=True)
        Workspace.objects.create(name="Empty", slug="empty")
        unusable = make_password(None)
        User.objects.bulk_create(
            User(email=f"person{i:04d}@{SLUG}.example", password=unusable) for i in range(people)
        )
        users = list(
            User.objects.filter(email__startswith="person")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Membership.objects.bulk_create(
            Membership(workspace=workspace, user_id=pk, role=Role.VIEWER) for pk in users
        )
        now = dt.datetime.now(dt.UTC)
        documents = Document.objects.bulk_create(
            Document(
                workspace=workspace,
                title=f"Policy {i:02d}",
                original_filename=f"policy-{i:02d}.md",
                storage_key=f"bench/policy-{i:02d}",
                mime_type="text/markdown",
                size_bytes=1000,
                sha256=f"{i:064x}",
                status=DocumentStatus.INDEXED,
                indexed_at=now - dt.timedelta(days=3 * i),
            )
            for i in range(DOCUMENTS)
        )
        first_doc = min(d.pk for d in documents)
        q, f, u = Question._meta.db_table, Feedback._meta.db_table, User._meta.db_table
        with connection.cursor() as cursor:
            # One row per person and working day; g numbers them (the day's serial times a
            # prime plus the person's), and its remainders spread modes, times, channels.
            cursor.execute(
                f"""
                INSERT INTO {q} (workspace_id, asked_by_id, text, standalone_text, answer,
                    mode, citations, model, prompt_tokens, completion_tokens, cost_usd,
                    confidence, retrieval_ms, latency_ms, channel, created_at)
                SELECT %(workspace)s, u.id, 'Question ' || mod(g, 500), '', 'An answer.',
                    CASE WHEN mod(g, 20) < 14 THEN 'llm'
                         WHEN mod(g, 20) < 17 THEN 'extractive' ELSE 'no_answer' END,
                    CASE WHEN mod(g, 20) < 17 THEN jsonb_build_array(jsonb_build_object(
                        'number', 1, 'chunk_id', mod(g, 600),
                        'document_id', %(first_doc)s + mod(g, %(documents)s),
                        'document_title', 'Policy', 'text', 'A passage.'))
                         ELSE '[]'::jsonb END,
                    CASE WHEN mod(g, 20) < 14 THEN 'gpt-4o-mini' ELSE '' END,
                    CASE WHEN mod(g, 20) < 14 THEN 600 ELSE 0 END,
                    CASE WHEN mod(g, 20) < 14 THEN 120 ELSE 0 END,
                    CASE WHEN mod(g, 20) < 14 THEN 0.000162 ELSE 0 END,
                    CASE WHEN mod(g, 20) < 17 THEN 0.7 ELSE 0.1 END,
                    50 + mod(g, 150), 300 + mod(g * 7919, 2000),
                    CASE WHEN mod(g, 3) = 0 THEN 'api' ELSE 'portal' END,
                    d.day + make_interval(secs => 8 * 3600 + mod(g * 37, 36000))
                FROM generate_series(
                    (now() - make_interval(days => %(days)s))::date, now()::date, '1 day'
                ) AS d(day)
                CROSS JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n
                            FROM {u} WHERE email LIKE %(people)s) u
                CROSS JOIN LATERAL (SELECT (extract(epoch FROM d.day)::bigint / 86400)
                                           * 1009 + u.n AS g) s
                WHERE extract(isodow FROM d.day) < 6 AND d.day + interval '8 hours' < now()
                """,  # noqa: S608 - our table names; every value is a parameter
                {
                    "workspace": workspace.pk,
                    "first_doc": first_doc,
                    "documents": DOCUMENTS,
                    "days": days_back,
                    "people": "person%",
                },
            )
            # Some of every day's questions rated by their asker (id and day of the year
            # alike modulo 20: about 1 in 13, 20,000 for the default), 4 of 5 helpful.
            cursor.execute(
                f"""
                INSERT INTO {f} (question_id, user_id, helpful, comment, created_at, updated_at)
                SELECT id, asked_by_id, mod(id, 5) <> 0, '', created_at, created_at
                FROM {q} WHERE mod(id, 20) = mod(extract(doy FROM created_at)::int, 20)
                """  # noqa: S608 - our table names
            )
        golden = GoldenQuestion.objects.bulk_create(
            GoldenQuestion(
                workspace=workspace,
                text=f"Golden question {i}",
                documents=[first_doc + i],
                created_by=created.owner,
            )
            for i in range(GOLDEN)
        )
        runs = []
        for back in range(days_back, 0, -1):
            at = now - dt.timedelta(days=back)
            results = [
                {
                    "golden": g.pk,
                    "ndcg": 0.9 - (i % 3) * 0.1,
                    "recall": 1.0 if i % 4 else 0.5,
                    "correct": i % 7 != 0,
                    "answered": True,
                    "found": [first_doc + (i + j) % DOCUMENTS for j in range(10)],
                }
                for i, g in enumerate(golden)
            ]
            runs.append(
                GoldenRun(
                    workspace=workspace,
                    trigger="schedule",
                    status="done",
                    started_at=at,
                    finished_at=at,
                    total=GOLDEN,
                    done=GOLDEN,
                    ndcg=0.8,
                    recall=0.875,
                    correct=0.85,
                    model="gpt-4o-mini",
                    documents_indexed=DOCUMENTS,
                    results=results,
                )
            )
        GoldenRun.objects.bulk_create(runs)
        GoldenRun.objects.filter(workspace=workspace).update(created_at=F("finished_at"))
        with connection.cursor() as cursor:
            for table in (q, f, GoldenRun._meta.db_table):
                cursor.execute(f"ANALYZE {table}")
        print(
            f"seeded {Question.objects.count():,} questions, {Feedback.objects.count():,} "
            f"votes, {people:,} people, {len(runs)} golden runs "
            f"in {time.perf_counter() - started:.0f} s"
        )


def _median_ms(call, repeat: int) -> tuple[float, float, float]:
    call()  # warm: templates, caches, the planner's statistics
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times), max(times)


def measure(*, repeat: int) -> None:
    from django.db import connection
    from django.test import Client, override_settings
    from django_tenants.utils import schema_context

    from accounts.models import User
    from analytics.period import period_parse
    from analytics.selectors import analytics_daily
    from search.models import Question
    from tenants.models import Domain, Organization
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    organization = Organization.objects.get(slug=SLUG)
    domain = Domain.objects.filter(tenant=organization, is_primary=True).first().domain
    client = Client(HTTP_HOST=domain)
    with schema_context(organization.schema_name):
        owner = User.objects.get(is_owner=True)
        client.force_login(owner)
        with organization_scope():
            questions = Question.objects.count()
            workspace = Workspace.objects.get(is_default=True)
    connection.set_schema_to_public()
    print(f"{questions:,} questions; load average {os.getloadavg()[0]:.1f}")

    def period(days: int) -> dict:
        if days in (7, 30, 90):
            return {"days": days, "tz": "UTC"}
        today = dt.datetime.now(dt.UTC).date()
        return {
            "start": (today - dt.timedelta(days=days - 1)).isoformat(),
            "end": today.isoformat(),
            "tz": "UTC",
        }

    pages = (
        ("Usage", "/analytics/"),
        ("Documents", "/analytics/documents/"),
        ("Answer quality", "/analytics/quality/"),
    )
    rows = []
    with override_settings(DEBUG=False):
        for label, path in pages:
            for slug, name in (("empty", "empty workspace (baseline)"), ("general", "a year")):
                figures = []
                for days in PERIODS:

                    def get(days=days, path=path, slug=slug):
                        response = client.get(path, {"workspace": slug, **period(days)})
                        assert response.status_code == 200, response.status_code

                    median, _, _ = _median_ms(get, repeat)
                    figures.append(median)
                rows.append((f"{label}, {name}", figures))
                print(rows[-1][0], " ".join(f"{f:,.0f}" for f in figures), flush=True)
        figures = []
        with schema_context(organization.schema_name), organization_scope():
            for days in PERIODS:
                parsed = period_parse(period(days))

                def daily(parsed=parsed):
                    analytics_daily(workspaces=[workspace], period=parsed)

                figures.append(_median_ms(daily, repeat)[0])
        connection.set_schema_to_public()
        rows.append(("analytics_daily alone (a year)", figures))
        print(rows[-1][0], " ".join(f"{f:,.0f}" for f in figures), flush=True)

    print()
    print("| page | " + " | ".join(f"{d} days" for d in PERIODS) + " |")
    print("|---|" + "--:|" * len(PERIODS))
    for name, figures in rows:
        print(f"| {name} | " + " | ".join(f"{f:,.0f} ms" for f in figures) + " |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--days-back", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per figure")
    parser.add_argument("--reuse", action="store_true", help="time the seeded organization")
    args = parser.parse_args()
    django_setup(SLUG)
    if not args.reuse:
        seed(people=args.people, days_back=args.days_back)
    measure(repeat=args.repeat)


if __name__ == "__main__":
    main()
