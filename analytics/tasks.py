"""Celery tasks of analytics: thin wrappers around the services."""

from django.db import InterfaceError, OperationalError
from django_tenants.utils import get_public_schema_name, schema_context

from analytics.digest import gaps_digest_send
from analytics.golden import golden_run_execute, golden_runs_schedule
from analytics.services import question_vectors_fill as vectors_fill
from infra.celery import app
from tenants.suspension import organizations_schedulable
from workspaces.rls.tasks import OrganizationTask


@app.task(
    base=OrganizationTask,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def organization_gaps_digest() -> None:
    """Email this organization's subscribed admins their new gaps. Running twice sends
    nothing twice: each subscription records when it was last emailed."""
    gaps_digest_send()


@app.task
def gaps_digest_all() -> None:
    """Beat, weekly: one ``organization_gaps_digest`` per organization, each sent from
    inside its schema (``OrganizationTask`` refuses to run without one)."""
    # Active organizations only: a suspended one gets no email.
    organizations = organizations_schedulable().exclude(schema_name=get_public_schema_name())
    for schema in organizations.values_list("schema_name", flat=True):
        with schema_context(schema):
            organization_gaps_digest.delay()


@app.task(
    base=OrganizationTask,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def question_vectors_fill(question_ids: list[int]) -> None:
    """Embed the questions a page could not embed in time (``analytics.groups``).
    Running twice embeds nothing twice: the second run finds the vectors stored; a
    question deleted meanwhile is skipped."""
    vectors_fill(question_ids=question_ids)


@app.task(
    base=OrganizationTask,
    workspace_of="analytics.GoldenRun",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def golden_run(run_id: int) -> None:
    """Run one workspace's golden questions (``analytics.golden.golden_run_execute``).
    Running twice does nothing twice: a finished run is left as it is, and one a dead
    worker left running starts again from its first question."""
    golden_run_execute(run_id=run_id)


@app.task(
    base=OrganizationTask,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def organization_golden_runs() -> None:
    """Queue a run for each workspace of this organization with golden questions. Running
    twice queues nothing twice (``golden_runs_schedule`` skips a workspace run lately)."""
    for run_id in golden_runs_schedule():
        golden_run.delay(run_id)


@app.task
def golden_runs_all() -> None:
    """Beat, daily: one ``organization_golden_runs`` per active organization (a
    suspended one runs no scheduled work)."""
    organizations = organizations_schedulable().exclude(schema_name=get_public_schema_name())
    for schema in organizations.values_list("schema_name", flat=True):
        with schema_context(schema):
            organization_golden_runs.delay()
