import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from opaa.backup import BackupError, Database, S3Location, backup_create, backup_upload


class Command(BaseCommand):
    help = (
        "Back up the whole installation, or one organization (--organization), into one "
        "archive: a pg_dump of the database (or of the organization's schema), the stored "
        "objects, and a manifest with checksums (docs/operations.md). The archive goes to "
        "a directory, to an S3 bucket (--to s3://bucket/prefix), or both."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "destination", nargs="?", help="directory the archive is written to (and kept in)"
        )
        parser.add_argument(
            "--to",
            metavar="s3://bucket/prefix",
            help="upload the archive to this S3 bucket and prefix (the S3_* settings' "
            "endpoint and credentials); without a directory, none is kept locally",
        )
        parser.add_argument(
            "--organization",
            metavar="SLUG",
            help="back up only this organization: its schema, its public rows (domains, "
            "plan, usage) and its stored objects",
        )
        parser.add_argument(
            "--database-url",
            help="dump as this role (needs to read every row: a superuser or BYPASSRLS role); "
            "default: the installation's database as its schema owner",
        )

    def handle(self, *args, destination, to, organization, database_url, **options):
        if not destination and not to:
            raise CommandError("Give a directory, --to s3://bucket/prefix, or both.")
        try:
            if to:
                S3Location.parse(to)  # a typo fails before the dump, not after
            database = Database.from_url(database_url) if database_url else None
            with tempfile.TemporaryDirectory(prefix="opaa-backup-") as work:
                result = backup_create(
                    destination=Path(destination) if destination else Path(work),
                    database=database,
                    organization=organization,
                )
                uploaded = backup_upload(archive=result.path, url=to) if to else None
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        where = ", ".join(filter(None, [str(result.path) if destination else "", uploaded]))
        what = (
            f"the organization {organization}"
            if organization
            else f"{len(manifest['organizations'])} organizations"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {where}: {what}, {len(manifest['objects'])} stored objects, "
                f"database dump of {manifest['database']['size']} bytes."
            )
        )
