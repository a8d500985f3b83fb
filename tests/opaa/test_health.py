"""/healthz and /readyz, on an organization's domain and on the platform domain."""

import time

from django.core.cache import cache

from opaa.health import HEARTBEAT_KEY, worker_heartbeat


def test_healthz_answers_on_any_host(client, db):
    assert client.get("/healthz", HTTP_HOST="localhost").json() == {"status": "ok"}
    assert client.get("/healthz", HTTP_HOST="acme.localhost").status_code == 200


def test_readyz_reports_each_dependency(client, world, db):
    worker_heartbeat()  # what a worker does every 15 s when beat schedules it
    response = client.get("/readyz", HTTP_HOST="localhost")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert set(checks) == {"database", "redis", "storage", "worker"}
    assert all(c["status"] == "ok" for c in checks.values())


def test_readyz_is_503_without_a_recent_worker(client, world, db, settings):
    cache.set(HEARTBEAT_KEY, time.time() - 3600, timeout=None)
    response = client.get("/readyz", HTTP_HOST="acme.localhost")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["worker"]["status"] == "error"
    assert "ago" in body["checks"]["worker"]["error"]
    assert body["checks"]["database"]["status"] == "ok"
