"""Audit log exports: JSON lines and CSV, streamed row by row."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from django.db import connection
from django.http import StreamingHttpResponse
from django.utils import timezone
from rest_framework.renderers import BaseRenderer

from accounts.models import AuditEvent

FIELDS = [
    "id",
    "created_at",
    "action",
    "actor_user_id",
    "actor_email",
    "actor_token_id",
    "target_type",
    "target_id",
    "ip",
    "user_agent",
    "organization",
    "extra",
]
CONTENT_TYPES = {"jsonl": "application/jsonl", "csv": "text/csv"}
EXPORT_BATCH = 2000


def event_row(event: AuditEvent) -> dict:
    return {
        "id": event.pk,
        "created_at": event.created_at.isoformat(),
        "action": event.action,
        "actor_user_id": event.actor_user_id,
        "actor_email": event.actor_email,
        "actor_token_id": event.actor_token_id,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "organization": event.organization,
        "extra": event.extra,
    }


def _cell(value) -> str:
    if value is None:
        return ""
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
    # A cell starting with = + - @ would run as a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def jsonl_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    for event in events:
        yield json.dumps(event_row(event), sort_keys=True) + "\n"


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    writer.writerow(FIELDS)
    yield flush()
    for event in events:
        row = event_row(event)
        writer.writerow([_cell(row[name]) for name in FIELDS])
        yield flush()


def export_response(events, *, fmt: str) -> StreamingHttpResponse:
    """Every event of ``events`` (a queryset, read in batches) as a download."""
    lines = jsonl_lines if fmt == "jsonl" else csv_lines
    response = StreamingHttpResponse(
        lines(events.iterator(chunk_size=EXPORT_BATCH)),
        content_type=f"{CONTENT_TYPES[fmt]}; charset=utf-8",
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = (
        f'attachment; filename="audit-{connection.schema_name}-{stamp}.{fmt}"'
    )
    response["Cache-Control"] = "no-store"
    return response


class _ExportRenderer(BaseRenderer):
    """Lets ``?format=jsonl|csv`` be negotiated; the view streams the body itself.

    Only errors (a dict, e.g. 401) reach ``render``: they are sent as JSON.
    """

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode() if data is not None else b""


class JSONLinesRenderer(_ExportRenderer):
    media_type = CONTENT_TYPES["jsonl"]
    format = "jsonl"


class CSVRenderer(_ExportRenderer):
    media_type = CONTENT_TYPES["csv"]
    format = "csv"
