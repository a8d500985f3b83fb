"""/healthz and /readyz, on an organization's domain and on the platform domain.

/readyz reports each dependency with a status (ok, degraded, down) and a latency; only
the required ones (database, Redis) take it to 503. The LLM endpoint is a real
OpenAI-protocol server on loopback, started, stopped and slowed down here.
"""

import socket
import time

import pytest
from django.core.cache import cache

from opaa import health
from opaa.health import HEARTBEAT_KEY, worker_heartbeat
from tests.fakes.openai_server import FakeOpenAIServer

ALL = {"database", "redis", "storage", "worker", "llm", "embedding"}


def test_healthz_answers_on_any_host(client, db):
    assert client.get("/healthz", HTTP_HOST="localhost").json() == {"status": "ok"}
    assert client.get("/healthz", HTTP_HOST="acme.localhost").status_code == 200


def test_readyz_reports_each_dependency(client, world, db, settings):
    settings.LLM_API_BASE = ""
    worker_heartbeat()  # what a worker does every 15 s when beat schedules it
    response = client.get("/readyz", HTTP_HOST="localhost")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == ALL
    for name, check in body["checks"].items():
        assert check["status"] == "ok", (name, check)
        assert check["latency_ms"] >= 0
        assert check["required"] is (name in {"database", "redis"})
    assert "extractive" in body["checks"]["llm"]["detail"]


def test_a_stale_worker_is_reported_without_taking_the_site_down(client, world, db, settings):
    settings.LLM_API_BASE = ""
    cache.set(HEARTBEAT_KEY, time.time() - 3600, timeout=None)
    response = client.get("/readyz", HTTP_HOST="acme.localhost")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["worker"]["status"] == "down"
    assert "ago" in body["checks"]["worker"]["detail"]
    assert body["checks"]["database"]["status"] == "ok"


def test_llm_down_is_degraded_and_back_up_is_ok(client, world, db, settings):
    worker_heartbeat()
    server = FakeOpenAIServer(api_key="sk-health-secret").start()
    settings.LLM_API_BASE = server.base_url
    settings.LLM_API_KEY = "sk-health-secret"
    try:
        up = client.get("/readyz", HTTP_HOST="localhost")
        assert up.status_code == 200
        assert up.json()["checks"]["llm"]["status"] == "ok"
        assert server.last_request.path == "/v1/models"
    finally:
        server.stop()

    down = client.get("/readyz", HTTP_HOST="localhost")
    assert down.status_code == 200  # the web tier stays in service: answers go extractive
    body = down.json()
    assert body["status"] == "degraded"
    assert body["checks"]["llm"]["status"] == "down"
    assert body["checks"]["llm"]["required"] is False
    assert "sk-health-secret" not in down.content.decode()

    with FakeOpenAIServer(api_key="sk-health-secret") as again:
        settings.LLM_API_BASE = again.base_url
        back = client.get("/readyz", HTTP_HOST="localhost").json()
    assert back["status"] == "ok"
    assert back["checks"]["llm"]["status"] == "ok"


def test_an_llm_refusing_the_key_is_degraded(client, world, db, settings):
    with FakeOpenAIServer(api_key="the-right-key") as server:
        settings.LLM_API_BASE = server.base_url
        settings.LLM_API_KEY = "a-wrong-key"
        check = client.get("/readyz?checks=llm", HTTP_HOST="localhost").json()["checks"]["llm"]
    assert check["status"] == "degraded"
    assert "401" in check["detail"]


def test_a_hanging_dependency_cannot_hang_the_probe(client, world, db, settings, monkeypatch):
    monkeypatch.setattr(health, "CHECK_TIMEOUT_S", 0.5)
    with FakeOpenAIServer() as server:
        server.hang_seconds = 10
        settings.LLM_API_BASE = server.base_url
        started = time.monotonic()
        response = client.get("/readyz?checks=database,llm", HTTP_HOST="localhost")
        elapsed = time.monotonic() - started
    assert elapsed < 2.5
    assert response.status_code == 200
    assert response.json()["checks"]["llm"]["status"] == "down"
    assert set(response.json()["checks"]) == {"database", "llm"}


def test_slow_storage_is_degraded(client, world, db, settings, monkeypatch):
    settings.LLM_API_BASE = ""
    worker_heartbeat()
    monkeypatch.setattr(health, "SLOW_MS", 50.0)
    real_save = health.default_storage.save

    def slow_save(name, content):
        time.sleep(0.2)  # an S3 endpoint taking its time
        return real_save(name, content)

    monkeypatch.setattr(health.default_storage, "save", slow_save)
    body = client.get("/readyz", HTTP_HOST="localhost").json()
    assert body["status"] == "degraded"
    assert body["checks"]["storage"]["status"] == "degraded"
    assert body["checks"]["storage"]["latency_ms"] >= 200
    assert "slow" in body["checks"]["storage"]["detail"]


def test_redis_down_makes_it_unavailable(client, world, db, settings):
    with socket.socket() as sock:  # a port nothing listens on: Redis is down
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"}
    }
    response = client.get("/readyz?checks=database,redis", HTTP_HOST="localhost")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["redis"]["status"] == "down"
    assert response.json()["checks"]["database"]["status"] == "ok"


@pytest.mark.parametrize("query", ["checks=nope", "checks=database,bogus"])
def test_unknown_checks_are_a_clear_400(client, db, query):
    response = client.get(f"/readyz?{query}", HTTP_HOST="localhost")
    assert response.status_code == 400
    assert "Unknown check" in response.json()["detail"]
