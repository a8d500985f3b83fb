"""One application error: a service refuses something, and every caller answers it the same way.

A service raises ``ApplicationError`` (or a subclass: an upload refused, a plan limit
reached) with the HTTP status that fits, a message a person can read and, optionally,
more fields for a client. It is mapped to a response in two places only:

- the API: ``opaa.api.exception_handler`` answers ``{"detail": message, **payload}``
  with ``status_code`` (and ``Retry-After`` when the error says when to retry);
- the portal: ``ApplicationErrorMiddleware`` answers the same JSON to the portal's
  scripts and renders ``template_name`` for a browser.

The body's keys are the error's own: a subclass whose clients read more fields puts
them in ``payload``, and nothing renames them.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render


class ApplicationError(Exception):
    """A request refused by a rule of the application, with the HTTP status to answer."""

    status_code: int = 400
    # The portal's page for it (status, message); a subclass with its own page names it.
    template_name: str = "error.html"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        payload: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.payload = payload
        self._retry_after = retry_after

    @property
    def retry_after(self) -> int | None:
        """Seconds after which the same request may succeed (sent as ``Retry-After``)."""
        return self._retry_after

    def body(self) -> dict[str, Any]:
        """The JSON answer: ``detail`` is the message; the payload adds its own keys."""
        return {"detail": self.message, **(self.payload or {})}

    def page_context(self) -> dict[str, Any]:
        """The context ``template_name`` is rendered with for a browser."""
        return {"exception": self.message, "detail": self.message, "status": self.status_code}


def _wants_json(request) -> bool:
    # A page the browser navigates to asks for HTML; the portal's scripts (fetch, e.g.
    # the streamed answer) do not, and read ``detail`` from JSON.
    return request.path.startswith("/api/") or "text/html" not in request.headers.get("Accept", "")


def application_error_response(request, error: ApplicationError) -> HttpResponse:
    """The portal's answer to ``error``: JSON for the API and scripts, a page for a browser."""
    response: HttpResponse
    if _wants_json(request):
        response = JsonResponse(error.body(), status=error.status_code)
    else:
        response = render(
            request, error.template_name, error.page_context(), status=error.status_code
        )
    if error.retry_after:
        response["Retry-After"] = str(error.retry_after)
    return response


class ApplicationErrorMiddleware:
    """Answer an ``ApplicationError`` a portal view let through (the API answers its own
    in ``opaa.api.exception_handler``, before any middleware sees it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ApplicationError):
            return None
        return application_error_response(request, exception)
