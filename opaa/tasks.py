"""The base class for tasks that belong to one organization."""

from django.db import connection
from tenant_schemas_celery.task import TenantTask


class OrganizationMissing(RuntimeError):
    """A task that works on an organization's data was run without one."""


class OrganizationTask(TenantTask):
    """A task that must run inside an organization's schema.

    The organization travels in the message headers (tenant-schemas-celery adds the
    schema of the connection that enqueued the task). A task enqueued from the public
    schema would read and write nothing of any organization, so it is refused rather
    than run in the wrong place.
    """

    abstract = True

    def __call__(self, *args, **kwargs):
        if connection.schema_name == "public":
            raise OrganizationMissing(
                f"task {self.name} must be enqueued from inside an organization's schema"
            )
        return super().__call__(*args, **kwargs)
