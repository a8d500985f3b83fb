"""MCP latency: the handshake, tools/list, search and ask through ``/mcp``, against the
same calls of the REST API in the same run.

Runs against its own embedded Postgres and Redis (``OPAA_DATA_DIR``, default
``.opaa/bench-mcp``): creates an organization, indexes ``sample_corpus/`` into it (in
this process), makes a personal API token (scopes ``ask``, ``search:read``,
``documents:read``), and starts the Docker image's web server (``gunicorn -c
python:opaa.gunicorn opaa.wsgi:application``, production settings) with the answer cache
off (``ANSWER_CACHE_TTL_S=0``: every ask is retrieved and answered) and the token's rate
limit lifted. No LLM is configured: ``ask`` gives the extractive answer, so the figures
are OPAA's own work, not an LLM's wait (the same for both protocols).

Then, over loopback, with one keep-alive HTTP client (``httpx2``, the SDK's) for both:

- **initialize**: connecting the official SDK's ``Client`` (the classic handshake:
  ``initialize`` and the ``initialized`` notification, two HTTP requests), ``--repeat``
  times; baseline: ``GET /api/v1/documents?limit=1`` (the cheapest authenticated REST
  read);
- **tools/list**: ``--repeat`` times in one session; the same baseline;
- **search**: ``call_tool("search")`` against ``GET /api/v1/search``, interleaved, the
  sample corpus' questions in turn, ``--repeat`` each;
- **ask**: ``call_tool("ask")`` against ``POST /api/v1/ask``, interleaved, every question
  ``--ask-repeat`` times.

Prints Markdown: the machine and its load, then per operation the median, p95 and max of
each side and the median difference. gunicorn is stopped and the organization deleted.

    nice -n 10 .venv/bin/python bench/mcp_latency.py --repeat 20 --ask-repeat 2
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from contextlib import redirect_stdout
from pathlib import Path

from common import ROOT, organization_fresh, sample_corpus_upload  # bench/, beside this file

SLUG = "bench-mcp"
GRACEFUL_STOP_S = 35


def progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?"
    )
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    ram_kb = int(next(ln.split()[1] for ln in meminfo if ln.startswith("MemTotal:")))
    return f"nproc {len(os.sched_getaffinity(0))}, {model}, {ram_kb / 1024**2:.1f} GiB RAM"


def load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def stats(values: list[float]) -> tuple[float, float, float]:
    """Median, p95 and max, in milliseconds."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000, ordered[-1] * 1000


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


def _organization(questions: list[str]):
    """The organization with the sample corpus, and a token: (schema, host, secret)."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from accounts.audit import AuditContext
    from accounts.services import token_create
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    with redirect_stdout(io.StringIO()):  # the organization's migrations, one line each
        created = organization_fresh(SLUG)
    progress("organization created; indexing the sample corpus")
    schema = created.organization.schema_name
    host = created.organization.domains.first().domain
    with schema_context(schema), organization_scope():
        workspace = Workspace.objects.get(is_default=True)
        sample_corpus_upload(workspace=workspace, user=created.owner)
        secret = token_create(
            creator=created.owner,
            kind="pat",
            name="mcp latency bench",
            scopes=["ask", "search:read", "documents:read"],
            workspace_slugs=[workspace.slug],
            expires_in_days=1,
            audit=AuditContext(),
        ).secret
    connection.set_schema_to_public()
    return created.organization, host, secret


def _gunicorn(port: int, data_dir: Path, threads: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in {"CELERY_TASK_ALWAYS_EAGER"}}
    env.pop("LOG_LEVEL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="opaa.settings.production",
        OPAA_EMBEDDED_SERVICES="false",
        PYTHONPATH=str(ROOT),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ANSWER_CACHE_TTL_S="0",
        TOKEN_RATE_LIMIT_PER_MINUTE="1000000000",  # noqa: S106 - a rate, not a secret
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS=str(threads),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_TIMEOUT="300",
    )
    log = (data_dir / "gunicorn.log").open("wb")
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            *("-c", "python:opaa.gunicorn", "opaa.wsgi:application"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_ready(gunicorn: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 300  # the worker loads the embedding model first
    while time.monotonic() < deadline:
        if gunicorn.poll() is not None:
            raise RuntimeError("gunicorn exited; see its log in OPAA_DATA_DIR")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer /healthz in time")


async def measure(port: int, host: str, secret: str, questions: list[str], args) -> dict:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    base = f"http://127.0.0.1:{port}"
    headers = {"Host": host, "Authorization": f"Bearer {secret}"}
    results: dict[str, dict[str, list[float]]] = {}

    def add(operation: str, side: str, seconds: float) -> None:
        results.setdefault(operation, {"mcp": [], "rest": []})[side].append(seconds)

    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(300)) as http:

        def connect() -> Client:
            return Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy")

        async def rest_read():
            response = await http.get(f"{base}/api/v1/documents", params={"limit": 1})
            response.raise_for_status()

        # Warm up: the worker's first search loads nothing more, but connections and
        # Django's first-request work should not count.
        async with connect() as client:
            await client.call_tool("search", {"query": questions[0]})
        await rest_read()

        progress("initialize")
        for _ in range(args.repeat):
            started = time.perf_counter()
            async with connect():
                add("initialize", "mcp", time.perf_counter() - started)
            add("initialize", "rest", await timed(rest_read))

        progress("tools/list, search")
        async with connect() as client:
            for _ in range(args.repeat):
                add("tools/list", "mcp", await timed(client.list_tools))
                add("tools/list", "rest", await timed(rest_read))
            for n in range(args.repeat):
                query = questions[n % len(questions)]

                async def mcp_search(query=query):
                    result = await client.call_tool("search", {"query": query, "k": 10})
                    assert not result.is_error, result.content

                async def rest_search(query=query):
                    response = await http.get(f"{base}/api/v1/search", params={"q": query, "k": 10})
                    response.raise_for_status()

                add("search", "mcp", await timed(mcp_search))
                add("search", "rest", await timed(rest_search))

            progress("ask")
            for _ in range(args.ask_repeat):
                for question in questions:

                    async def mcp_ask(question=question):
                        result = await client.call_tool("ask", {"question": question})
                        assert not result.is_error, result.content

                    async def rest_ask(question=question):
                        response = await http.post(
                            f"{base}/api/v1/ask", json={"question": question}
                        )
                        response.raise_for_status()

                    add("ask", "mcp", await timed(mcp_ask))
                    add("ask", "rest", await timed(rest_ask))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--ask-repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="GUNICORN_THREADS")
    args = parser.parse_args()

    data_dir = Path(os.environ.setdefault("OPAA_DATA_DIR", str(ROOT / ".opaa" / SLUG)))
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("SECRET_KEY", "bench-mcp-latency-not-secret")
    from opaa.embedded import postgres_start, redis_start

    app_url, owner_url = postgres_start(data_dir / "pg", database="opaa")
    os.environ.update(DATABASE_URL=app_url, DATABASE_OWNER_URL=owner_url)
    os.environ["REDIS_URL"] = redis_start(data_dir / "redis")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"  # index in this process
    import anyio
    import django

    django.setup()
    from tenants.services import organization_delete

    questions = [
        q["question"] for q in json.loads((ROOT / "sample_corpus/questions.json").read_text())
    ]
    organization, host, secret = _organization(questions)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gunicorn = None
    load_before = load()
    try:
        progress("starting gunicorn")
        gunicorn = _gunicorn(port, data_dir, args.threads)
        _wait_ready(gunicorn, port)
        results = anyio.run(measure, port, f"{host}:{port}", secret, questions, args)
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            gunicorn.terminate()
            try:
                gunicorn.wait(timeout=GRACEFUL_STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
                gunicorn.wait()
        progress("gunicorn stopped; deleting the organization")
        organization_delete(organization=organization)

    print(f"- Machine: {machine()}; load average before/after: {load_before} / {load()}")
    print(
        f"- Server: gunicorn (1 worker, {args.threads} threads), production settings, "
        "loopback, one keep-alive client for both protocols"
    )
    print(f"- Data: sample_corpus/ ({len(questions)} questions)")
    print()
    print("| operation | n | MCP p50 / p95 / max ms | REST p50 / p95 / max ms | MCP - REST p50 |")
    print("|---|---|---|---|---|")
    for operation, sides in results.items():
        mcp, rest = stats(sides["mcp"]), stats(sides["rest"])
        print(
            f"| {operation} | {len(sides['mcp'])} | {mcp[0]:.0f} / {mcp[1]:.0f} / {mcp[2]:.0f}"
            f" | {rest[0]:.0f} / {rest[1]:.0f} / {rest[2]:.0f} | {mcp[0] - rest[0]:+.0f} |"
        )


if __name__ == "__main__":
    main()
