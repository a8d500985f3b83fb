"""Gunicorn settings for the web container: ``gunicorn -c python:opaa.gunicorn opaa.wsgi``.

Every value can be overridden with gunicorn's own ``GUNICORN_CMD_ARGS``.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Two workers per core is gunicorn's advice for I/O-bound Django; answering waits on the
# database and the LLM, not on the CPU.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Each thread keeps at most one persistent database connection (CONN_MAX_AGE): the web
# tier holds at most workers x threads per pod (docs/deployment.md, "Database connections").
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A worker takes no more connections than it has threads: with gthread's default (1000)
# a worker whose threads are all busy still accepts, and the question waits there while
# the other worker has a thread free. Raise it if many idle keep-alive clients connect
# directly (nginx in front reuses its few upstream connections).
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", str(threads)))
# An LLM answer may take up to LLM_TIMEOUT_S (30 s) plus retrieval.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# OPAA writes its own JSON request line (opaa/observability.py); no access log twice.
accesslog = None
# nginx or the ingress sets X-Forwarded-Proto; trust it from any proxy in front.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# Worker heartbeat files on tmpfs: a container's overlay filesystem can stall them.
worker_tmp_dir = "/dev/shm"  # noqa: S108
# The workers' database connections show up as opaa-web in pg_stat_activity (the
# workers inherit the environment of the arbiter, which reads this file).
os.environ.setdefault("DATABASE_APPLICATION_NAME", "opaa-web")


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the shared metrics directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Load the local embedding model before the worker takes its first request.

    Otherwise the first questions a new worker gets wait for torch and the model to
    load (tens of seconds: bench/RESULTS.md); this way a new pod turns ready only once
    its workers can answer. ``WEB_WARM_UP=false`` skips it.
    """
    if os.environ.get("WEB_WARM_UP", "true").lower() in {"0", "false", "no", "off"}:
        return
    import threading

    from ingestion.embedding import embedding_warm

    # The arbiter kills a worker silent for GUNICORN_TIMEOUT: keep signalling meanwhile.
    loaded = threading.Event()

    def alive() -> None:
        while not loaded.wait(5):
            worker.notify()

    threading.Thread(target=alive, daemon=True).start()
    try:
        embedding_warm()
    finally:
        loaded.set()
