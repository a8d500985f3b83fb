import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from opaa.backup import (
    SCOPE_INSTALLATION,
    BackupError,
    Database,
    backup_download,
    backup_manifest,
    backup_restore,
    backup_verify,
)
from opaa.backup_organization import organization_record, organization_restore


class Command(BaseCommand):
    help = (
        "Restore a backup archive, after checking every checksum in its manifest "
        "(docs/operations.md): a whole installation's into an empty database and storage, "
        "or one organization (its own archive, or --organization SLUG out of a whole one) "
        "into this running installation. The archive is a file, or comes from S3 (--from). "
        "--verify-only checks and stops."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", nargs="?")
        parser.add_argument(
            "--from",
            dest="source",
            metavar="s3://bucket/prefix[/opaa-backup-....tar]",
            help="download the archive from S3: the one named, or the newest under the prefix "
            "(with --organization: the newest that holds that organization)",
        )
        parser.add_argument(
            "--organization",
            metavar="SLUG",
            help="restore only this organization into this installation, which must not "
            "have it (its slug, schema and domains free)",
        )
        parser.add_argument(
            "--database-url", help="restore a whole installation into this database"
        )
        parser.add_argument(
            "--no-owner",
            action="store_true",
            help="own every restored object as the connecting role (a server without the "
            "original's roles)",
        )
        parser.add_argument("--verify-only", action="store_true")

    def handle(
        self, *args, archive, source, organization, database_url, no_owner, verify_only, **options
    ):
        if bool(archive) == bool(source):
            raise CommandError("Give either an archive file or --from s3://bucket/prefix.")
        if archive and not Path(archive).is_file():
            raise CommandError(f"No archive at {archive}.")
        try:
            with tempfile.TemporaryDirectory(prefix="opaa-restore-") as work:
                path = (
                    backup_download(url=source, directory=Path(work), organization=organization)
                    if source
                    else Path(archive)
                )
                self._scope_restore(
                    path,
                    organization=organization,
                    database_url=database_url,
                    no_owner=no_owner,
                    verify_only=verify_only,
                )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc

    def _scope_restore(
        self,
        path: Path,
        *,
        organization: str | None,
        database_url: str | None,
        no_owner: bool,
        verify_only: bool,
    ) -> None:
        """Check only, or restore what the archive's scope and ``--organization`` ask for:
        a whole installation, or one organization (its own archive, or out of a whole one)."""
        manifest = backup_manifest(path)
        whole = manifest.get("scope", SCOPE_INSTALLATION) == SCOPE_INSTALLATION
        if verify_only:
            self._verify(path, organization=organization)
        elif whole and not organization:
            self._installation_restore(path, database_url=database_url, no_owner=no_owner)
        else:
            if database_url or no_owner:
                raise CommandError(
                    "One organization is restored into this installation: "
                    "--database-url and --no-owner apply to a whole installation."
                )
            self._organization_restore(path, organization=organization)

    def _verify(self, path: Path, *, organization: str | None) -> None:
        manifest = backup_verify(path)
        if organization:
            organization_record(manifest, organization)
        held = f"the organization {organization}" if organization else _held(manifest)
        self.stdout.write(
            self.style.SUCCESS(
                f"Verified the backup of {manifest['created_at']} ({path.name}): {held}, "
                f"{len(manifest['objects'])} stored objects."
            )
        )

    def _installation_restore(
        self, path: Path, *, database_url: str | None, no_owner: bool
    ) -> None:
        database = Database.from_url(database_url) if database_url else None
        manifest = backup_restore(archive=path, database=database, keep_owners=not no_owner)
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored the backup of {manifest['created_at']} ({path.name}): "
                f"{_held(manifest)}, {len(manifest['objects'])} stored objects."
            )
        )

    def _organization_restore(self, path: Path, *, organization: str | None) -> None:
        restored = organization_restore(archive=path, slug=organization)
        for warning in restored.warnings:
            self.stderr.write(self.style.WARNING(warning))
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored the organization {restored.slug} (schema {restored.schema}) from "
                f"the backup of {restored.backup_created_at} ({path.name}): "
                f"{restored.objects} stored objects; reached at "
                f"{', '.join(restored.domains) or 'no domain'}. Everyone signs in again."
            )
        )
        if restored.reindexed:
            self.stdout.write(
                "Documents the backup caught before they were indexed, queued for "
                f"indexing again: {restored.reindexed}."
            )


def _held(manifest: dict) -> str:
    organizations = manifest["organizations"]
    if manifest.get("scope", SCOPE_INSTALLATION) != SCOPE_INSTALLATION:
        return f"the organization {organizations[0]['slug']}"
    return f"{len(organizations)} organizations"
