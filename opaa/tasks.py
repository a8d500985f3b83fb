"""The base class for tasks that belong to one organization."""

import threading

from django.apps import apps
from django.db import connection
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
        if connection.schema_name == "public":
            raise OrganizationMissing(
                f"task {self.name} must be enqueued from inside an organization's schema"
            )
        with rls.scope_enter(self.rls_scope(args)):
            return super().__call__(*args, **kwargs)
