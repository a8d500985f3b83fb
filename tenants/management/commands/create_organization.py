from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.services import organization_create


class Command(BaseCommand):
    help = "Create an organization with its own schema, domain, default workspace and owner."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="short name, e.g. acme (also the schema name)")
        parser.add_argument("--name", help="display name (default: the slug, capitalized)")
        parser.add_argument(
            "--domain", help="host name (default: <slug>.<ORGANIZATION_DOMAIN_SUFFIX>)"
        )
        parser.add_argument("--owner-email", required=True)

    def handle(self, *args, slug, name, domain, owner_email, **options):
        try:
            created = organization_create(
                name=name or slug.capitalize(), slug=slug, domain=domain, owner_email=owner_email
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        domain_name = created.organization.domains.get(is_primary=True).domain
        self.stdout.write(
            self.style.SUCCESS(f"Created {created.organization.name} at {domain_name}")
        )
        self.stdout.write(f"Owner: {created.owner.email}")
        self.stdout.write(f"Password (shown once): {created.owner_password}")
