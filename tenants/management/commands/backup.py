from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from opaa.backup import BackupError, Database, backup_create


class Command(BaseCommand):
    help = (
        "Back up the whole installation into one archive: a pg_dump of the database, every "
        "stored object under org/, and a manifest with checksums (docs/operations.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("destination", help="directory the archive is written to")
        parser.add_argument(
            "--database-url",
            help="dump as this role (needs to read every row: a superuser or BYPASSRLS role); "
            "default: the installation's database as its schema owner",
        )

    def handle(self, *args, destination, database_url, **options):
        database = Database.from_url(database_url) if database_url else None
        try:
            result = backup_create(destination=Path(destination), database=database)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {result.path}: {len(manifest['organizations'])} organizations, "
                f"{len(manifest['objects'])} stored objects, "
                f"database dump of {manifest['database']['size']} bytes."
            )
        )
