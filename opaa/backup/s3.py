"""Backup archives in an S3 bucket: uploading one, finding the newest, downloading."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from opaa.backup.archive import ARCHIVE_NAME, ARCHIVE_PREFIX
from opaa.backup.database import BackupError

S3_SCHEME = "s3://"


@dataclass(frozen=True)
class S3Location:
    """``s3://bucket/prefix``: where archives are kept (``prefix`` may be empty), or, when
    the path ends in ``.tar``, one archive."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        if not url.startswith(S3_SCHEME):
            raise BackupError(f"Not an S3 location: {url!r}; write s3://bucket/prefix.")
        bucket, _, prefix = url[len(S3_SCHEME) :].partition("/")
        # Bucket names: 3-63 lowercase letters, digits, dots and hyphens.
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
            raise BackupError(f"Not a valid bucket name in {url!r}.")
        prefix = prefix.strip("/")
        if ".." in prefix.split("/"):
            raise BackupError(f"The prefix in {url!r} may not contain '..'.")
        return cls(bucket=bucket, prefix=prefix)

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def __str__(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}".rstrip("/")


def s3_client():
    """A boto3 S3 client with the installation's S3 settings (``S3_ENDPOINT_URL``,
    ``S3_REGION``, ``S3_ACCESS_KEY_ID``, ``S3_SECRET_ACCESS_KEY``) when originals are
    kept in S3; otherwise boto3's own chain (``AWS_*`` variables, an instance role)."""
    import boto3

    options = {}
    storage = settings.STORAGES.get("default", {})
    if storage.get("BACKEND") == "storages.backends.s3.S3Storage":
        configured = storage.get("OPTIONS", {})
        options = {
            "endpoint_url": configured.get("endpoint_url"),
            "region_name": configured.get("region_name"),
            "aws_access_key_id": configured.get("access_key"),
            "aws_secret_access_key": configured.get("secret_key"),
        }
    return boto3.client("s3", **{name: value for name, value in options.items() if value})


def _s3_failure(action: str, location: S3Location, exc: Exception) -> BackupError:
    # botocore's messages name the operation and the error code, never the credentials.
    from botocore.exceptions import ClientError

    # boto3's transfer errors wrap the ClientError that says what went wrong.
    while not isinstance(exc, ClientError) and isinstance(exc.__context__, Exception):
        exc = exc.__context__
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        detail = f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip(": ")
    else:
        detail = str(exc)
    return BackupError(f"Could not {action} {location}: {detail}")


def backup_upload(*, archive: Path, url: str, client=None) -> str:
    """Upload ``archive`` under ``url`` (``s3://bucket/prefix``); returns its ``s3://`` URL.

    A multipart upload streamed from disk; the stored size is checked afterwards.
    """
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    location = S3Location.parse(url)
    if location.prefix.endswith(".tar"):
        raise BackupError("--to takes a bucket and prefix; the archive's name is chosen here.")
    client = client or s3_client()
    key = location.key(archive.name)
    try:
        client.upload_file(str(archive), location.bucket, key)
        stored = client.head_object(Bucket=location.bucket, Key=key)["ContentLength"]
    except (Boto3Error, BotoCoreError, ClientError) as exc:
        raise _s3_failure("upload the backup to", location, exc) from exc
    if stored != archive.stat().st_size:
        raise BackupError(f"The upload to {location} is incomplete ({stored} bytes stored).")
    return f"{S3_SCHEME}{location.bucket}/{key}"


def backup_latest_key(*, location: S3Location, client, organization: str | None = None) -> str:
    """The newest archive directly under the prefix, by the UTC time in its name: of the
    whole installation, or, for ``organization``, that organization's own archives and
    the whole installation's (each holds it)."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    prefix = location.key("")
    keys = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=prefix + ARCHIVE_PREFIX
        ):
            keys += [item["Key"] for item in page.get("Contents", [])]
    except (Boto3Error, BotoCoreError, ClientError) as exc:
        raise _s3_failure("list the backups in", location, exc) from exc
    archives = {}
    for key in keys:
        named = ARCHIVE_NAME.fullmatch(key[len(prefix) :])
        if named and named["slug"] in {None, organization}:
            archives[key] = named["time"]
    if not archives:
        which = f" holding the organization {organization!r}" if organization else ""
        raise BackupError(f"No backup archive{which} under {location}.")
    return max(archives, key=lambda key: (archives[key], key))


def backup_download(
    *, url: str, directory: Path, client=None, organization: str | None = None
) -> Path:
    """Download the archive ``url`` names (``s3://bucket/prefix/opaa-backup-....tar``), or
    the newest one under ``s3://bucket/prefix`` (holding ``organization`` when given),
    into ``directory``; returns its path."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    location = S3Location.parse(url)
    client = client or s3_client()
    if location.prefix.endswith(".tar"):
        key = location.prefix
    else:
        key = backup_latest_key(location=location, client=client, organization=organization)
    target = directory / Path(key).name
    try:
        client.download_file(location.bucket, key, str(target))
    except (Boto3Error, BotoCoreError, ClientError) as exc:
        raise _s3_failure(f"download {key} from", location, exc) from exc
    return target
