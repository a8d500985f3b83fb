from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from accounts.models import User
from opaa.actions.erasure import user_erase
from tenants.models import Organization
from workspaces.rls import organization_scope


class Command(BaseCommand):
    help = (
        "Erase a person from an organization (GDPR): account, sessions, tokens, questions, "
        "conversations, feedback; the audit log keeps a pseudonym. Needs --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="the organization's short name, e.g. acme")
        parser.add_argument("email")
        parser.add_argument("--yes", action="store_true", help="confirm the erasure")

    def handle(self, *args, organization, email, yes, **options):
        org = Organization.objects.filter(slug=organization).first()
        if org is None:
            raise CommandError(f"No organization {organization!r}.")
        # An operator's script: it sees every workspace of the organization (row-level
        # security), so everything of the person is found, whichever workspace holds it.
        with schema_context(org.schema_name), organization_scope():
            user = User.objects.filter(email=email.strip().lower()).first()
            if user is None:
                raise CommandError(f"No user {email!r} in {org.name}.")
            if not yes:
                raise CommandError(f"This erases {email} from {org.name}; add --yes to confirm.")
            try:
                pseudonym = user_erase(user=user)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Erased {email} from {org.name}; audit log pseudonym {pseudonym}.")
        )
