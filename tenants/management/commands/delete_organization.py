from django.core.management.base import BaseCommand, CommandError

from tenants.models import Organization
from tenants.services import organization_delete


class Command(BaseCommand):
    help = (
        "Erase an organization: its schema (every row), domains, stored objects, Redis keys "
        "and queued tasks. Irreversible; needs --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the organization's short name, e.g. acme")
        parser.add_argument("--yes", action="store_true", help="confirm the deletion")

    def handle(self, *args, slug, yes, **options):
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"No organization {slug!r}.")
        if not yes:
            raise CommandError(f"This erases {organization.name} for good; add --yes to confirm.")
        counts = organization_delete(organization=organization)
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {organization.name}: {counts['objects']} stored objects, "
                f"{counts['redis_keys']} Redis keys, {counts['tasks']} queued tasks."
            )
        )
