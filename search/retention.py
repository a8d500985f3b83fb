"""Retention of the query log: what an organization keeps, and for how long.

``AnswerSettings.retention_days`` (per organization; empty keeps everything) bounds
how long questions, answers, their feedback and conversations are kept. Beat runs
``retention_purge`` in every organization each night.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from search.models import AnswerSettings, Conversation, Question

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    questions: int = 0
    conversations: int = 0


def retention_purge(*, now: datetime | None = None) -> Purged:
    """Delete what is older than the organization's retention; returns the counts.

    A question (with its answer and feedback) goes when it was asked before the cutoff,
    also inside a conversation still in use; a conversation goes when its last activity
    is before the cutoff (taking its remaining questions with it). Idempotent: a second
    run finds nothing more to delete.
    """
    days = AnswerSettings.current().retention_days
    if not days:
        return Purged()
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        conversations, _ = Conversation.objects.filter(updated_at__lt=cutoff).delete()
        questions = Question.objects.filter(created_at__lt=cutoff)
        count = questions.count()
        questions.delete()
    logger.info("retention purge days=%s questions=%s", days, count)
    return Purged(questions=count, conversations=conversations)
