"""OPAA, the Open Project AI Assistant."""

from infra.celery import app as celery_app

# Connects the Celery signals that carry a request's id into its tasks' logs.
from opaa import observability  # noqa: F401

__all__ = ["celery_app"]
