"""What Django's debug error page may show, and to whom (``DEBUG`` on: ``make run``).

With ``DEBUG`` on, Django answers an unhandled exception with its technical page:
the traceback with every frame's variables, the request's ``META`` (under the
development server that is the whole process environment, ``DATABASE_URL`` and
``DATABASE_OWNER_URL`` included) and the settings. ``make run`` serves a demo that
other people sign in to, so:

- ``DeveloperOnlyExceptionReporter`` gives the technical page only to a staff user
  (an organization's owner, a platform operator) whose request comes from loopback,
  i.e. the person running ``make run`` on their own machine. Everybody else gets the
  same plain "Server error" page production shows.
- ``SecretsHiddenFilter`` hides, even on that page, settings and ``META`` entries whose
  names look like connection strings (``…URL``, ``DSN``, ``DATABASE…``, ``BROKER…``)
  besides Django's own list (``KEY``, ``SECRET``, ``PASS``, ``TOKEN``…), and masks the
  password of any ``scheme://user:password@`` URL in a value or a frame's variable.

Error emails (``is_email``) are not gated: they go to the operators, not to a browser.

The plain pages are the product's own (``templates/404.html``, ``403.html``, ``500.html``,
issue 16): ``ProductNotFoundMiddleware`` gives everyone but that developer the product's
404 instead of Django's technical one, which lists every URL pattern of the site.
"""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

_PASSWORD_IN_URL = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@", re.IGNORECASE)

PLAIN_500_HTML = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Server error</title>"
    "</head><body><h1>Server error (500)</h1><p>Something went wrong on our side. The error "
    "has been logged.</p></body></html>"
)
PLAIN_500_TEXT = "Server error (500): something went wrong on our side. The error has been logged."


def _mask(value):
    if isinstance(value, str):
        return _PASSWORD_IN_URL.sub(
            rf"\g<1>{SafeExceptionReporterFilter.cleansed_substitute}@", value
        )
    return value


class SecretsHiddenFilter(SafeExceptionReporterFilter):
    """Django's filter, plus connection strings and passwords inside URLs (module doc)."""

    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|DSN|DATABASE|BROKER|OWNER",
        flags=re.IGNORECASE,
    )

    def cleanse_setting(self, key, value):
        return _mask(super().cleanse_setting(key, value))

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, _mask(value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]


def is_developer_request(request) -> bool:
    """A staff user's request from loopback: the person running the development server."""
    if request is None:
        return False
    try:
        if not ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback:
            return False
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_authenticated and user.is_staff)
    except Exception:
        # Deciding must never fail the error page (e.g. the session lookup fails too):
        # when in doubt, the plain page.
        return False


def _plain_500_html() -> str:
    """The product's 500 page (rendered without the request, as Django's own 500 view
    does), or the constant if even that fails."""
    try:
        from django.template import loader

        return loader.get_template("500.html").render()
    except Exception:
        return PLAIN_500_HTML


class DeveloperOnlyExceptionReporter(ExceptionReporter):
    """The technical error page for the developer only; the plain one for everyone else."""

    def _shown_to_browser_of_someone_else(self) -> bool:
        return not self.is_email and not is_developer_request(self.request)

    def get_traceback_html(self):
        if self._shown_to_browser_of_someone_else():
            return _plain_500_html()
        return super().get_traceback_html()

    def get_traceback_text(self):
        if self._shown_to_browser_of_someone_else():
            return PLAIN_500_TEXT
        return super().get_traceback_text()


# A phrase of Django's technical 404 page (django/views/templates/technical_404.html).
_TECHNICAL_404_MARK = b"DEBUG = True"


class ProductNotFoundMiddleware:
    """With ``DEBUG`` on, Django answers every 404 with its technical page (the URL
    patterns tried, the settings module); only the developer gets it (``is_developer_request``),
    everybody else the page production shows: the 404 handler's (JSON under ``/api/``).

    Sits inside the row-level security middleware so the page renders in the request's
    scope, like the handler does in production.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and settings.DEBUG
            and response.get("Content-Type", "").startswith("text/html")
            and not getattr(response, "streaming", False)
            and _TECHNICAL_404_MARK in response.content
            and not is_developer_request(request)
        ):
            from django.http import Http404
            from django.urls import get_resolver

            handler = get_resolver(getattr(request, "urlconf", None)).resolve_error_handler(404)
            return handler(request, Http404())
        return response
