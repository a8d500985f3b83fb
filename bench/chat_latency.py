"""How fast the chat bot acknowledges and answers, against the same question through the
REST API in the same run.

Seeds one organization (its own embedded Postgres and Redis under ``OPAA_DATA_DIR``,
default ``.opaa/bench-chat``) with ``sample_corpus/`` (indexed in this process), connects
it to a Slack fake on loopback (``tests/fakes/chat_platforms.py``: the Web API as Slack
documents it), maps a channel to the default workspace, and starts a real Celery worker
(solo pool, like the tests'). Then, for each question of ``sample_corpus/questions.json``
(the answer cache emptied before each, so every answer is computed):

- **Slack mention** (``app_mention`` through the Events API, signed): *ack* = the webhook's
  response time (Slack wants it within 3 s); *placeholder* = until the "Thinking…"
  message is posted; *answer* = until the placeholder is replaced by the answer;
- **Slack /opaa ask** (slash command): *ack* (its body is the "Thinking…" reply) and
  *answer* = until the answer reaches the ``response_url``;
- **baseline**: ``POST /api/v1/ask`` for the same question, signed in as the same person
  (the answer computed in this process instead of the worker).

Requests go through Django's full middleware stack in this process (test client, no
network hop for the webhook); the worker reaches the fake over loopback.

    nice -n 10 .venv/bin/python bench/chat_latency.py [--repeat 1] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from common import ROOT, SampleOrganization, django_setup, sample_organization  # bench/

SLUG = "bench-chat"
SECRET = "bench-signing-secret-00000000000"  # noqa: S105 - the fake's


def _percentiles(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"{statistics.median(values) * 1000:7.0f} {p95 * 1000:7.0f} {max(values) * 1000:7.0f}"


def _worker(data_dir) -> subprocess.Popen:
    log = (data_dir / "bench-worker.log").open("w")
    env = {
        **os.environ,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DATABASE_APPLICATION_NAME": "bench-chat-worker",
    }
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "opaa", "worker", "-Q", "default,ingest,fetch"),
            *("--pool", "solo", "-l", "info", "--without-mingle", "--without-gossip"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while "ready." not in (data_dir / "bench-worker.log").read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the worker did not start; see bench-worker.log")
        time.sleep(0.2)
    return process


def _reused():
    """The organization seeded by an earlier run, as ``sample_organization`` returns it."""
    from django_tenants.utils import schema_context

    from accounts.models import User
    from ingestion.models import Chunk, Document
    from tenants.models import Organization
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    organization = Organization.objects.get(slug=SLUG)
    with schema_context(organization.schema_name), organization_scope():
        return SampleOrganization(
            organization=organization,
            owner=User.objects.get(is_owner=True),
            schema=organization.schema_name,
            workspace_id=Workspace.objects.get(is_default=True).pk,
            documents=Document.objects.count(),
            chunks=Chunk.objects.count(),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds over the 20 questions")
    parser.add_argument("--reuse", action="store_true", help="the organization of the last run")
    args = parser.parse_args()

    data_dir = django_setup(SLUG, eager=True)
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import schema_context

    from accounts.audit import AuditContext
    from chat import services
    from chat.models import ChannelMapping, ChatAnswer, ChatEventSeen
    from opaa.celery import app
    from tests.chat.conftest import SlackSender, slack_user
    from tests.fakes.chat_platforms import FakeSlackServer
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    started = time.perf_counter()
    org = _reused() if args.reuse else sample_organization(SLUG)
    domain = org.organization.domains.first().domain
    print(
        f"seeded {org.documents} documents, {org.chunks} chunks"
        f" in {time.perf_counter() - started:.0f} s"
    )
    questions = [
        q["question"] for q in json.loads((ROOT / "sample_corpus" / "questions.json").read_text())
    ]

    app.conf.task_always_eager = False  # from here on, the worker answers
    worker = _worker(data_dir)
    try:
        with FakeSlackServer(team_id="T0BENCH") as slack:
            slack.users["UOWNER"] = slack_user("UOWNER", org.owner.email)
            with schema_context(org.schema), organization_scope():
                platform = services.platform_save(
                    kind="slack",
                    enabled=True,
                    team_id="T0BENCH",
                    api_url=slack.api_url,
                    commands=["ask", "search", "sources"],
                    new_secrets={"signing_secret": SECRET, "bot_token": slack.token},
                    portal_url=f"http://{domain}/",
                    audit=AuditContext(),
                )
                # --reuse: the event ids of the last run would be taken for retries.
                ChatEventSeen.objects.filter(platform=platform).delete()
                ChatAnswer.objects.filter(platform=platform).delete()
                ChannelMapping.objects.filter(channel_id="CBENCH").delete()
                services.mapping_add(
                    platform=platform,
                    channel_id="CBENCH",
                    name="#bench",
                    workspace=Workspace.objects.get(pk=org.workspace_id),
                    audit=AuditContext(),
                )
            connection.set_schema_to_public()
            sender = SlackSender(domain, secret=SECRET, team="T0BENCH")
            rest = Client(HTTP_HOST=domain)
            with schema_context(org.schema):
                rest.force_login(org.owner)

            def mention(question: str, ts: str) -> tuple[float, float, float]:
                began = time.perf_counter()
                response = sender.mention(question, user="UOWNER", channel="CBENCH", ts=ts)
                ack = time.perf_counter() - began
                assert response.status_code == 200, response.status_code

                def placeholder(s):
                    return [m for m in s.posted("CBENCH") if m.get("thread_ts") == ts]

                slack.wait_for(placeholder, timeout=120)
                shown = time.perf_counter() - began
                slack.wait_for(
                    lambda s: [m for m in placeholder(s) if m.get("edited")], timeout=120
                )
                return ack, shown, time.perf_counter() - began

            def command(question: str, n: int) -> tuple[float, float]:
                before = len(slack.responses)
                began = time.perf_counter()
                response = sender.command(
                    f"ask {question}",
                    user="UOWNER",
                    channel="CBENCH",
                    response_url=slack.response_url(str(n)),
                )
                ack = time.perf_counter() - began
                assert response.status_code == 200, response.status_code
                slack.wait_for(lambda s: len(s.responses) > before, timeout=120)
                return ack, time.perf_counter() - began

            def baseline(question: str) -> float:
                began = time.perf_counter()
                response = rest.post(
                    "/api/v1/ask", {"question": question}, content_type="application/json"
                )
                assert response.status_code == 200, response.content[:300]
                return time.perf_counter() - began

            # Warm-up: the embedding model loads in the worker and in this process.
            mention(questions[0], "1000000000.000001")
            baseline(questions[0])
            results: dict[str, list[float]] = {
                k: [] for k in ("ack", "shown", "answer", "cack", "canswer", "rest")
            }
            n = 0
            for _ in range(args.repeat):
                for question in questions:
                    n += 1
                    cache.delete_pattern("answer:*")
                    ack, shown, answered = mention(question, f"17000{n:05d}.000100")
                    results["ack"].append(ack)
                    results["shown"].append(shown)
                    results["answer"].append(answered)
                    cache.delete_pattern("answer:*")
                    ack, answered = command(question, n)
                    results["cack"].append(ack)
                    results["canswer"].append(answered)
                    cache.delete_pattern("answer:*")
                    results["rest"].append(baseline(question))
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    print(f"\n{n} questions; milliseconds:              p50     p95     max")
    print(f"Slack mention: acknowledgement         {_percentiles(results['ack'])}")
    print(f"Slack mention: 'Thinking…' posted      {_percentiles(results['shown'])}")
    print(f"Slack mention: answer posted           {_percentiles(results['answer'])}")
    print(f"Slack /opaa ask: acknowledgement       {_percentiles(results['cack'])}")
    print(f"Slack /opaa ask: answer at response_url{_percentiles(results['canswer'])}")
    print(f"baseline POST /api/v1/ask              {_percentiles(results['rest'])}")


if __name__ == "__main__":
    main()
