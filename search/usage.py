"""Search's counts for the organization's usage (``tenants.usage``): questions asked and
the LLM tokens they used in a window of time. Registered in ``SearchConfig.ready()``."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Sum

from search.models import Question
from tenants.usage import Activity
from workspaces.rls import organization_scope


def activity_of(*, start: datetime, end: datetime) -> dict[Activity, int]:
    """Questions asked in ``[start, end)`` and their prompt + completion tokens."""
    with organization_scope():
        totals = Question.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
            count=Count("id"), prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens")
        )
    return {
        "questions": totals["count"] or 0,
        "llm_tokens": (totals["prompt"] or 0) + (totals["completion"] or 0),
    }
