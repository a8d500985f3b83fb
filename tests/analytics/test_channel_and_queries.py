"""The channel a question came by is recorded; the figures take a fixed number of
queries however long the history."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.scopes import Scope
from search.models import Question
from tests.analytics.conftest import ask
from tests.analytics.test_access import PERIOD
from tests.conftest import api_client, portal_client, token_client


def test_a_token_question_is_api_and_a_signed_in_one_portal(world, acme, make_token, alice_api):
    secret = make_token(world.acme, "alice@acme.example", scopes=[Scope.ASK])
    by_token = token_client(world.acme, secret).post(
        "/api/v1/ask", {"workspace": "general", "question": "Where is the fjord?"}, format="json"
    )
    assert by_token.status_code == 200, by_token.content
    portal = portal_client(world.acme, "alice@acme.example")
    assert (
        portal.post("/ask/?workspace=general", {"question": "Where is the lake?"}).status_code < 400
    )
    channels = dict(Question.objects.values_list("text", "channel"))
    assert channels == {"Where is the fjord?": "api", "Where is the lake?": "portal"}


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, {"workspace": "general", **PERIOD})
    assert response.status_code == 200, response.content
    return len(captured)


def test_the_series_and_documents_take_as_many_queries_for_more_history(history, world):
    # Signed in, not by token: a token's use is recorded now and then (last use, audit).
    client = api_client(world.acme, "ana@acme.example")
    paths = ("/api/v1/analytics/series", "/api/v1/analytics/documents")
    before = {p: _queries(client, p) for p in paths}
    for day in range(1, 8):
        for hour in range(10, 14):
            ask(
                history.general,
                history.questions["q1"].asked_by,
                f"2026-03-0{day}T{hour}:00",
                ms=10 * hour,
            )
    after = {p: _queries(client, p) for p in before}
    assert after == before
    dashboard = portal_client(world.acme, "ana@acme.example")
    assert _queries(dashboard, "/analytics/") == _queries(dashboard, "/analytics/")
