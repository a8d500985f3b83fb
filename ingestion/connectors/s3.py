"""S3 bucket (any S3-compatible store): the objects under one or more key prefixes.

Connector config: ``bucket``, ``endpoint_url`` (empty for AWS), ``region``,
``access_key_id``; secret: ``secret_access_key``. The change marker is the ETag, so an
unchanged object is skipped without being downloaded. S3 lists keys in ascending
order, and a resumed run starts listing after its checkpoint (``StartAfter``).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from functools import partial

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from ingestion.connectors.base import ConnectorError, Item, ItemError, SourceSpec, outbound_check

KIND = "s3"


def _client(spec: SourceSpec):
    config = spec.config
    return boto3.client(
        "s3",
        endpoint_url=config.get("endpoint_url") or None,
        region_name=config.get("region") or None,
        aws_access_key_id=config.get("access_key_id") or None,
        aws_secret_access_key=spec.secrets.get("secret_access_key") or None,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10),
    )


def _problem(exc: Exception) -> str:
    """A reason for people, never carrying credentials (botocore messages do not)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"S3 answered {error.get('Code', 'an error')}: {error.get('Message', '')}".strip()
    return f"S3 could not be reached ({type(exc).__name__})."


class S3Connector:
    KIND = KIND

    def validate(self, spec: SourceSpec) -> None:
        if not spec.config.get("bucket"):
            raise ConnectorError("The S3 connector names no bucket.")
        if spec.config.get("endpoint_url"):
            outbound_check(str(spec.config["endpoint_url"]))

    def items(self, spec: SourceSpec, *, after: str = "") -> Iterator[Item]:
        self.validate(spec)
        client = _client(spec)
        prefixes = sorted(set(spec.paths)) or [""]
        # Prefixes may overlap ("a/" and "a/b/"): merge the sorted listings, skip repeats.
        listings = [self._list(client, spec, prefix, after) for prefix in prefixes]
        last = None
        for item in heapq.merge(*listings, key=lambda item: item.external_id):
            if item.external_id == last:
                continue
            last = item.external_id
            yield item

    def _list(self, client, spec: SourceSpec, prefix: str, after: str) -> Iterator[Item]:
        bucket = spec.config["bucket"]
        kwargs = {"Bucket": bucket, "Prefix": prefix}
        if after > prefix:
            kwargs["StartAfter"] = after
        try:
            for page in client.get_paginator("list_objects_v2").paginate(**kwargs):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/") or not spec.wanted(key[len(prefix) :]):
                        continue
                    yield self._item(client, spec, bucket, obj)
        except (ClientError, BotoCoreError) as exc:
            raise ConnectorError(_problem(exc)) from exc

    def _item(self, client, spec: SourceSpec, bucket: str, obj: dict) -> Item:
        key = obj["Key"]
        parts = key.replace("\\", "/").split("/")
        refused = ""
        if any(part in {"..", "."} for part in parts) or any(ord(c) < 32 for c in key):
            refused = "The object key contains '..' or control characters; it was not read."
        return Item(
            external_id=key,
            name=parts[-1],
            version=f"{obj.get('ETag', '').strip(chr(34))}:{obj.get('Size', 0)}",
            size=obj.get("Size"),
            fetch=partial(_read, client, bucket, key),
            readers=spec.readers,
            refused=refused,
            metadata={"bucket": bucket, "key": key},
        )


def _read(client, bucket: str, key: str) -> bytes:
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        return body.read(settings.MAX_UPLOAD_BYTES + 1)
    except (ClientError, BotoCoreError) as exc:
        raise ItemError(_problem(exc)) from exc
