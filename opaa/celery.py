"""The Celery application lives in ``infra.celery``; ``celery -A opaa`` finds it here."""

from infra.celery import app

__all__ = ["app"]
