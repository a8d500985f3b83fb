"""``ApplicationError`` is answered the same way by the API and by the portal (infra.errors)."""

from __future__ import annotations

import json

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from infra.errors import ApplicationError, ApplicationErrorMiddleware
from opaa.api import exception_handler


def _refused() -> ApplicationError:
    return ApplicationError(
        "Not now.", status_code=429, payload={"code": "busy", "limit": 3}, retry_after=7
    )


def test_the_api_answers_its_status_and_body():
    response = exception_handler(_refused(), {})

    assert response.status_code == 429
    assert response.data == {"detail": "Not now.", "code": "busy", "limit": 3}
    assert response["Retry-After"] == "7"


def test_the_portal_answers_the_same_json_to_a_script():
    request = RequestFactory().get("/documents/", HTTP_ACCEPT="application/json")
    middleware = ApplicationErrorMiddleware(lambda request: None)

    response = middleware.process_exception(request, _refused())

    assert response.status_code == 429
    assert json.loads(response.content) == {"detail": "Not now.", "code": "busy", "limit": 3}
    assert response["Retry-After"] == "7"
    assert middleware.process_exception(request, ValueError("other")) is None


def test_a_plain_error_is_a_400_with_detail_only():
    response = exception_handler(ApplicationError("Bad input."), {})

    assert response.status_code == 400
    assert response.data == {"detail": "Bad input."}
    assert "Retry-After" not in response


def test_a_browser_gets_a_page_with_the_status_and_the_message(db):
    request = RequestFactory().get("/documents/", HTTP_ACCEPT="text/html")
    request.user = AnonymousUser()
    middleware = ApplicationErrorMiddleware(lambda request: None)

    response = middleware.process_exception(
        request, ApplicationError("That file is empty.", status_code=400)
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "That file is empty." in page
    assert "Error 400" in page
    assert "403" not in page  # not the "not allowed" page
