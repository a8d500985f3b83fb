"""docker/monitoring: alert rules and the Grafana dashboard parse and use real series.

Every PromQL expression is parsed by promql-parser (a port of Prometheus' parser);
every series it reads is one OPAA exposes (read from ``infra.metrics``) or one of the
named exporters'.
"""

from __future__ import annotations

import json
from pathlib import Path

import promql_parser
import pytest
import yaml
from prometheus_client import Counter, Histogram

from infra import metrics

MONITORING = Path(__file__).resolve().parents[2] / "docker" / "monitoring"
# Series of node-exporter and the kubelet that the disk alerts read.
EXTERNAL = {
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "kubelet_volume_stats_used_bytes",
    "kubelet_volume_stats_capacity_bytes",
}
# Gauges computed at scrape time by metrics._LiveStateCollector.
LIVE = {"opaa_celery_queue_length", "opaa_worker_heartbeat_age_seconds"}


def opaa_series() -> set[str]:
    names = set(LIVE)
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            names.add(f"{value._name}_total")
        elif isinstance(value, Histogram):
            names |= {f"{value._name}_{suffix}" for suffix in ("bucket", "count", "sum")}
    return names


def family(series: str) -> str:
    """A histogram's series share one family: ``x_bucket``, ``x_count``, ``x_sum`` -> ``x``."""
    for suffix in ("_bucket", "_count", "_sum"):
        if series.endswith(suffix):
            return series.removesuffix(suffix)
    return series


def series_read(expr: str) -> list[str]:
    parsed = promql_parser.parse(expr)
    found: list[str] = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node.name)

    promql_parser.walk(parsed, visit)
    return found


def alert_rules() -> list[dict]:
    document = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return [
        target["expr"].replace("$__rate_interval", "5m")
        for panel in dashboard["panels"]
        for target in panel["targets"]
    ]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_rules_parse_and_read_known_series(rule):
    assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
    assert rule["labels"]["severity"] in {"page", "ticket"}
    assert rule["annotations"]["summary"]
    unknown = set(series_read(rule["expr"])) - opaa_series() - EXTERNAL
    assert not unknown, unknown


def test_the_required_alerts_exist():
    exprs = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    assert "> 0.01" in exprs["OpaaApiErrorRateHigh"]  # API error rate > 1%
    assert "histogram_quantile(0.95" in exprs["OpaaLatencyP95High"]  # P95 > 2 s
    assert ") > 2" in exprs["OpaaLatencyP95High"]
    assert ">= 3" in exprs["OpaaSyncsFailing"]  # 3 failed syncs in a row
    assert "> 0.80" in exprs["OpaaDiskAlmostFull"]  # disk > 80%


def test_dashboard_queries_parse_and_read_known_series():
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    read = set()
    for expr in exprs:
        read |= set(series_read(expr))
    assert not read - opaa_series()
    # Every OPAA metric is on the dashboard somewhere.
    missing = {family(name) for name in opaa_series()} - {family(name) for name in read}
    assert not missing, missing


def test_a_broken_expression_is_caught():
    with pytest.raises(ValueError, match="parenthesis"):
        promql_parser.parse("sum(rate(opaa_http_request_duration_seconds_count[5m])")
