"""What erasing a document, a workspace's content or a person removes from the query log
and cache.

An answer is made of its cited passages: an extractive answer *is* their text, and a
written one paraphrases them. So when a document is erased, every answer that cited it
is replaced by a notice (the question, asked by a person, stays), its citations of the
document go, and so does feedback flagging those citations. Cached answers of the
workspace are deleted from Redis outright, not merely made unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection, transaction

from search.models import Conversation, Question, SourceFeedback

ERASED_ANSWER = "This answer cited a document that has since been deleted, so it was removed."


def questions_of_user_delete(*, user_id: int) -> None:
    """Delete everything a person asked: their questions (with the answers and the
    feedback on them) and their conversations. Runs before their account is deleted,
    which would otherwise leave the questions behind with no asker."""
    Question.objects.filter(asked_by_id=user_id).delete()
    Conversation.objects.filter(owner_id=user_id).delete()


def answers_cache_delete(*, workspace_id: int | None = None, schema: str | None = None) -> None:
    """Delete cached answers of a workspace (or of the whole organization) once committed."""
    schema = schema or connection.schema_name
    scope = f"{workspace_id}:" if workspace_id is not None else ""
    pattern = f"answer:{schema}:{scope}*"
    transaction.on_commit(lambda: cache.delete_pattern(pattern))


def answers_citing_erase(*, document_ids: list[int]) -> int:
    """Replace answers that cited any of ``document_ids``; returns how many were changed."""
    if not document_ids:
        return 0
    erased = set(document_ids)
    changed = 0
    for document_id in document_ids:
        citing = Question.objects.filter(citations__contains=[{"document_id": document_id}])
        for question in citing.only("pk", "citations"):
            question.answer = ERASED_ANSWER
            question.citations = [
                c for c in question.citations if c.get("document_id") not in erased
            ]
            question.save(update_fields=["answer", "citations"])
            changed += 1
    SourceFeedback.objects.filter(document_id__in=document_ids).delete()
    return changed


@dataclass(frozen=True)
class AnswersErasure:
    """Search's part of erasing documents (``ingestion.erasure.DocumentsErasure``),
    registered by ``SearchConfig.ready()``."""

    def before_delete(self, *, document_ids: list[int]) -> None:
        answers_citing_erase(document_ids=document_ids)

    def after_delete(self, *, workspace_id: int) -> None:
        answers_cache_delete(workspace_id=workspace_id)
