"""Postgres connections held by the web servers under a soak of mixed requests (issue 11).

Runs against its own embedded Postgres and Redis (``OPAA_DATA_DIR``, default
``.opaa/bench-conn``): creates an organization holding ``sample_corpus/`` (indexed
eagerly, in this process) and a personal API token for its owner, starts the fake LLM
of bench/web_throughput.py and a Celery worker (production settings, ``--concurrency
--worker-concurrency``, indexing the uploads). Then, one after the other, each web
server takes the same load for its time:

- ``dev before``: ``make run``'s web server (opaa.cli.processes' ``runserver``) with the
  development settings as they were before the fix (``opaa.settings.base`` with
  ``DEBUG``: persistent connections, ``CONN_MAX_AGE=60``);
- ``dev after``: the same server with today's ``opaa.settings.dev`` (``CONN_MAX_AGE=0``);
- ``gunicorn``: the image's server, ``gunicorn -c python:opaa.gunicorn`` with production
  settings (``CONN_MAX_AGE=60``), ``--workers`` x ``--threads``.

``--clients`` threads send requests back to back, each on a new HTTP connection, in a
fixed rotation: ``/healthz``, ``/readyz?checks=database``, the sign-in page, and with the
token the document list, a search, a question (the fake LLM answers after
``--llm-delay``), and every 24th request an upload of a small text file. A request
counts as an error unless it gets the status it should (200, 201 for an upload; an ask
must be answered by the LLM). Meanwhile the connections of each process are counted in
pg_stat_activity every ``--sample-s`` seconds by their application name. Printed as
Markdown: per server, requests, errors, requests/s, connections held (max while loaded,
and after the load stopped and ``--settle-s`` passed), the worker's connections, and
how many seconds into the soak the first error came; the commonest error per request.
Every process started is stopped and the organization deleted, even on error. The load
is bounded: at most ``MAX_LOAD_S`` in all.

    .venv/bin/python bench/connections_soak.py --seconds 300 --dev-seconds 90 --clients 4
"""

from __future__ import annotations

import argparse
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
import uuid
from collections import Counter
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, organization_fresh, sample_corpus_upload  # bench/, beside this file
from web_throughput import (
    REQUEST_TIMEOUT_S,
    children,
    fake_llm_serve,
    load,
    machine,
    progress,
)

SLUG = "bench-conn"
# A bound on the whole soak's load, whatever the options say.
MAX_LOAD_S = 600
START_TIMEOUT_S = 180
STOP_TIMEOUT_S = 35
UPLOAD_EVERY = 24


# --- the load -------------------------------------------------------------------------


def request(port: int, method: str, path: str, headers: dict, body: bytes | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        connection.request(method, path, body=body, headers={**headers, "Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def multipart(name: str, data: bytes) -> tuple[str, bytes]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: text/plain\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}", body


class Load:
    """The rotation of requests; ``send(n)`` sends the n-th and returns its error, if any."""

    def __init__(self, port: int, host: str, secret: str, questions: list[str]) -> None:
        self.port, self.host, self.questions = port, host, questions
        self.token = {"Host": host, "Authorization": f"Bearer {secret}"}
        self.rotation = [
            ("GET /healthz", self.healthz),
            ("GET /readyz", self.readyz),
            ("GET sign-in page", self.sign_in),
            ("GET /api/v1/documents", self.documents),
            ("GET /api/v1/search", self.search),
            ("POST /api/v1/ask", self.ask),
        ]

    def send(self, n: int) -> tuple[str, str | None]:
        if n % UPLOAD_EVERY == UPLOAD_EVERY - 1:
            name, call = "POST /api/v1/documents", self.upload
        else:
            name, call = self.rotation[n % len(self.rotation)]
        try:
            return name, call(n)
        except (OSError, http.client.HTTPException) as exc:
            return name, f"{type(exc).__name__}: {exc}"

    def _expect(self, status: int, content: bytes, wanted: int) -> str | None:
        return None if status == wanted else f"HTTP {status}: {content[:120]!r}"

    def healthz(self, n: int) -> str | None:
        return self._expect(*request(self.port, "GET", "/healthz", {"Host": "127.0.0.1"}), 200)

    def readyz(self, n: int) -> str | None:
        path = "/readyz?checks=database"
        return self._expect(*request(self.port, "GET", path, {"Host": "127.0.0.1"}), 200)

    def sign_in(self, n: int) -> str | None:
        return self._expect(
            *request(self.port, "GET", "/accounts/login/", {"Host": self.host}), 200
        )

    def documents(self, n: int) -> str | None:
        return self._expect(*request(self.port, "GET", "/api/v1/documents", self.token), 200)

    def search(self, n: int) -> str | None:
        words = self.questions[n % len(self.questions)].split()[:4]
        path = "/api/v1/search?q=" + "+".join(w.strip("?.,") for w in words)
        return self._expect(*request(self.port, "GET", path, self.token), 200)

    def ask(self, n: int) -> str | None:
        body = json.dumps({"question": self.questions[n % len(self.questions)]}).encode()
        headers = {**self.token, "Content-Type": "application/json"}
        status, content = request(self.port, "POST", "/api/v1/ask", headers, body)
        if status != 200:
            return f"HTTP {status}: {content[:120]!r}"
        mode = json.loads(content).get("mode")
        return None if mode == "llm" else f"answer mode {mode!r}, not 'llm'"

    def upload(self, n: int) -> str | None:
        # Unique content: an upload identical to an earlier one answers 200, not 201.
        unique = uuid.uuid4().hex[:8]
        text = f"Soak note {unique}: the expense policy allows taxis after 22:00.\n".encode()
        content_type, body = multipart(f"soak-{n}-{unique}.txt", text)
        headers = {**self.token, "Content-Type": content_type}
        return self._expect(*request(self.port, "POST", "/api/v1/documents", headers, body), 201)


# --- connections ----------------------------------------------------------------------


class Sampler:
    """Counts client connections per application name every ``interval`` seconds."""

    def __init__(self, url: str, interval: float) -> None:
        import psycopg

        self.db = psycopg.connect(url, autocommit=True)
        self.interval = interval
        self.samples: list[tuple[float, dict[str, int]]] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def count(self) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' GROUP BY 1"
        ).fetchall()
        return dict(rows)

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.samples.append((time.monotonic(), self.count()))

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.db.close()

    def most(self, name: str, since: float, until: float) -> int:
        return max((s.get(name, 0) for t, s in self.samples if since <= t <= until), default=0)


# --- the servers ----------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    settings: str
    application_name: str
    seconds: float = 0.0
    started: float = 0.0
    ended: float = 0.0
    requests: Counter = field(default_factory=Counter)
    errors: dict[str, list[str]] = field(default_factory=dict)
    held_max: int = 0
    held_final: int = 0
    worker_max: int = 0
    max_connections: int = 0
    first_error_s: float | None = None

    def row(self) -> str:
        done = sum(self.requests.values())
        failed = sum(len(e) for e in self.errors.values())
        return (
            f"| {self.name} | {self.settings} | {self.seconds:.0f} | {done} | {failed} |"
            f" {done / max(self.seconds, 1e-9):.1f} | {self.held_max} | {self.held_final} |"
            f" {self.worker_max} |"
            f" {'-' if self.first_error_s is None else f'{self.first_error_s:.0f}'} |"
        )


def start(command: list[str], env: dict, log_path: Path, port: int) -> subprocess.Popen:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"{command[1:3]} did not start; see {log_path}")
        try:
            if request(port, "GET", "/healthz", {"Host": "127.0.0.1"})[0] == 200:
                return process
        except OSError:
            time.sleep(0.5)


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def soak(phase: Phase, load_: Load, clients: int, sampler: Sampler, settle_s: float) -> None:
    lock = threading.Lock()
    deadline = time.monotonic() + phase.seconds

    def client(index: int) -> None:
        n = index
        while time.monotonic() < deadline:
            name, error = load_.send(n)
            with lock:
                phase.requests[name] += 1
                if error:
                    phase.errors.setdefault(name, []).append(error)
                    if phase.first_error_s is None:
                        phase.first_error_s = time.monotonic() - phase.started
            n += clients

    phase.started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.ended = time.monotonic()
    phase.seconds = phase.ended - phase.started
    phase.held_max = sampler.most(phase.application_name, phase.started, phase.ended)
    phase.worker_max = sampler.most("soak-worker", phase.started, phase.ended)
    time.sleep(settle_s)
    phase.held_final = sampler.count().get(phase.application_name, 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300.0, help="gunicorn's soak")
    parser.add_argument("--dev-seconds", type=float, default=90.0, help="each dev server's")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY")
    parser.add_argument("--threads", type=int, default=4, help="GUNICORN_THREADS")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker")
    parser.add_argument("--llm-delay", type=float, default=0.2, help="fake LLM delay (s)")
    parser.add_argument("--sample-s", type=float, default=1.0, help="pg_stat_activity period")
    parser.add_argument("--settle-s", type=float, default=5.0, help="idle before 'final'")
    parser.add_argument("--skip-before", action="store_true", help="no pre-fix dev server")
    args = parser.parse_args()
    if args.seconds + args.dev_seconds * (1 if args.skip_before else 2) > MAX_LOAD_S:
        parser.error(f"the soak is bounded to {MAX_LOAD_S} s of load in all")
    load_at_start = load()

    ports: multiprocessing.Queue = multiprocessing.Queue()
    llm = multiprocessing.Process(target=fake_llm_serve, args=(args.llm_delay, ports), daemon=True)
    llm.start()
    llm_port = ports.get(timeout=10)

    data_dir = Path(os.environ.setdefault("OPAA_DATA_DIR", str(ROOT / ".opaa" / "bench-conn")))
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("SECRET_KEY", "bench-connections-soak-not-secret")
    from opaa.embedded import postgres_start, redis_start

    # Importing the embedded services puts this script's folder first on sys.path again,
    # where bench/ingestion.py would shadow the ingestion app.
    sys.path.insert(0, str(ROOT))

    app_url, owner_url = postgres_start(data_dir / "pg", database="opaa")
    os.environ.update(DATABASE_URL=app_url, DATABASE_OWNER_URL=owner_url)
    os.environ["REDIS_URL"] = redis_start(data_dir / "redis")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"  # index the corpus in this process
    import django

    django.setup()
    from django.db import connection
    from django_tenants.utils import schema_context

    from accounts.audit import AuditContext
    from accounts.services import token_create
    from ingestion.models import Document
    from opaa import cli
    from tenants.models import Organization
    from tenants.services import organization_delete
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    with redirect_stdout(io.StringIO()):  # the organization's migrations, one line each
        created = organization_fresh(SLUG)
    progress("organization created; indexing the sample corpus")
    schema, host = created.organization.schema_name, created.organization.domains.first().domain
    processes: list[subprocess.Popen] = []
    sampler = None
    phases: list[Phase] = []
    try:
        with schema_context(schema), organization_scope():
            workspace = Workspace.objects.get(is_default=True)
            sample_corpus_upload(workspace=workspace, user=created.owner)
            documents = Document.objects.count()
            secret = token_create(
                creator=created.owner,
                kind="pat",
                name="connections soak",
                scopes=["ask", "search:read", "documents:read", "documents:write"],
                workspace_slugs=[workspace.slug],
                expires_in_days=1,
                audit=AuditContext(),
            ).secret
        connection.set_schema_to_public()
        connection.close()
        questions = [
            q["question"] for q in json.loads((ROOT / "sample_corpus/questions.json").read_text())
        ]
        base_env = {k: v for k, v in os.environ.items() if k != "CELERY_TASK_ALWAYS_EAGER"}
        base_env.update(
            PYTHONPATH=str(ROOT),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            LLM_API_BASE=f"http://127.0.0.1:{llm_port}/v1",
            LLM_MODEL="bench-llm",
            ANSWER_CACHE_TTL_S="0",
            TOKEN_RATE_LIMIT_PER_MINUTE="1000000000",  # noqa: S106 - a rate, not a secret
        )
        production = {
            **base_env,
            "DJANGO_SETTINGS_MODULE": "opaa.settings.production",
            "OPAA_EMBEDDED_SERVICES": "false",
        }
        sampler = Sampler(app_url, args.sample_s)
        max_connections = int(sampler.db.execute("SHOW max_connections").fetchone()[0])
        sampler.start()

        worker_log = data_dir / "worker.log"
        worker_command = [
            *(sys.executable, "-m", "celery", "-A", "opaa", "worker"),
            *("-Q", "default,ingest,fetch", "--concurrency", str(args.worker_concurrency)),
            *("-l", "warning", "--without-mingle", "--without-gossip"),
        ]
        with worker_log.open("wb") as log:
            processes.append(
                subprocess.Popen(
                    worker_command,
                    cwd=ROOT,
                    env={**production, "DATABASE_APPLICATION_NAME": "soak-worker"},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

        plan = []
        if not args.skip_before:
            plan.append(
                (
                    Phase("dev before", "base + DEBUG, CONN_MAX_AGE=60", "soak-dev-before"),
                    args.dev_seconds,
                )
            )
        plan.append((Phase("dev after", "opaa.settings.dev", "soak-dev-after"), args.dev_seconds))
        plan.append(
            (
                Phase(
                    "gunicorn",
                    f"production, {args.workers} workers x {args.threads} threads",
                    "soak-gunicorn",
                ),
                args.seconds,
            )
        )
        for phase, seconds in plan:
            phase.seconds, phase.max_connections = seconds, max_connections
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            if phase.name == "gunicorn":
                metrics_dir = data_dir / "metrics"
                shutil.rmtree(metrics_dir, ignore_errors=True)
                metrics_dir.mkdir(parents=True)
                command = [
                    str(Path(sys.executable).with_name("gunicorn")),
                    *("-c", "python:opaa.gunicorn", "opaa.wsgi:application"),
                ]
                env = {
                    **production,
                    "WEB_CONCURRENCY": str(args.workers),
                    "GUNICORN_THREADS": str(args.threads),
                    "GUNICORN_BIND": f"127.0.0.1:{port}",
                    "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                }
            else:
                command, env = cli.processes(port=port, data_dir=data_dir)["web"]
                env = {**env, **base_env}
                env.pop("CELERY_TASK_ALWAYS_EAGER", None)  # uploads go to the worker
                if phase.name == "dev before":
                    env.update(DJANGO_SETTINGS_MODULE="opaa.settings.base", DEBUG="true")
                else:
                    env.update(DJANGO_SETTINGS_MODULE="opaa.settings.dev")
            env["DATABASE_APPLICATION_NAME"] = phase.application_name
            log_path = data_dir / f"{phase.application_name}.log"
            server = start(command, env, log_path, port)
            processes.append(server)
            try:
                if phase.name == "gunicorn":
                    while len(children(server.pid)) < args.workers:
                        time.sleep(0.5)
                load_ = Load(port, host, secret, questions)
                # Loads the embedding model in the server(s) before the clock starts.
                for n in range(args.workers * args.threads):
                    load_.ask(n)
                progress(f"{phase.name}: soaking for {seconds:g} s on port {port}")
                soak(phase, load_, args.clients, sampler, args.settle_s)
            finally:
                stop(server)
            phases.append(phase)
            progress(phase.row())
        worker_final = sampler.count().get("soak-worker", 0)
        worker_max = sampler.most("soak-worker", 0, time.monotonic())
    finally:
        for process in reversed(processes):
            stop(process)
        if sampler is not None:
            sampler.stop()
        llm.terminate()
        llm.join(timeout=5)
        progress("servers stopped; deleting the organization")
        connection.set_schema_to_public()
        organization_delete(organization=Organization.objects.get(slug=SLUG))

    print(f"machine: {machine()}; load average {load_at_start} at the start, {load()} at the end")
    print(
        f"data: {documents} sample documents; Postgres max_connections {max_connections};"
        f" {args.clients} clients back to back, a new HTTP connection each; rotation"
        " /healthz, /readyz?checks=database, sign-in page, documents list, search, ask"
        f" (fake LLM {args.llm_delay:g} s), an upload every {UPLOAD_EVERY}th request;"
        f" Celery worker --concurrency {args.worker_concurrency} (production settings)"
    )
    print()
    print(
        "| server | settings | seconds | requests | errors | req/s | connections max"
        " | connections after | worker connections max | first error after s |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for phase in phases:
        print(phase.row())
    print(f"\nCelery worker: at most {worker_max} connections, {worker_final} at the end.")
    for phase in phases:
        for name, errors in phase.errors.items():
            kinds = Counter(e[:60] for e in errors)
            print(
                f"\n{phase.name}, {name}: {len(errors)} errors of {phase.requests[name]};"
                f" most common: {kinds.most_common(1)[0][0]!r}"
            )


if __name__ == "__main__":
    main()
