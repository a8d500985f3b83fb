"""Shared fixtures: organizations Acme and Globex, personas, clients, a real worker.

Personas (STYLE.md): **alice** owns Acme; **bob** is an editor in Acme's Sales
workspace only; **carol** belongs to Globex and must see nothing of Acme.

The organizations are created once per session and committed (creating a schema
runs every organization migration). Each test then runs inside a transaction that
is rolled back, so tests cannot see each other's rows.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from accounts.models import User
from tenants.models import Organization
from tenants.services import organization_create, organization_delete
from workspaces.models import Membership, Role, Workspace
from workspaces.rls import organization_scope

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Org:
    organization: Organization
    domain: str
    schema: str


@dataclass(frozen=True)
class World:
    acme: Org
    globex: Org


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    """pytest-django's database setup, but always for the default database.

    pytest-django creates the test database only when a collected test asks for the
    ``db`` fixture; tests with a real worker never do (their rows must be committed).
    """
    from django.test.utils import setup_databases, teardown_databases

    from workspaces.rls import schema_owner_connection
    from workspaces.rls.parallel import read_beside_stop

    # The test database is created, migrated and dropped by the schema owner; tests then
    # connect as the application's role, as the web and workers do (docs/security.md).
    with django_db_blocker.unblock(), schema_owner_connection():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    yield
    # Their connections would keep the test database from being dropped.
    read_beside_stop()
    with django_db_blocker.unblock(), schema_owner_connection():
        teardown_databases(config, verbosity=0)


def _org(slug: str, owner_email: str) -> Org:
    created = organization_create(
        name=slug.capitalize(), slug=slug, owner_email=owner_email, owner_password=PASSWORD
    )
    org = created.organization
    return Org(org, domain=f"{slug}.localhost", schema=org.schema_name)


@pytest.fixture(scope="session")
def world(django_db_setup, django_db_blocker) -> World:
    """Acme (alice owner; bob editor of Sales) and Globex (carol owner), committed."""
    with django_db_blocker.unblock():
        acme = _org("acme", "alice@acme.example")
        globex = _org("globex", "carol@globex.example")
        with schema_context(acme.schema), organization_scope():
            sales = Workspace.objects.create(name="Sales", slug="sales")
            bob = User.objects.create_user("bob@acme.example", PASSWORD)
            Membership.objects.create(workspace=sales, user=bob, role=Role.EDITOR)
        connection.set_schema_to_public()
    return World(acme=acme, globex=globex)


@pytest.fixture(autouse=True)
def _public_schema_after_test():
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _organization_wide_test_body():
    """Test code outside requests and tasks sees every workspace of the organization it
    switched to, like an operator's script; requests and tasks run in their own,
    narrower scope (``workspaces.rls``). tests/test_rls.py checks the narrow scopes."""
    with organization_scope():
        yield


@pytest.fixture
def acme(world, db) -> Org:
    """Acme's schema is active for the test body."""
    connection.set_tenant(world.acme.organization)
    return world.acme


@pytest.fixture
def globex(world) -> Org:
    return world.globex


def user_in(org: Org, email: str) -> User:
    with schema_context(org.schema):
        return User.objects.get(email=email)


def postings_of(schema: str, chunk_ids: list[int]) -> int:
    """How many postings the schema's posting lists (``ingestion_posting_list``, ids
    packed 8 bytes each) hold for ``chunk_ids``."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT count(*) FROM "{schema}".ingestion_posting_list AS l,'  # noqa: S608
            " generate_series(0, l.postings - 1) AS i"
            " WHERE substring(l.chunk_ids FROM 8 * i + 1 FOR 8)"
            " IN (SELECT int8send(x) FROM unnest(%s::bigint[]) AS x)",
            [chunk_ids],
        )
        return cursor.fetchone()[0]


def filesystem_source(*paths, **options):
    """A file-system source over ``paths`` in the current organization's default
    workspace (with a connector of its own); ``options`` go to ``source_create``."""
    from ingestion import sources
    from ingestion.models import ConnectorKind

    connector = sources.connector_create(name="Share", kind=ConnectorKind.FILESYSTEM)
    return sources.source_create(
        connector=connector,
        workspace=Workspace.objects.get(is_default=True),
        name=options.pop("name", "Share"),
        paths=[str(path) for path in paths],
        **options,
    )


def api_client(org: Org, email: str) -> APIClient:
    """An API client for ``email``, talking to ``org``'s domain, signed in."""
    client = APIClient(HTTP_HOST=org.domain)
    with schema_context(org.schema):
        client.force_authenticate(User.objects.get(email=email))
    return client


def portal_client(org: Org, email: str):
    """A browser-like client for ``email`` on ``org``'s domain, signed in by session."""
    from django.test import Client

    client = Client(HTTP_HOST=org.domain)
    with schema_context(org.schema):
        client.force_login(User.objects.get(email=email))
    return client


@pytest.fixture
def alice_api(world, db):
    return api_client(world.acme, "alice@acme.example")


@pytest.fixture
def bob_api(world, db):
    return api_client(world.acme, "bob@acme.example")


@pytest.fixture
def carol_api(world, db):
    return api_client(world.globex, "carol@globex.example")


@pytest.fixture
def alice_portal(world, db):
    return portal_client(world.acme, "alice@acme.example")


@pytest.fixture
def carol_portal(world, db):
    return portal_client(world.globex, "carol@globex.example")


@pytest.fixture
def committed_org(django_db_setup, django_db_blocker):
    """Make fresh organizations whose rows are committed (for tests with a real worker).

    The whole test runs with database access in autocommit mode, like a real
    request would; the organizations are dropped, with their schemas, afterwards.
    """
    made: list[Org] = []

    def make(slug: str, owner_email: str) -> Org:
        org = _org(slug, owner_email)
        made.append(org)
        return org

    with django_db_blocker.unblock():
        try:
            yield make
        finally:
            connection.set_schema_to_public()
            for org in made:
                organization_delete(organization=org.organization)


# Test packages whose fixtures live for the whole package (a web server, a browser, an
# organization): under pytest-xdist they run in one process, or each process that got
# one of their files would start them again, and again after every other file between.
WHOLE_PACKAGES = ("tests/portal/", "tests/mcp_server/")


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: unknown without the plugin
def pytest_xdist_make_scheduler(config, log):
    """``make test``'s ``--dist loadfile``: a test file goes to one process as a whole
    (its module fixtures start once), and so does each of ``WHOLE_PACKAGES``. (xdist's
    own ``loadgroup`` marks do not group under pytest 9: it renames node ids by a field
    pytest no longer reads.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FileOrPackageScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return next((package for package in WHOLE_PACKAGES if path.startswith(package)), path)

    return FileOrPackageScheduling(config, log)


def pytest_sessionfinish(session, exitstatus):
    """Stop the embedded Redis the test settings started (Postgres stops by itself)."""
    from opaa.embedded import redis_stop
    from opaa.settings.env import DATA_DIR

    if not os.environ.get("REDIS_URL"):
        redis_stop(DATA_DIR / "redis")


def queues_purge() -> None:
    """Empty every queue the project routes to. (``app.control.purge`` empties only the
    queues this process has sent to: not ``embed``, whose tasks the worker sends, so an
    embedding task of a test's organization could reach the next worker while the
    organization is being dropped.)"""
    from infra.organization_residue import queue_names
    from opaa.celery import app

    with app.connection_for_write() as conn:
        for name in sorted(queue_names()):
            conn.default_channel.queue_purge(name)


class WorkerProcess:
    """A real Celery worker process consuming every queue (``default,ingest,fetch``).

    ``kill()`` ends it at once with SIGKILL, as a crash or the OOM killer would;
    ``start()`` starts a fresh one. Its output goes to ``worker.log`` in the test
    process's data directory.
    """

    def __init__(self, env: dict, log_path, *, pool: str = "solo", concurrency: int = 1) -> None:
        self.env = env
        self.log_path = log_path
        # "solo" runs tasks in the worker process itself; "prefork" in a child process,
        # which is what enforces task time limits.
        self.pool = pool
        self.concurrency = concurrency
        self.process = None

    def start(self) -> None:
        import subprocess
        import sys
        import time

        from opaa.settings.env import BASE_DIR

        with self.log_path.open("a") as log:
            mark = log.tell()
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "opaa",
                    "worker",
                    "-Q",
                    "default,ingest,fetch",
                    "--pool",
                    self.pool,
                    "--concurrency",
                    str(self.concurrency),
                    "-l",
                    "info",
                    "--without-mingle",
                    "--without-gossip",
                ],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: ``stop`` can end a prefork worker's children too.
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while "ready." not in self.log_path.read_text()[mark:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"the Celery worker did not start:\n{self.log_path.read_text()}")
            time.sleep(0.2)

    def kill(self) -> None:
        import signal

        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self, timeout: float = 60) -> None:
        """Warm shutdown (the tasks running finish); past ``timeout`` the worker and its
        pool processes are killed. Returns once none of them is left: a pool process
        orphaned by a killed parent would otherwise finish its task later, say while a
        test drops the organization it writes to (a deadlock at teardown, seen in CI)."""
        import signal
        import subprocess
        import time

        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with self.log_path.open("a") as log:
                    log.write(f"[tests] worker not stopped within {timeout:.0f} s: killed\n")
        group = self.process.pid
        deadline = time.monotonic() + 10
        while left := _group_alive(group):
            # Anything left of the group (the parent, pool processes) is killed.
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.poll()
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker processes {left} still alive")
            time.sleep(0.1)
        self.process.poll()


def _group_alive(group: int) -> list[int]:
    """The processes of process group ``group`` that are still running (not zombies)."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # pid (comm) state ppid pgrp ...: comm may hold spaces, split after it.
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            alive.append(int(entry))
    return alive


@pytest.fixture(scope="session")
def _worker_session(django_db_setup, django_db_blocker):
    """The worker process, started once for the session (see ``worker``)."""
    from urllib.parse import quote

    from django.conf import settings

    from opaa.settings.env import DATA_DIR

    db = settings.DATABASES["default"]
    host = db["HOST"]
    if host.startswith("/"):
        host = quote(host, safe="")
    elif db.get("PORT"):
        host = f"{host}:{db['PORT']}"
    auth = db["USER"] + (f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else "")
    owner = db.get("OWNER") or {"USER": db["USER"], "PASSWORD": db.get("PASSWORD")}
    owner_auth = owner["USER"] + (
        f":{quote(owner['PASSWORD'], safe='')}" if owner.get("PASSWORD") else ""
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "opaa.settings.test",
        "DATABASE_URL": f"postgres://{auth}@{host}/{db['NAME']}",
        # The worker connects as the application's role; the owner only for completeness.
        "DATABASE_OWNER_URL": f"postgres://{owner_auth}@{host}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "OPAA_DATA_DIR": str(DATA_DIR),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    log_path = DATA_DIR / "worker.log"
    log_path.write_text("")
    # Drop tasks left in the queues by an earlier, interrupted run.
    queues_purge()
    worker = WorkerProcess(env, log_path)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def worker(_worker_session):
    """A real Celery worker process consuming the test database's queues.

    While the test runs, tasks are sent through Redis instead of running eagerly (other
    tests keep eager tasks even though the session's worker stays up). Yields the
    ``WorkerProcess``.
    """
    from opaa.celery import app

    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield _worker_session
    finally:
        app.conf.task_always_eager = was_eager


def named_file(name: str, data: bytes):
    """A file-like upload with a name, as a browser or ``curl -F`` would send."""
    import io

    handle = io.BytesIO(data)
    handle.name = name
    return handle


@pytest.fixture
def upload_indexed(django_capture_on_commit_callbacks):
    """Upload through the API and index at once (eager task), returning the JSON body."""

    def upload(client, name: str, data: bytes, **extra) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/v1/documents", {"file": named_file(name, data), **extra}, format="multipart"
            )
        assert response.status_code == 201, response.content
        return response.json()

    return upload


@pytest.fixture
def upload_written(django_capture_on_commit_callbacks):
    """Upload through the API and write its text, not its vectors: as on a worker, the
    embedding task is only sent once the text commits (tasks otherwise run eagerly
    here), never run. Returns its id (a new version of a known file keeps it)."""
    from ingestion import embedding_queue, indexing
    from opaa.celery import app

    def upload(client, name: str, data: bytes, *, workspace: str = "") -> int:
        path = f"/api/v1/documents?workspace={workspace}" if workspace else "/api/v1/documents"
        with django_capture_on_commit_callbacks(execute=False):
            response = client.post(path, {"file": named_file(name, data)}, format="multipart")
        assert response.status_code in {200, 201}, response.content  # 200: a new version
        document_id = response.json()["id"]
        eager, app.conf.task_always_eager = app.conf.task_always_eager, False
        try:
            with django_capture_on_commit_callbacks(execute=False) as sent:
                indexing.document_index(document_id=document_id)
        finally:
            app.conf.task_always_eager = eager
        assert embedding_queue.embedding_send in sent
        return document_id

    return upload


def token_client(org: Org, secret: str) -> APIClient:
    """An API client on ``org``'s domain sending ``Authorization: Bearer <secret>``."""
    client = APIClient(HTTP_HOST=org.domain)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def make_token(world, db):
    """Create an API token: ``make_token(org, email, scopes=[...], workspaces=[...])``.

    Returns the token's secret. Defaults: a personal token with every scope, bound to
    every workspace the user may read, expiring in 30 days.
    """
    from accounts.audit import AuditContext
    from accounts.scopes import Scope
    from accounts.services import token_create
    from workspaces.access import workspaces_readable

    def make(org: Org, email: str, *, scopes=None, workspaces=None, kind="pat", days=30) -> str:
        with schema_context(org.schema):
            user = User.objects.get(email=email)
            slugs = workspaces or [w.slug for w in workspaces_readable(user)]
            return token_create(
                creator=user,
                kind=kind,
                name=f"test token of {email}",
                scopes=list(Scope.values if scopes is None else scopes),
                workspace_slugs=slugs,
                expires_in_days=days,
                audit=AuditContext(),
            ).secret

    return make


@pytest.fixture(autouse=True)
def _fresh_answer_cache():
    """Cached answers and retrieval statistics (a scope's chunk count, its readable
    chunks: ``ingestion.index``) outlive a test's rolled-back rows; never let one leak
    into the next. (A scope counted empty by an earlier test made a later one search
    exactly where it meant to test the index scan.)"""
    from django.core.cache import cache

    cache.delete_pattern("answer:*")
    cache.delete_pattern("bm25:*")


# --- S3: moto's S3 server on loopback, speaking the S3 protocol ------------------------


@dataclass(frozen=True)
class Bucket:
    """One bucket on the loopback S3 server, with the checks tests make on it."""

    client: Any
    name: str

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name, Prefix=prefix)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()


def free_port() -> int:
    """A TCP port on loopback nobody listens on (at the moment of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """One moto S3 server for the session; every test makes its own buckets on it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_bucket_create(endpoint: str, *, secret: str = "test") -> Bucket:  # noqa: S107 - moto
    """A new, empty bucket (``opaa-test-<random>``) on the loopback S3 server."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key=secret,
    )
    name = f"opaa-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return Bucket(client, name)


def originals_in_s3(settings, endpoint: str) -> Bucket:
    """Keep originals in a new, empty bucket from now on (as with ``S3_BUCKET`` set)."""
    bucket = s3_bucket_create(endpoint)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket.name,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "default_acl": None,
                "file_overwrite": False,
            },
        },
    }
    return bucket


@pytest.fixture
def s3_storage(settings, s3_endpoint) -> Bucket:
    """Default storage switched to a new, empty bucket, returned for checks."""
    return originals_in_s3(settings, s3_endpoint)
