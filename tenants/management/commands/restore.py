from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from opaa.backup import BackupError, Database, backup_restore, backup_verify


class Command(BaseCommand):
    help = (
        "Restore a backup archive into an empty database and storage, after checking every "
        "checksum in its manifest (docs/operations.md). --verify-only checks and stops."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive")
        parser.add_argument("--database-url", help="restore into this database (default: ours)")
        parser.add_argument(
            "--no-owner",
            action="store_true",
            help="own every restored object as the connecting role (a server without the "
            "original's roles)",
        )
        parser.add_argument("--verify-only", action="store_true")

    def handle(self, *args, archive, database_url, no_owner, verify_only, **options):
        path = Path(archive)
        if not path.is_file():
            raise CommandError(f"No archive at {path}.")
        database = Database.from_url(database_url) if database_url else None
        try:
            if verify_only:
                manifest = backup_verify(path)
            else:
                manifest = backup_restore(archive=path, database=database, keep_owners=not no_owner)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        what = "Verified" if verify_only else "Restored"
        self.stdout.write(
            self.style.SUCCESS(
                f"{what} the backup of {manifest['created_at']}: "
                f"{len(manifest['organizations'])} organizations, "
                f"{len(manifest['objects'])} stored objects."
            )
        )
