"""OPAA, the Open Project AI Assistant."""

from opaa.celery import app as celery_app

__all__ = ["celery_app"]
