"""Organizations (one Postgres schema each) and the domains they are reached at."""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Organization(TenantMixin):
    """A customer: its people, workspaces and documents live in its own schema."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Creating the schema (and migrating it) happens when the organization is saved.
    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Domain(DomainMixin):
    """A host name that routes requests to an organization (``acme.localhost``)."""

    def __str__(self) -> str:
        return self.domain
