"""Redis unreachable: requests that need it answer 503 with Retry-After, never a 500.

The cache is pointed at a loopback port where nothing listens (a real connection
refused); the fault suite (tests/faults/test_redis_restart.py) stops the real server.
"""

from __future__ import annotations

import pytest
from django.core.cache import caches

from tests.conftest import free_port


@pytest.fixture
def redis_refusing(settings):
    port = free_port()
    location = f"redis://127.0.0.1:{port}/0"
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": location,
            "OPTIONS": {
                **settings.CACHES["default"].get("OPTIONS", {}),
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }
    yield location
    caches["default"].close()


def test_a_question_with_redis_down_is_a_503_with_retry_after(acme, alice_api, redis_refusing):
    response = alice_api.post("/api/v1/ask", {"question": "Where do visitors park?"})
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "10"
    assert "Redis" in response.json()["detail"]
    assert response.json()["code"] == "redis_unavailable"


def test_the_portal_shows_a_page_with_redis_down(acme, alice_portal, redis_refusing):
    response = alice_portal.post(
        "/ask/", {"question": "Where do visitors park?"}, HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    page = response.content.decode()
    assert "Temporarily unavailable" in page
    assert "Traceback" not in page
