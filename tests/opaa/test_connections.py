"""Database connections the web servers hold: bounded by their threads, not by requests.

Issue 11: the development server of ``make run`` starts a thread per request, and with
persistent connections each thread left its connection open until garbage collection,
until Postgres refused new ones and every organization got 500s. Both servers run here
for real, as their launchers start them, against the test database; their connections
are counted in pg_stat_activity by the application name each is given.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, transaction

from opaa.settings.env import DATA_DIR
from tests.conftest import free_port

SEQUENTIAL_REQUESTS = 60
CONCURRENT_REQUESTS = 40
CONCURRENT_CLIENTS = 8
# Starting Django (and, for gunicorn, its workers) on a busy machine.
START_TIMEOUT_S = 120
# How long a closed connection's backend may take to leave pg_stat_activity.
SETTLE_TIMEOUT_S = 15


def _database_env() -> dict[str, str]:
    """DATABASE_URL / DATABASE_OWNER_URL / REDIS_URL of the test database and Redis."""
    db = settings.DATABASES["default"]
    host = db["HOST"]
    host = quote(host, safe="") if host.startswith("/") else f"{host}:{db.get('PORT') or 5432}"

    def url(user: str, password: str | None) -> str:
        auth = user + (f":{quote(password, safe='')}" if password else "")
        return f"postgres://{auth}@{host}/{db['NAME']}"

    owner = db.get("OWNER") or {"USER": db["USER"], "PASSWORD": db.get("PASSWORD")}
    return {
        "DATABASE_URL": url(db["USER"], db.get("PASSWORD")),
        "DATABASE_OWNER_URL": url(owner["USER"], owner.get("PASSWORD")),
        "REDIS_URL": settings.REDIS_URL,
        "OPAA_DATA_DIR": str(DATA_DIR),
        "LOG_LEVEL": "WARNING",
    }


def _connection_pids(application_name: str, *, waiting_on_lock: bool = False) -> set[int]:
    sql = "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
    if waiting_on_lock:
        sql += " AND wait_event_type = 'Lock'"
    with connection.cursor() as cursor:
        # Inside a transaction Postgres shows the activity as of its first look.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(sql, [application_name])
        return {pid for (pid,) in cursor.fetchall()}


def _connections(application_name: str, *, waiting_on_lock: bool = False) -> int:
    return len(_connection_pids(application_name, waiting_on_lock=waiting_on_lock))


def _settled(application_name: str, at_most: int) -> int:
    """The server's connections once closed ones have left (or the count when it gave up)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while (held := _connections(application_name)) > at_most and time.monotonic() < deadline:
        time.sleep(0.2)
    return held


def _get(port: int, path: str, host: str) -> int:
    """One request on a connection of its own (a new thread in the development server)."""
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        client.request("GET", path, headers={"Host": host, "Connection": "close"})
        response = client.getresponse()
        response.read()
        return response.status
    finally:
        client.close()


# Each reaches the database: the readiness probe's query, and the organization lookup by
# host that precedes the API's 401 for an anonymous caller.
REQUESTS = (("/readyz?checks=database", "127.0.0.1", 200), ("/api/v1/documents", None, 401))


def _load(port: int, organization_host: str) -> list[str]:
    """The sequential, then concurrent requests; returns what answered unexpectedly."""

    def one(n: int) -> str | None:
        path, host, expected = REQUESTS[n % len(REQUESTS)]
        status = _get(port, path, host or organization_host)
        return None if status == expected else f"{path}: HTTP {status}, expected {expected}"

    unexpected = [one(n) for n in range(SEQUENTIAL_REQUESTS)]
    with ThreadPoolExecutor(max_workers=CONCURRENT_CLIENTS) as pool:
        unexpected += pool.map(one, range(CONCURRENT_REQUESTS))
    return [problem for problem in unexpected if problem]


@contextmanager
def _server(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    """Run ``command`` until the block ends; it must answer /healthz on ``port`` first."""
    from opaa.settings.env import BASE_DIR

    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log.read_text()[-3000:]}")
            try:
                if _get(port, "/healthz", "127.0.0.1") == 200:
                    break
            except OSError:
                time.sleep(0.3)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _held_while_blocked(port: int, host: str, application_name: str) -> int:
    """The server's connections seen while a request of it waits for a table lock.

    Proves the count is of the right server: a request to an organization looks up the
    host's domain, which waits here until the test lets go of the domain table.
    """
    statuses: list[int] = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE public.tenants_domain IN ACCESS EXCLUSIVE MODE")
        request = threading.Thread(
            target=lambda: statuses.append(_get(port, "/api/v1/documents", host))
        )
        request.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _connections(application_name, waiting_on_lock=True):
            if time.monotonic() > deadline or not request.is_alive():
                break
            time.sleep(0.1)
        held = _connections(application_name, waiting_on_lock=True)
    request.join(timeout=60)
    assert statuses == [401]
    return held


def test_development_server_closes_its_connections(world, django_db_blocker, tmp_path):
    """``make run``'s web server: a hundred requests leave no connection behind."""
    from opaa import cli

    port = free_port()
    command, env = cli.processes(port=port, data_dir=tmp_path)["web"]
    application_name = f"opaa-web-test-{uuid.uuid4().hex[:8]}"
    env = {
        **env,
        **_database_env(),
        "DJANGO_SETTINGS_MODULE": "opaa.settings.dev",
        "DATABASE_APPLICATION_NAME": application_name,
    }
    with django_db_blocker.unblock(), _server(command, env, port, tmp_path / "runserver.log"):
        assert _held_while_blocked(port, world.acme.domain, application_name) == 1
        assert _load(port, world.acme.domain) == []
        # Bounded by the requests in flight (none now), not by the requests served.
        held = _settled(application_name, at_most=0)
    served = SEQUENTIAL_REQUESTS + CONCURRENT_REQUESTS
    assert held == 0, f"{held} connections left open by {served} requests"


def test_gunicorn_holds_one_connection_per_thread_at_most(world, django_db_blocker, tmp_path):
    """The image's web server (opaa/gunicorn.py, production settings) keeps persistent
    connections, at most one per worker thread however many requests it serves."""
    import sys

    workers, threads = 2, 2
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        *("-c", "python:opaa.gunicorn", "opaa.wsgi:application"),
    ]
    application_name = f"opaa-gunicorn-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        **_database_env(),
        "DJANGO_SETTINGS_MODULE": "opaa.settings.production",
        "OPAA_EMBEDDED_SERVICES": "false",
        "SECRET_KEY": "test-connections-not-secret",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_WARM_UP": "false",
        "DATABASE_APPLICATION_NAME": application_name,
    }
    with django_db_blocker.unblock(), _server(command, env, port, tmp_path / "gunicorn.log"):
        assert _held_while_blocked(port, world.acme.domain, application_name) == 1
        assert _load(port, world.acme.domain) == []
        held = _settled(application_name, at_most=workers * threads)
        assert 1 <= held <= workers * threads


def test_celery_worker_holds_one_connection_per_process_at_most(world, django_db_blocker, tmp_path):
    """A prefork worker holds at most one connection per pool process, however many
    tasks it ran, and keeps it from task to task (as a web thread keeps its connection
    from request to request) instead of opening one per task."""
    import sys

    from opaa.celery import app
    from opaa.settings.env import BASE_DIR

    concurrency, tasks = 2, 30
    # A queue of its own: the session's worker, if any, must not take these tasks.
    queue = f"connections-test-{uuid.uuid4().hex[:8]}"
    application_name = f"opaa-worker-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        **_database_env(),
        "DJANGO_SETTINGS_MODULE": "opaa.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DATABASE_APPLICATION_NAME": application_name,
    }
    log = tmp_path / "worker.log"
    command = [
        *(sys.executable, "-m", "celery", "-A", "opaa", "worker", "-Q", queue),
        *("--pool", "prefork", "--concurrency", str(concurrency), "-l", "info"),
        *("--without-mingle", "--without-gossip"),
    ]

    def wait_for(text: str, count: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while log.read_text().count(text) < count:
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker stalled:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)

    with log.open("wb") as output:
        worker = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_for("ready.", 1)
        with django_db_blocker.unblock():
            # The tasks read the organizations (expired signups: none here) and change
            # nothing; while the table is locked each pool process waits with its task.
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "LOCK TABLE public.tenants_organization IN ACCESS EXCLUSIVE MODE"
                    )
                was_eager, app.conf.task_always_eager = app.conf.task_always_eager, False
                try:
                    for _ in range(tasks):
                        app.send_task("tenants.tasks.signups_expired_delete", queue=queue)
                finally:
                    app.conf.task_always_eager = was_eager
                deadline = time.monotonic() + START_TIMEOUT_S
                while _connections(application_name, waiting_on_lock=True) < concurrency:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                busy = _connections(application_name)
                first = _connection_pids(application_name)
            wait_for("succeeded", tasks)
            held = _settled(application_name, at_most=concurrency)
            kept = _connection_pids(application_name)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=40)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    assert busy == concurrency
    assert held <= concurrency
    # The connections of the first tasks are the ones left after all 30.
    assert kept == first
