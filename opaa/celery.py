"""The Celery application. Tasks run in the schema of the organization that enqueued them."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")

app = CeleryApp("opaa")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Connects the Celery signals that carry a request's id into its tasks' logs.
from opaa import observability  # noqa: E402, F401
