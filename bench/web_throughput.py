"""Web throughput under concurrent questions: the image's gunicorn, a fake LLM on loopback.

Runs against its own embedded Postgres and Redis (``OPAA_DATA_DIR``, default
``.opaa/bench-web``): creates an organization, indexes ``sample_corpus/`` into it
(eagerly, in this process), notes the Postgres size of its schema before and after, and
creates a personal API token (scope ``ask``) for its owner. Then it starts

- a fake chat endpoint speaking OpenAI's ``/v1/chat/completions`` on loopback, in a
  child process, that answers every request after ``--llm-delay`` seconds (the LLM
  cannot run here; the delay stands for its wait, not its cost);
- the web server of the Docker image, ``gunicorn -c python:opaa.gunicorn
  opaa.wsgi:application``, with production settings, ``WEB_CONCURRENCY=--workers``,
  the same database, Redis and secret key as this process, the answer cache off
  (``ANSWER_CACHE_TTL_S=0``: every question is retrieved and answered) and the
  per-token rate limit lifted (one token asks everything here).

After a warm-up (every worker has loaded the embedding model), for each concurrency
level, that many client threads send requests back to back for a fixed time, each on
a new connection: ``GET /healthz`` (the baseline: no database, no model), then
``POST /api/v1/ask`` with the sample corpus' questions in turn. An ask counts as an
error unless it answers 200 with an LLM-written answer. Printed as Markdown: the
machine, the gunicorn settings, one row per endpoint and level (requests, errors,
throughput, latency percentiles, CPU per request of gunicorn, of Postgres + Redis and
of this process + the fake LLM, how busy the machine's CPUs were and how many cores'
worth went to other processes meanwhile, e.g. someone else's tests), the load average,
the RSS of the gunicorn processes at the end, and the Postgres size per document.
gunicorn and the fake LLM are stopped and the organization deleted, even on error.

    .venv/bin/python bench/web_throughput.py --workers 2 --concurrency 1,4,8,16 \
        --seconds 20 --healthz-seconds 5 --llm-delay 0.5
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from common import ROOT, organization_fresh, sample_corpus_upload  # bench/, beside this file

SLUG = "bench-web"
REQUEST_TIMEOUT_S = 60.0
# Django with the embedding model loaded is about 550 MB (docs/deployment.md); without, ~100.
MODEL_LOADED_RSS_MB = 300
TICKS = os.sysconf("SC_CLK_TCK")
# opaa.gunicorn's graceful_timeout (30 s) and a little more.
GRACEFUL_STOP_S = 35


# --- the fake LLM ---------------------------------------------------------------------


class _FakeChat(BaseHTTPRequestHandler):
    """Answers any POST with a chat.completion citing passage [1], after ``delay``."""

    protocol_version = "HTTP/1.1"
    delay = 0.5

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        time.sleep(self.delay)
        content = "The first passage answers this question [1]."
        payload = json.dumps(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "bench"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 800, "completion_tokens": 10, "total_tokens": 810},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def fake_llm_serve(delay: float, ports: multiprocessing.Queue) -> None:
    """Child process: serve the fake chat endpoint on a free loopback port until killed."""
    handler = type("Handler", (_FakeChat,), {"delay": delay})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    ports.put(server.server_address[1])
    server.serve_forever()


# --- processes, CPU and memory from /proc ---------------------------------------------


def _stat(pid: int) -> list[str]:
    # Fields after the command name, which may itself hold spaces and parentheses.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError):
                pass  # the process ended meanwhile
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid``, of its children that ended, and of those still running."""
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    total = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    for child in children(pid):
        with contextlib.suppress(OSError):  # the child ended meanwhile
            total += sum(int(v) for v in _stat(child)[11:13])
    return total / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?"
    )
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    ram_kb = int(next(ln.split()[1] for ln in meminfo if ln.startswith("MemTotal:")))
    return f"nproc {len(os.sched_getaffinity(0))}, {model}, {ram_kb / 1024**2:.1f} GiB RAM"


def progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


# --- the load -------------------------------------------------------------------------


def request(port: int, method: str, path: str, headers: dict, body: bytes | None):
    """One request on its own connection (as a proxy without upstream keep-alive sends it)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        connection.request(method, path, body=body, headers={**headers, "Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass
class Phase:
    endpoint: str
    clients: int
    latencies: list[float]
    errors: list[str]
    seconds: float
    cpu: dict[str, float]  # CPU seconds spent during the phase, by whom
    split: str  # how the gunicorn workers' CPU time divided between them, in %
    busy: float  # share of the machine's CPU time that was busy
    others: float  # cores' worth of CPU used by processes not measured here

    def row(self) -> str:
        done = len(self.latencies)
        ms = sorted(v * 1000 for v in self.latencies)
        p50, p95, p99 = (
            (ms[min(done - 1, int(q * done))] for q in (0.50, 0.95, 0.99)) if done else (0, 0, 0)
        )
        per = {k: 1000 * v / max(done + len(self.errors), 1) for k, v in self.cpu.items()}
        return (
            f"| {self.endpoint} | {self.clients} | {done + len(self.errors)} | "
            f"{len(self.errors)} | {done / self.seconds:.1f} | {p50:.0f} | {p95:.0f} | "
            f"{p99:.0f} | {per['web']:.1f} | {per['db']:.1f} | {per['bench']:.1f} | "
            f"{self.split} | {self.busy:.0%} | {self.others:.1f} |"
        )


def run_phase(
    endpoint: str, clients: int, seconds: float, send: Callable[[int], str | None], usage
) -> Phase:
    """``clients`` threads call ``send(n)`` back to back until ``seconds`` have passed."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = 0.0

    def client(index: int) -> None:
        n = index
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                error = send(n)
            except (OSError, http.client.HTTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - started
            with lock:
                if error:
                    errors.append(error)
                else:
                    latencies.append(elapsed)
            n += clients

    before, (busy_before, total_before) = usage(), cpu_ticks()
    started = time.perf_counter()
    deadline = started + seconds
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    after, (busy_after, total_after) = usage(), cpu_ticks()
    spent = {k: after[k] - before[k] for k in ("web", "db", "bench")}
    workers = [after[k] - before[k] for k in after if k.startswith("worker ") and k in before]
    busy_seconds = (busy_after - busy_before) / TICKS
    return Phase(
        endpoint=endpoint,
        clients=clients,
        latencies=latencies,
        errors=errors,
        seconds=elapsed,
        cpu=spent,
        split="/".join(f"{100 * w / max(sum(workers), 1e-9):.0f}" for w in workers),
        busy=(busy_after - busy_before) / max(total_after - total_before, 1),
        others=max(0.0, busy_seconds - sum(spent.values())) / elapsed,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY")
    parser.add_argument("--threads", type=int, help="GUNICORN_THREADS (default: opaa.gunicorn)")
    parser.add_argument("--concurrency", default="1,4,8,16", help="client counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="per level, /api/v1/ask")
    parser.add_argument("--healthz-seconds", type=float, default=5.0, help="per level, /healthz")
    parser.add_argument("--llm-delay", type=float, default=0.5, help="fake LLM reply delay (s)")
    args = parser.parse_args()
    levels = [int(v) for v in args.concurrency.split(",")]
    load_at_start = load()

    # Forked before Django, Postgres or any thread exists in this process.
    ports: multiprocessing.Queue = multiprocessing.Queue()
    llm = multiprocessing.Process(target=fake_llm_serve, args=(args.llm_delay, ports), daemon=True)
    llm.start()
    llm_port = ports.get(timeout=10)

    data_dir = Path(os.environ.setdefault("OPAA_DATA_DIR", str(ROOT / ".opaa" / "bench-web")))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("SECRET_KEY", "bench-web-throughput-not-secret")
    from opaa.embedded import postgres_start, redis_start

    app_url, owner_url = postgres_start(data_dir / "pg", database="opaa")
    os.environ.update(DATABASE_URL=app_url, DATABASE_OWNER_URL=owner_url)
    os.environ["REDIS_URL"] = redis_start(data_dir / "redis")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"  # index in this process
    import django

    django.setup()
    from django.db import connection
    from django_tenants.utils import schema_context

    from accounts.audit import AuditContext
    from accounts.services import token_create
    from ingestion.models import Chunk, Document
    from tenants.models import Organization
    from tenants.services import organization_delete
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    def schema_bytes(schema: str) -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relkind IN ('r', 'm')",
                [schema],
            )
            return dict(cursor.fetchall())

    with redirect_stdout(io.StringIO()):  # the organization's migrations, one line each
        created = organization_fresh(SLUG)
    progress("organization created; indexing the sample corpus")
    schema, host = created.organization.schema_name, created.organization.domains.first().domain
    gunicorn = None
    try:
        connection.set_schema_to_public()
        empty = schema_bytes(schema)
        with schema_context(schema), organization_scope():
            workspace = Workspace.objects.get(is_default=True)
            sample_corpus_upload(workspace=workspace, user=created.owner)
            documents, chunks = Document.objects.count(), Chunk.objects.count()
            secret = token_create(
                creator=created.owner,
                kind="pat",
                name="web throughput bench",
                scopes=["ask"],
                workspace_slugs=[workspace.slug],
                expires_in_days=1,
                audit=AuditContext(),
            ).secret
        connection.set_schema_to_public()
        indexed = schema_bytes(schema)
        progress(f"indexed {documents} documents; starting gunicorn")
        questions = [
            q["question"] for q in json.loads((ROOT / "sample_corpus/questions.json").read_text())
        ]

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        metrics_dir = data_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        # The image's environment (docker/Dockerfile) over this process' own.
        os.environ.update(
            WEB_CONCURRENCY=str(args.workers),
            GUNICORN_BIND=f"127.0.0.1:{port}",
            **({"GUNICORN_THREADS": str(args.threads)} if args.threads else {}),
        )
        env = {k: v for k, v in os.environ.items() if k not in {"CELERY_TASK_ALWAYS_EAGER"}}
        env.pop("LOG_LEVEL", None)  # production logs at INFO: a JSON line per request
        env.update(
            DJANGO_SETTINGS_MODULE="opaa.settings.production",
            OPAA_EMBEDDED_SERVICES="false",
            PYTHONPATH=str(ROOT),
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            LLM_API_BASE=f"http://127.0.0.1:{llm_port}/v1",
            LLM_MODEL="bench-llm",
            ANSWER_CACHE_TTL_S="0",
            TOKEN_RATE_LIMIT_PER_MINUTE="1000000000",  # noqa: S106 - a rate, not a secret
        )
        from opaa import gunicorn as conf

        worker_class = "gthread" if conf.threads > 1 else "sync"
        log_path = data_dir / "gunicorn.log"
        with log_path.open("wb") as log:
            gunicorn = subprocess.Popen(
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

        ask_headers = {
            "Host": host,
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
        }

        def healthz(n: int) -> str | None:
            status, _ = request(port, "GET", "/healthz", {"Host": host}, None)
            return None if status == 200 else f"HTTP {status}"

        def ask(n: int) -> str | None:
            body = json.dumps({"question": questions[n % len(questions)]}).encode()
            status, content = request(port, "POST", "/api/v1/ask", ask_headers, body)
            if status != 200:
                return f"HTTP {status}: {content[:200]!r}"
            mode = json.loads(content).get("mode")
            return None if mode == "llm" else f"answer mode {mode!r}, not 'llm'"

        deadline = time.monotonic() + 120
        while True:
            if gunicorn.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer /healthz in 120 s; see {log_path}")
            try:
                if healthz(0) is None and len(children(gunicorn.pid)) == args.workers:
                    break
            except OSError:
                pass
            time.sleep(0.5)

        postmaster = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
        redis = int((data_dir / "redis" / "redis.pid").read_text().strip())

        def usage() -> dict[str, float]:
            own = os.times()
            workers = {f"worker {pid}": cpu_seconds(pid) for pid in children(gunicorn.pid)}
            return {
                "web": cpu_seconds(gunicorn.pid),
                "db": cpu_seconds(postmaster) + cpu_seconds(redis),
                "bench": own.user + own.system + cpu_seconds(llm.pid),
                **workers,
            }

        progress(f"gunicorn answers on port {port}; warming up")
        # Until every worker has loaded the embedding model (on its first question).
        for _ in range(10):
            warm = run_phase("warm-up", args.workers * conf.threads, 3.0, ask, usage)
            if not warm.latencies:
                raise RuntimeError(f"warm-up failed: {warm.errors[0]}")
            workers_rss = [round(rss_mb(pid)) for pid in children(gunicorn.pid)]
            progress(
                f"warm-up: {len(warm.latencies)} asks answered, {len(warm.errors)} failed,"
                f" slowest {max(warm.latencies):.1f} s; workers' RSS {workers_rss} MB"
            )
            if all(mb > MODEL_LOADED_RSS_MB for mb in workers_rss):
                break

        phases: list[Phase] = []
        for clients in levels:
            for name, seconds, send in (
                ("/healthz", args.healthz_seconds, healthz),
                ("/api/v1/ask", args.seconds, ask),
            ):
                phase = run_phase(name, clients, seconds, send, usage)
                phases.append(phase)
                progress(phase.row())
        rss = {"master": rss_mb(gunicorn.pid)} | {
            f"worker {pid}": rss_mb(pid) for pid in sorted(children(gunicorn.pid))
        }
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            gunicorn.terminate()  # graceful: workers finish their requests
            try:
                gunicorn.wait(timeout=GRACEFUL_STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
                gunicorn.wait()
        progress("gunicorn stopped; deleting the organization")
        llm.terminate()
        llm.join(timeout=5)
        connection.set_schema_to_public()
        organization_delete(organization=Organization.objects.get(slug=SLUG))

    grown = sum(indexed.values()) - sum(empty.values())
    largest = sorted(indexed, key=lambda t: indexed[t] - empty.get(t, 0), reverse=True)[:5]
    print(f"machine: {machine()}; load average {load_at_start} at the start, {load()} at the end")
    print(
        f"gunicorn: -c python:opaa.gunicorn, workers {conf.workers}, threads {conf.threads}"
        f" ({worker_class}), timeout {conf.timeout} s; production settings, answer cache off;"
        f" fake LLM delay {args.llm_delay} s"
    )
    print(
        f"data: {documents} documents, {chunks} chunks, {len(questions)} questions in turn;"
        f" {args.seconds:g} s per level for /api/v1/ask, {args.healthz_seconds:g} s for /healthz"
    )
    print()
    print(
        "| endpoint | concurrency | requests | errors | req/s | p50 ms | p95 ms | p99 ms"
        " | gunicorn CPU ms/req | Postgres+Redis CPU ms/req | bench+fake LLM CPU ms/req"
        " | workers' CPU split % | machine CPU busy | other processes, cores |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for endpoint in ("/healthz", "/api/v1/ask"):
        for phase in phases:
            if phase.endpoint == endpoint:
                print(phase.row())
    errors = [e for phase in phases for e in phase.errors]
    if errors:
        print(f"\nfirst error of {len(errors)}: {errors[0]}")
    print("\nRSS at the end: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in rss.items()))
    print(
        f"Postgres, organization schema: {sum(empty.values()) / 1e6:.1f} MB empty,"
        f" {sum(indexed.values()) / 1e6:.1f} MB indexed: {grown / documents / 1e3:.0f} kB per"
        f" document, {grown / chunks / 1e3:.1f} kB per chunk; grew most: "
        + ", ".join(f"{t} {(indexed[t] - empty.get(t, 0)) / 1e3:.0f} kB" for t in largest)
    )


if __name__ == "__main__":
    main()
