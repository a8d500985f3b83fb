"""Celery tasks of the chat app: thin wrappers around ``chat.handling``. They run in the
organization of the request that enqueued them (``OrganizationTask``), on the default
queue."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError

from chat import handling
from chat.adapters.base import Incoming, PlatformError, PlatformRateLimited
from chat.models import ChatAnswer
from chat.services import adapter_for
from chat.uploads import upload_notify
from infra.celery import app
from workspaces.rls.tasks import OrganizationTask

# How often and how long the bot waits for an uploaded document to be indexed: every
# 5 s for 15 minutes (the indexing time limit is shorter).
UPLOAD_WATCH_EVERY_S = 5
UPLOAD_WATCH_TIMES = 180
# A rate-limited answer is tried again after the platform's Retry-After, this often.
DELIVERY_RETRIES = 20


@app.task(
    base=OrganizationTask,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def chat_event_process(platform_id: int, incoming: dict) -> None:
    """Handle one incoming chat event (a question, a command, feedback, an upload).

    Run twice (a redelivered message), an answer already begun is resumed, not asked
    again (``ChatAnswer`` is keyed by the event id); feedback is set again to the same
    value; an upload is found as a duplicate. A rate-limited answer is handed to
    ``chat_answer_deliver`` for after the platform's Retry-After.
    """
    try:
        uploads = handling.event_handle(
            platform_id=platform_id, incoming=Incoming.from_dict(incoming)
        )
    except handling.DeliveryPostponed as postponed:
        chat_answer_deliver.apply_async((postponed.answer_id,), countdown=postponed.retry_after)
        return
    for upload_id in uploads:
        chat_upload_watch.apply_async((upload_id,), countdown=UPLOAD_WATCH_EVERY_S)


@app.task(
    base=OrganizationTask,
    bind=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=DELIVERY_RETRIES,
)
def chat_answer_deliver(self, answer_id: int) -> None:
    """Post what is left of an answer; on another 429, again after its Retry-After.
    Running twice posts nothing twice: the parts already posted are counted."""
    answer = ChatAnswer.objects.select_related("platform").filter(pk=answer_id).first()
    if answer is None or answer.delivered_at is not None:
        return
    try:
        handling.answer_deliver(answer=answer, adapter=adapter_for(answer.platform))
    except handling.DeliveryPostponed as postponed:
        raise self.retry(countdown=postponed.retry_after) from postponed


@app.task(
    base=OrganizationTask,
    bind=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=UPLOAD_WATCH_TIMES,
)
def chat_upload_watch(self, upload_id: int) -> None:
    """Reply in the upload's thread once its document is indexed or failed; until then,
    look again in a few seconds. Replies once however often it runs."""
    try:
        done = upload_notify(upload_id=upload_id)
    except PlatformRateLimited as exc:
        raise self.retry(countdown=exc.retry_after) from exc
    except PlatformError:
        return  # the platform refuses the reply (bot removed from the channel)
    if not done:
        raise self.retry(countdown=UPLOAD_WATCH_EVERY_S)


# The polled bots' tasks (Matrix' /sync, Mattermost's direct messages) live in their own
# modules; imported so the worker has them.
import chat.matrix_sync  # noqa: E402
import chat.mattermost_poll  # noqa: E402, F401
