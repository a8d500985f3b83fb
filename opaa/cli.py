"""The ``opaa`` command: ``opaa run`` starts everything for development in one process group.

It starts the embedded Postgres and Redis (unless DATABASE_URL / REDIS_URL are set),
migrates every schema, creates the demo organization on first run, then runs the web
server, a Celery worker and Celery beat under one process manager (honcho). Ctrl-C
stops all of them, then the embedded servers.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import threading
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8000


def _prepare_environment() -> tuple[Path, bool]:
    """Point DATABASE_URL / REDIS_URL at embedded servers unless set; True if Redis started."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")
    from opaa.settings.env import DATA_DIR

    started_redis = False
    if not os.environ.get("DATABASE_URL"):
        from opaa.embedded import postgres_start

        print("Starting embedded PostgreSQL 16 + pgvector ...", flush=True)
        app_url, owner_url = postgres_start(DATA_DIR / "pg", database="opaa")
        os.environ["DATABASE_URL"] = app_url
        os.environ["DATABASE_OWNER_URL"] = owner_url
    if not os.environ.get("REDIS_URL"):
        from opaa.embedded import redis_start

        print("Starting embedded Redis ...", flush=True)
        os.environ["REDIS_URL"] = redis_start(DATA_DIR / "redis")
        started_redis = True
    return DATA_DIR, started_redis


def _demo_announce(demo, port: int) -> None:
    """Wait for the sample corpus to be indexed, then show a cited answer and the URL."""
    from django_tenants.utils import schema_context

    from opaa.demo import demo_wait_indexed
    from search.services import answer_question
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    def report(done: int, total: int) -> None:
        print(f"[demo] indexed {done}/{total} sample documents", flush=True)

    if not demo_wait_indexed(organization=demo.organization, timeout_s=600, report=report):
        print("[demo] indexing is taking long; see the worker's output above.", flush=True)
        return
    with schema_context(demo.organization.schema_name), organization_scope():
        workspace = Workspace.objects.get(is_default=True)
        record = answer_question(
            user=None, workspace=workspace, question="How do I reset my password?"
        )
    url = f"http://{demo.organization.domains.get(is_primary=True).domain}:{port}/"
    lines = [
        "",
        "=" * 72,
        f"OPAA is ready: {url}",
        f"Sign in as {demo.owner_email}"
        + (f" with password {demo.owner_password}" if demo.owner_password else ""),
        "",
        f"Sample question: {record.text}",
        f"Answer: {record.answer}",
        *[f"  [{c['number']}] {c['document_title']}" for c in record.citations],
        "=" * 72,
        "",
    ]
    print("\n".join(lines), flush=True)


def processes(*, port: int, data_dir: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """What ``opaa run`` starts under honcho: name -> (command, environment).

    The development settings keep no persistent database connections (the development
    server starts a thread per request: opaa/settings/dev.py); each process names itself
    in pg_stat_activity (``DATABASE_APPLICATION_NAME``).
    """
    python = sys.executable
    commands = {
        # manage.py runserver, with the embedding model loaded in the background (web()).
        "web": [python, "-m", "opaa.cli", "web", "--port", str(port)],
        "worker": [
            *(python, "-m", "celery", "-A", "opaa", "worker"),
            *("-Q", "default,ingest,fetch", "--concurrency", "2", "-l", "info"),
        ],
        "beat": [
            *(python, "-m", "celery", "-A", "opaa", "beat", "-l", "info"),
            *("-s", str(data_dir / "celerybeat-schedule")),
        ],
    }
    return {
        name: (command, {**os.environ, "DATABASE_APPLICATION_NAME": f"opaa-{name}"})
        for name, command in commands.items()
    }


def run(port: int) -> int:
    data_dir, started_redis = _prepare_environment()
    try:
        return _run(data_dir, port)
    finally:
        if started_redis:
            from opaa.embedded import redis_stop

            redis_stop(data_dir / "redis")


def _run(data_dir: Path, port: int) -> int:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)

    from opaa.demo import demo_bootstrap

    demo = demo_bootstrap(corpus_dir=BASE_DIR / "sample_corpus")
    credentials = data_dir / "demo-owner.txt"
    if demo.created:
        credentials.write_text(f"{demo.owner_email}\n{demo.owner_password}\n")
        credentials.chmod(0o600)
        print(f"Created the demo organization Acme; owner credentials saved in {credentials}")
    from django.db import connections

    connections.close_all()

    from honcho.manager import Manager

    manager = Manager()
    for name, (command, env) in processes(port=port, data_dir=data_dir).items():
        manager.add_process(name, shlex.join(command), env=env, cwd=str(BASE_DIR))
    if not demo.created:
        password = credentials.read_text().split("\n")[1] if credentials.exists() else ""
        demo = type(demo)(demo.organization, False, demo.owner_email, password)
    threading.Thread(target=_demo_announce, args=(demo, port), daemon=True).start()
    manager.loop()
    return manager.returncode or 0


def _warm() -> None:
    """Load the local embedding model, saying when it is ready (or why it is not)."""
    import time

    from ingestion.embedding import embedding_warm

    started = time.monotonic()
    try:
        embedding_warm()
    except Exception as exc:  # any: the first question then loads it and reports why
        print(f"[web] warming the embedding model failed: {exc}", flush=True)
        return
    print(f"[web] embedding model ready ({time.monotonic() - started:.1f} s)", flush=True)


def web(port: int) -> None:
    """``manage.py runserver`` on ``port``, warming the embedding model meanwhile.

    Without this the first question after ``make run`` waited about 19 s for torch and
    the model to load (issue 16). The model loads in a background thread, so the server
    answers at once; a question asked meanwhile waits for the same load (the provider
    holds a lock), not for a second one. ``WEB_WARM_UP=false`` skips it, as in gunicorn.
    """
    import atexit

    import django
    from django.core.management import execute_from_command_line

    from opaa.embedded import redis_stop_started_here

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")
    # As manage.py: the settings start the embedded Redis when REDIS_URL is unset.
    atexit.register(redis_stop_started_here)
    django.setup()
    if os.environ.get("WEB_WARM_UP", "true").lower() not in {"0", "false", "no", "off"}:
        threading.Thread(target=_warm, name="warm-up", daemon=True).start()
    execute_from_command_line(["manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opaa", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="start OPAA for development (make run)")
    run_parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    web_parser = sub.add_parser("web", help="the development web server alone (opaa run's)")
    web_parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    os.chdir(BASE_DIR)
    if args.command == "run":
        return run(args.port)
    if args.command == "web":
        web(args.port)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
