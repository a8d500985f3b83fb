"""/metrics: protected, and exposing the named series after an upload and a question."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from opaa.health import worker_heartbeat
from tests.fakes.openai_server import FakeOpenAIServer

TOKEN = "metrics-test-token"
POLICY = b"""# Travel policy

## Meals

The daily meal allowance for domestic trips is 45 EUR. Receipts are not needed for meals.
"""


def scrape(host: str = "10.1.2.3:8000") -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}, read as a scraper would."""
    with override_settings(METRICS_TOKEN=TOKEN):
        response = Client().get("/metrics", HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    assert key in after, f"{name}{labels} is not exposed"
    return after[key] - before.get(key, 0.0)


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"}],
)
def test_metrics_refuses_without_the_token(client, headers, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_HOST="acme.localhost", **headers)
    assert response.status_code == 401
    assert b"opaa_" not in response.content


def test_metrics_refuses_everyone_when_nothing_is_configured(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_metrics_allows_configured_networks(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.9.8.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1").status_code == 401


def test_metrics_expose_the_named_series(acme, alice_api, upload_indexed):
    before = scrape()
    upload_indexed(alice_api, "travel.md", POLICY)
    answer = alice_api.post("/api/v1/ask", {"question": "What is the meal allowance per day?"})
    assert answer.json()["mode"] == "extractive"
    with (
        FakeOpenAIServer(api_key="sk-test") as server,
        override_settings(LLM_API_BASE=server.base_url, LLM_API_KEY="sk-test"),
    ):
        assert alice_api.post("/api/v1/ask", {"question": "Meal allowance?"}).json()["mode"] in (
            "llm",
            "no_answer",
        )
    worker_heartbeat()
    after = scrape()

    assert delta(before, after, "opaa_documents_indexed_total", outcome="indexed") == 1
    assert delta(before, after, "opaa_document_index_duration_seconds_count") == 1
    assert delta(before, after, "opaa_questions_answered_total", mode="extractive") == 1
    assert delta(before, after, "opaa_retrieval_duration_seconds_count") == 2
    assert delta(before, after, "opaa_answer_duration_seconds_count") == 2
    assert delta(before, after, "opaa_llm_request_duration_seconds_count", outcome="ok") == 1
    assert delta(before, after, "opaa_llm_tokens_total", kind="prompt") > 0
    assert delta(before, after, "opaa_llm_tokens_total", kind="completion") > 0
    request = {"route": "api:ask", "method": "POST", "status": "2xx"}
    assert delta(before, after, "opaa_http_request_duration_seconds_count", **request) == 2
    assert (
        "opaa_http_request_duration_seconds_bucket",
        tuple(sorted({**request, "le": "2.0"}.items())),
    ) in after
    assert ("opaa_celery_queue_length", (("queue", "default"),)) in after
    assert ("opaa_celery_queue_length", (("queue", "ingest"),)) in after
    assert 0 <= after[("opaa_worker_heartbeat_age_seconds", ())] < 60
    # Routes are URL pattern names, never raw paths: bounded cardinality.
    routes = {dict(labels).get("route") for name, labels in after if "http_request" in name}
    assert not any(route and route.startswith("/") for route in routes)


def test_probes_answer_on_a_pod_ip(client, db):
    """Kubelets and Docker address the container by IP, a host no organization has."""
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").json() == {"status": "ok"}
    assert client.get("/readyz", HTTP_HOST="10.1.2.3:8000").status_code in (200, 503)


def test_readyz_can_be_limited_to_the_web_tiers_own_dependencies(client, db):
    """The web readiness probe asks only for database and Redis (docker/helm)."""
    from django.core.cache import cache

    from opaa.health import HEARTBEAT_KEY

    cache.delete(HEARTBEAT_KEY)
    response = client.get("/readyz?checks=database,redis", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "redis"}
    # Without the limit the missing worker shows, as "degraded": the site stays in service.
    full = client.get("/readyz", HTTP_HOST="10.1.2.3:8000")
    assert full.status_code == 200
    assert full.json()["status"] == "degraded"
    assert full.json()["checks"]["worker"]["status"] == "down"


def test_counts_of_several_processes_add_up(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, a scrape sees every process (gunicorn, prefork)."""
    import os
    import subprocess
    import sys

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR"}
    }
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    record = (
        "from infra import metrics;"
        "metrics.document_indexed_observe(outcome='indexed', seconds=1.0);"
        "metrics.http_request_observe(route='api:ask', method='POST', status_code=200, seconds=0.1)"
    )
    for _ in range(2):  # two worker processes, one after the other
        subprocess.run([sys.executable, "-c", record], env=env, check=True, timeout=60)
    scrape = (
        "from prometheus_client import generate_latest; from infra import metrics;"
        "print(generate_latest(metrics.registry_for_scrape()).decode())"
    )
    output = subprocess.run(
        [sys.executable, "-c", scrape],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(output)
        for sample in family.samples
    }
    assert samples[("opaa_documents_indexed_total", (("outcome", "indexed"),))] == 2
    key = (
        "opaa_http_request_duration_seconds_count",
        (("method", "POST"), ("route", "api:ask"), ("status", "2xx")),
    )
    assert samples[key] == 2


def test_the_worker_serves_its_own_counters():
    import socket
    import urllib.request

    from infra import metrics

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics.worker_metrics_server_start(port, addr="127.0.0.1")
    metrics.document_indexed_observe(outcome="failed", seconds=0.5)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        body = response.read().decode()
    assert 'opaa_documents_indexed_total{outcome="failed"}' in body
