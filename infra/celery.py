"""The Celery application. Tasks run in the schema of the organization that enqueued them.

``opaa/__init__`` imports it and then ``opaa.observability``, which connects the Celery
signals that carry a request's id into its tasks' logs.
"""

import os

from celery.signals import celeryd_after_setup
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
