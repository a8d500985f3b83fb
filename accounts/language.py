"""The language a person reads the portal in: their own setting, else the browser's.

``LocaleMiddleware`` (early in ``MIDDLEWARE``) activates the browser's language from
Accept-Language; ``UserLanguageMiddleware``, right after authentication, replaces it
with the signed-in person's ``User.language`` when they chose one. An empty setting
means "as the browser", so a person who never chose keeps following their browser.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.models import User


class UserLanguageMiddleware:
    """Activates the signed-in person's chosen language for the rest of the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None else ""
        if language and user.is_authenticated:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


def user_language_set(*, user: User, language: str) -> None:
    """Saves the person's language; "" means "as the browser". Unknown codes are refused."""
    if language and language not in dict(settings.LANGUAGES):
        raise ValueError(f"unknown language {language!r}")
    user.language = language
    user.save(update_fields=["language"])


@login_required
@require_POST
def language_set(request):
    """The account menu's language switch: saves the choice and returns to the page."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        language = ""
    user_language_set(user=request.user, language=language)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    return HttpResponseRedirect(target)
