"""What the benchmarks share: Django set up on their own embedded services, and a fresh
organization holding the sample corpus.

Import it first (it puts the project on ``sys.path``), call ``django_setup`` before any
Django import, then ``sample_organization``.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def django_setup(name: str, *, eager: bool = True) -> Path:
    """Dev settings on the benchmark's own data directory (``OPAA_DATA_DIR``, default
    ``.opaa/<name>``); tasks run in this process when ``eager``. Returns the directory."""
    data_dir = Path(os.environ.setdefault("OPAA_DATA_DIR", str(ROOT / ".opaa" / name)))
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if eager:
        os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"  # index in this process
    import atexit

    import django

    from opaa.embedded import redis_stop_started_here

    # The settings start the embedded Redis when REDIS_URL is unset; like manage.py, a
    # benchmark stops the one it started when it ends.
    atexit.register(redis_stop_started_here)
    django.setup()
    return data_dir


def django_setup_for_workers(name: str) -> Path:
    """Dev settings on the benchmark's own data directory (as ``django_setup``) with its
    own embedded Postgres and Redis named in the environment, so the Celery workers it
    starts (``BenchWorker``) use the same servers; tasks go to those workers. Returns
    the directory."""
    data_dir = Path(os.environ.setdefault("OPAA_DATA_DIR", str(ROOT / ".opaa" / name)))
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from opaa.embedded import postgres_start, redis_start

    app_url, owner_url = postgres_start(data_dir / "pg", database="opaa")
    os.environ.update(DATABASE_URL=app_url, DATABASE_OWNER_URL=owner_url)
    os.environ["REDIS_URL"] = redis_start(data_dir / "redis")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"  # the workers index
    import django

    django.setup()
    return data_dir


@contextmanager
def asked_as_in_a_request(schema: str):
    """Questions asked in ``schema`` as a request asks them: in its workspaces' scope by
    their ids (what a request's caller resolves to once; the organization-wide scope
    lists them again for every statement), and with the parallel reads' connections
    kept between questions (``CONN_MAX_AGE`` 60, as in production: the development
    settings the benches run on close a connection after each use)."""
    from django.db import connections
    from django_tenants.utils import schema_context

    from workspaces.models import Workspace
    from workspaces.rls import organization_scope, workspaces_scope

    connections.settings["default"]["CONN_MAX_AGE"] = 60
    with schema_context(schema), organization_scope():
        every = list(Workspace.objects.values_list("pk", flat=True))
    with schema_context(schema), workspaces_scope(every):
        yield


@dataclass(frozen=True)
class SampleOrganization:
    organization: object
    owner: object
    schema: str
    workspace_id: int
    documents: int
    chunks: int


def organization_fresh(slug: str):
    """A new organization ``slug`` (``organization_create``'s result), any left over
    from an earlier run deleted first; the public schema migrated."""
    from django.core.management import call_command

    from tenants.models import Organization
    from tenants.services import organization_create, organization_delete

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    for leftover in Organization.objects.filter(slug=slug):
        organization_delete(organization=leftover)
    return organization_create(name="Bench", slug=slug, owner_email=f"owner@{slug}.example")


def sample_corpus_upload(*, workspace, user) -> None:
    """Upload every document of ``sample_corpus/`` to ``workspace`` (indexed at once
    when tasks are eager). Call it inside the organization's schema and scope."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ingestion.uploads import document_upload

    for path in sorted((ROOT / "sample_corpus").iterdir()):
        if path.is_file() and path.name != "README.md" and path.suffix != ".json":
            upload = SimpleUploadedFile(path.name, path.read_bytes())
            document_upload(workspace=workspace, user=user, file=upload)


def sample_organization(slug: str) -> SampleOrganization:
    """``organization_fresh`` with ``sample_corpus/`` uploaded to its default workspace
    and indexed."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from ingestion.models import Chunk, Document
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    created = organization_fresh(slug)
    schema = created.organization.schema_name
    with schema_context(schema), organization_scope():
        workspace = Workspace.objects.get(is_default=True)
        sample_corpus_upload(workspace=workspace, user=created.owner)
        documents, chunks = Document.objects.count(), Chunk.objects.count()
    connection.set_schema_to_public()
    return SampleOrganization(
        organization=created.organization,
        owner=created.owner,
        schema=schema,
        workspace_id=workspace.pk,
        documents=documents,
        chunks=chunks,
    )


def progress(message: str) -> None:
    """A timestamped progress line on stderr (the figures go to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load() -> str:
    """The load averages (1, 5, 15 minutes), as RESULTS.md reports them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> str:
    """CPUs, their model, memory, system and Python: the machine line of RESULTS.md."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory_kib / 1024 / 1024:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


class BenchWorker:
    """A Celery worker process for a benchmark, started as ``make run`` starts one: the
    given ``queues`` and ``concurrency``, its log appended to ``log_path``, the code of
    ``root`` (this checkout, or another commit's worktree). ``start`` waits until it is
    ready (up to ``ready_s``); ``stop`` ends it, killed after a minute."""

    def __init__(
        self,
        env: dict,
        log_path: Path,
        *,
        queues: str = "default,ingest,fetch",
        concurrency: int = 2,
        name: str | None = None,
        ready_s: float = 180,
        root: Path = ROOT,
    ) -> None:
        self.env = env
        self.root = root
        self.log_path = log_path
        self.queues = queues
        self.concurrency = concurrency
        self.name = name
        self.ready_s = ready_s
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            *(sys.executable, "-m", "celery", "-A", "opaa", "worker"),
            *("-Q", self.queues, "--pool", "prefork"),
            *("--concurrency", str(self.concurrency), "-l", "info"),
            *("--without-mingle", "--without-gossip"),
        ]
        if self.name:
            command += ["-n", f"{self.name}@%h"]
        with self.log_path.open("ab") as log:
            mark = log.tell()
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                env={**self.env, "PYTHONPATH": str(self.root)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self.ready_s
        while b"ready." not in self.log_path.read_bytes()[mark:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"the worker did not start; see {self.log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
