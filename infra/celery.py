"""The Celery application. Tasks run in the schema of the organization that enqueued them.

``opaa/__init__`` imports it and then ``opaa.observability``, which connects the Celery
signals that carry a request's id into its tasks' logs.
"""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")

app = CeleryApp("opaa")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
