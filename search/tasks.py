"""Celery tasks of search: thin wrappers around the services."""

from django.db import InterfaceError, OperationalError
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from infra.celery import app
from search import retention
from workspaces.rls.tasks import OrganizationTask


@app.task(
    base=OrganizationTask,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def organization_retention_purge() -> None:
    """Purge the organization's query log past its retention. Running twice is harmless:
    the second run finds nothing older than the cutoff left."""
    retention.retention_purge()


@app.task
def retention_purge_all() -> None:
    """Beat, nightly: one ``organization_retention_purge`` per organization, each sent
    from inside its schema (``OrganizationTask`` refuses to run without one)."""
    organizations = get_tenant_model().objects.exclude(schema_name=get_public_schema_name())
    for schema in organizations.values_list("schema_name", flat=True):
        with schema_context(schema):
            organization_retention_purge.delay()
