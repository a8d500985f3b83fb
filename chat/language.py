"""The language the bot writes its own texts in (notices, help, labels; never the
answer, which follows the documents): the linked person's ``User.language`` when they
chose one, else the installation's ``settings.LANGUAGE_CODE``. A chat user with no
linked OPAA account (who gets the "link your account" message) reads the
installation's language. ``chat.handling`` activates it for the whole handling of an
event, so every string marked with gettext there is covered."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from chat.models import ChatIdentity, ChatPlatform
from chat.rendering import HELP, THINKING


def language_or_default(language: str) -> str:
    """``language`` when it is one of ``settings.LANGUAGES``, else the installation's."""
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def user_language(user) -> str:
    """``user``'s chosen language, else the installation's (``user`` may be None)."""
    return language_or_default(getattr(user, "language", "") if user is not None else "")


def chat_user_language(platform: ChatPlatform, external_id: str) -> str:
    """The language of the chat user ``external_id``: their linked, active OPAA
    account's, else the installation's."""
    language = (
        ChatIdentity.objects.filter(
            platform=platform,
            external_id=external_id,
            user__isnull=False,
            user__is_active=True,
        )
        .values_list("user__language", flat=True)
        .first()
    )
    return language_or_default(language or "")


def command_replies(platform: ChatPlatform, external_id: str) -> tuple[str, str]:
    """A slash command's immediate replies, help and "thinking", in the language of the
    chat user ``external_id`` (answered before the event is handled)."""
    with translation.override(chat_user_language(platform, external_id)):
        return str(HELP), str(THINKING)
