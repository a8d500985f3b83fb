"""The base class for tasks that belong to one organization."""

import threading

from celery.utils.time import get_exponential_backoff_interval
from django.apps import apps
from django.db import InterfaceError, OperationalError, connection
from django_tenants.utils import get_public_schema_name
from tenant_schemas_celery.app import get_schema_name_from_task, switch_schema
from tenant_schemas_celery.task import TenantTask

from workspaces.rls import scope as rls


class OrganizationMissing(RuntimeError):
    """A task that works on an organization's data was run without one."""


# tenant-schemas-celery keeps the schema to restore after a task as an attribute of the
# task object, which every thread shares: with tasks running in two threads at once (a
# threads pool, eager tasks in threads), one thread would restore the other's schema and
# go on writing into the wrong organization. Kept per thread instead.
_restore = threading.local()


class OrganizationTask(TenantTask):
    """A task that must run inside an organization's schema.

    The organization travels in the message headers (tenant-schemas-celery adds the
    schema of the connection that enqueued the task). A task enqueued from the public
    schema would read and write nothing of any organization, so it is refused rather
    than run in the wrong place.
    """

    abstract = True

    @property
    def _old_schema(self):
        try:
            return getattr(_restore, self.name)
        except AttributeError:
            raise AttributeError("_old_schema") from None

    @_old_schema.setter
    def _old_schema(self, value) -> None:
        setattr(_restore, self.name, value)

    # Row-level security: a task whose first argument is the id of a row of this model
    # ("app_label.Model") sees only that row's workspace; any other, its whole organization.
    workspace_of: str | None = None

    def rls_scope(self, args) -> rls.Scope:
        if self.workspace_of and args:
            return rls.ObjectWorkspaceScope(apps.get_model(self.workspace_of), args[0])
        return rls.OrganizationScope()

    def __call__(self, *args, **kwargs):
        schema = get_schema_name_from_task(self, kwargs)
        if schema not in (None, get_public_schema_name()) and connection.schema_name != schema:
            self._switch_or_retry(schema, kwargs)
        if connection.schema_name == "public":
            raise OrganizationMissing(
                f"task {self.name} must be enqueued from inside an organization's schema"
            )
        with rls.scope_enter(self.rls_scope(args)):
            return super().__call__(*args, **kwargs)

    def _switch_or_retry(self, schema: str, kwargs) -> None:
        """Enter the message's organization, which the ``task_prerun`` switch failed to.

        tenant-schemas-celery switches schema in a signal handler, whose errors Celery
        only logs: with the database unreachable (a restart, a failover) the task would
        run in the public schema and be lost as ``OrganizationMissing``. Trying here lets
        a database error retry the task with backoff, as one inside the task would.
        """
        try:
            # A connection the server closed (it restarted) is replaced, not reused.
            connection.close_if_unusable_or_obsolete()
            switch_schema(self, kwargs)
        except (OperationalError, InterfaceError) as exc:
            if self.request.called_directly:
                raise
            countdown = get_exponential_backoff_interval(
                factor=1, retries=self.request.retries, maximum=600, full_jitter=True
            )
            raise self.retry(
                exc=exc, countdown=countdown, headers={"_schema_name": schema}
            ) from exc
