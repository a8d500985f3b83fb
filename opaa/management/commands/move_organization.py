import os

from django.core.management.base import BaseCommand, CommandError

from opaa.backup import BackupError, Database
from opaa.organization_move import (
    Cluster,
    organization_move,
    organization_move_abort,
    organization_source_drop,
)


class Command(BaseCommand):
    help = (
        "Move one organization to another Postgres cluster (another cell's database, "
        "migrated to this version): suspend it here, copy its schema and public rows, "
        "verify row counts and searches on both sides, then switch (docs/scaling.md, "
        "docs/operations.md). Run it again after a crash or refusal to carry on; --abort "
        "undoes a move not yet switched; --drop-source removes the old copy afterwards. "
        "The target's URLs come from --to/--to-owner or, so no password shows in the "
        "process list, from MOVE_TARGET_DATABASE_URL and MOVE_TARGET_DATABASE_OWNER_URL."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", metavar="SLUG")
        parser.add_argument(
            "--to",
            metavar="postgres://...",
            help="the target cell's DATABASE_URL (its application role)",
        )
        parser.add_argument(
            "--to-owner",
            metavar="postgres://...",
            help="the target cell's DATABASE_OWNER_URL (its schema owner); default: --to",
        )
        parser.add_argument("--to-name", default="", help="the target's name in messages")
        parser.add_argument(
            "--database-url",
            help="read this installation as this role (a superuser or BYPASSRLS role); "
            "default: its settings, as for backup",
        )
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--abort", action="store_true", help="undo a move not yet switched")
        action.add_argument(
            "--drop-source",
            action="store_true",
            help="after the switch: remove this installation's copy (schema and public "
            "rows; the shared stored objects stay)",
        )

    def handle(self, *args, organization, to, to_owner, to_name, database_url, abort,
               drop_source, **options):  # fmt: skip
        url = to or os.environ.get("MOVE_TARGET_DATABASE_URL", "")
        if not url:
            raise CommandError("Give the target's database: --to or MOVE_TARGET_DATABASE_URL.")
        owner_url = to_owner or os.environ.get("MOVE_TARGET_DATABASE_OWNER_URL", "")
        target = Cluster(url=url, owner_url=owner_url, name=to_name)
        try:
            if abort:
                for done in organization_move_abort(slug=organization, target=target):
                    self.stdout.write(done)
                return
            if drop_source:
                organization_source_drop(slug=organization, target=target)
                self.stdout.write(f"Removed this installation's copy of {organization}.")
                return
            source = Database.from_url(database_url) if database_url else None
            result = organization_move(slug=organization, target=target, source_database=source)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        for warning in result.warnings:
            self.stderr.write(f"Warning: {warning}")
        if not result.steps:
            self.stdout.write(f"{result.slug} was moved to {result.target} already.")
        else:
            self.stdout.write(
                f"Moved {result.slug} (schema {result.schema}) to {result.target}: "
                f"{', '.join(result.steps)}; {sum(result.rows.values())} rows in "
                f"{len(result.rows)} tables and {result.searches} searches match."
            )
        self.stdout.write(
            "Route its domains to the target cell now: " + (", ".join(result.domains) or "none")
        )
