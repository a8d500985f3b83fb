import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from opaa.backup import (
    BackupError,
    Database,
    backup_download,
    backup_restore,
    backup_verify,
)


class Command(BaseCommand):
    help = (
        "Restore a backup archive into an empty database and storage, after checking every "
        "checksum in its manifest (docs/operations.md). The archive is a file, or comes "
        "from S3 (--from). --verify-only checks and stops."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", nargs="?")
        parser.add_argument(
            "--from",
            dest="source",
            metavar="s3://bucket/prefix[/opaa-backup-....tar]",
            help="download the archive from S3: the one named, or the newest under the prefix",
        )
        parser.add_argument("--database-url", help="restore into this database (default: ours)")
        parser.add_argument(
            "--no-owner",
            action="store_true",
            help="own every restored object as the connecting role (a server without the "
            "original's roles)",
        )
        parser.add_argument("--verify-only", action="store_true")

    def handle(self, *args, archive, source, database_url, no_owner, verify_only, **options):
        if bool(archive) == bool(source):
            raise CommandError("Give either an archive file or --from s3://bucket/prefix.")
        if archive and not Path(archive).is_file():
            raise CommandError(f"No archive at {archive}.")
        try:
            database = Database.from_url(database_url) if database_url else None
            with tempfile.TemporaryDirectory(prefix="opaa-restore-") as work:
                path = (
                    backup_download(url=source, directory=Path(work)) if source else Path(archive)
                )
                if verify_only:
                    manifest = backup_verify(path)
                else:
                    manifest = backup_restore(
                        archive=path, database=database, keep_owners=not no_owner
                    )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        what = "Verified" if verify_only else "Restored"
        self.stdout.write(
            self.style.SUCCESS(
                f"{what} the backup of {manifest['created_at']} ({path.name}): "
                f"{len(manifest['organizations'])} organizations, "
                f"{len(manifest['objects'])} stored objects."
            )
        )
