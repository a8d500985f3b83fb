"""Celery tasks of ingestion: thin wrappers around ``ingestion.services``."""

from django.db import InterfaceError, OperationalError

from ingestion import services
from opaa.celery import app
from opaa.tasks import OrganizationTask


@app.task(
    base=OrganizationTask,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def index_document(document_id: int) -> None:
    """Index one document of the task's organization.

    Running it twice is harmless: the second run replaces the chunks with the same
    ones. Database connection errors are retried with backoff; a file that cannot be
    parsed is not an error here (the document ends ``failed`` with its reason).
    """
    services.document_index(document_id=document_id)
