"""👍/👎 on an answer (a reaction or a button) as the asker's OPAA feedback."""

from __future__ import annotations

from django.http import Http404

from chat.context import Context
from chat.models import ChatAnswer, ChatIdentity
from search import conversations
from search.selectors import question_for_feedback


def feedback_handle(context: Context) -> None:
    """👍/👎 (a reaction or a button) on an answer: the member's feedback on it. Anyone
    else's (unlinked, or not allowed to rate it) is ignored without a reply."""
    incoming = context.incoming
    answers = ChatAnswer.objects.filter(platform=context.platform, question__isnull=False)
    if incoming.answer_id is not None:
        answer = answers.filter(pk=incoming.answer_id).first()
    else:
        answer = answers.filter(
            channel_id=incoming.channel_id, message_ids__contains=[incoming.target_message_id]
        ).first()
    identity = (
        ChatIdentity.objects.filter(
            platform=context.platform, external_id=incoming.user_id, user__is_active=True
        )
        .select_related("user")
        .first()
    )
    if answer is None or identity is None:
        return
    try:
        question = question_for_feedback(identity.user, answer.question_id)
    except Http404:
        return
    conversations.feedback_submit(
        user=identity.user, question=question, helpful=bool(incoming.helpful)
    )
