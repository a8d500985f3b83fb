"""The Celery application. Tasks run in the schema of the organization that enqueued them.

``opaa/__init__`` imports it and then ``opaa.observability``, which connects the Celery
signals that carry a request's id into its tasks' logs.
"""

import os

from celery.signals import celeryd_after_setup, task_postrun, task_prerun
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")

app = CeleryApp("opaa")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_after_setup.connect
def _embed_with_ingest(sender, instance, **kwargs) -> None:
    """A worker consuming ``ingest`` consumes ``embed`` too, unless
    ``WORKER_EMBED_WITH_INGEST`` is false (a deployment with embedding workers of its
    own): one development worker, or an existing deployment's workers started with
    ``-Q default,ingest,fetch``, still make the vectors."""
    from django.conf import settings

    queues = instance.app.amqp.queues
    consumed = set(queues.consume_from or ())
    if settings.WORKER_EMBED_WITH_INGEST and "ingest" in consumed and "embed" not in consumed:
        queues.select_add("embed")


@task_prerun.connect
@task_postrun.connect
def _connections_as_around_a_request(sender=None, task=None, **kwargs) -> None:
    """Before and after each task, what Django does before and after each request: a
    connection older than ``DATABASE_CONN_MAX_AGE``, or broken, or left in a
    transaction, is closed; a kept one is checked before its next use
    (``CONN_HEALTH_CHECKS``: a restarted Postgres costs no error). Celery's own Django
    fixup would close it every time instead (``CELERY_DB_REUSE_MAX`` in
    ``opaa/settings/workers.py``), and every task would open a connection: about 10 ms
    of the server's CPU each, 2-3% of indexing's (bench/RESULTS.md). A task run in its
    caller (eager: tests) keeps the caller's connection, which may be in a transaction."""
    from django.db import close_old_connections

    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()
