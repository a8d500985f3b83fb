"""docker/helm/opaa with workers scaled on their queues' length by KEDA
(``queueAutoscaling``): ScaledObjects on the broker's Redis lists instead of the CPU
HorizontalPodAutoscalers of the workers."""

from __future__ import annotations

import helm_python as helm
import kubernetes_validate
import pytest

from tests.deploy.test_helm import CHART, KUBERNETES_VERSIONS, VALUES, WARNING, by_kind, render

KEDA = "keda.sh/v1alpha1"
# The fields a KEDA 2.x ScaledObject and a redis trigger know (keda.sh/docs, "Scaling
# Deployments", "Redis Lists"): anything else would be rejected by its CRD.
SCALED_OBJECT_SPEC = {
    "scaleTargetRef", "pollingInterval", "cooldownPeriod", "idleReplicaCount",
    "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers",
}  # fmt: skip
REDIS_METADATA = {
    "address", "host", "port", "listName", "listLength", "activationListLength",
    "databaseIndex", "enableTLS", "unsafeSsl", "usernameFromEnv", "passwordFromEnv",
    "addressFromEnv", "hostFromEnv", "portFromEnv",
}  # fmt: skip
ON = {"enabled": True, "redis": {"address": "redis.opaa.svc:6379"}}


def _values(name: str, **extra) -> dict:
    values = dict(VALUES[name] or {})
    values["queueAutoscaling"] = {**ON, **extra.pop("queueAutoscaling", {})}
    return values | extra


@pytest.fixture(scope="module", params=sorted(VALUES))
def manifests(request) -> list[dict]:
    return render(_values(request.param), is_upgrade=True)


def _triggers(scaled: dict) -> dict[str, dict]:
    return {t["metadata"]["listName"]: t for t in scaled["spec"]["triggers"]}


def test_workers_scale_on_their_queues_instead_of_cpu(manifests):
    scaled = by_kind(manifests, "ScaledObject")
    assert set(scaled) == {"opaa-worker"}
    worker = scaled["opaa-worker"]
    assert worker["apiVersion"] == KEDA
    assert worker["spec"]["scaleTargetRef"] == {"name": "opaa-worker"}
    assert (worker["spec"]["minReplicaCount"], worker["spec"]["maxReplicaCount"]) == (1, 8)
    # Without embedding workers of its own, the worker makes the vectors too.
    assert set(_triggers(worker)) == {"ingest", "fetch", "embed"}
    for trigger in worker["spec"]["triggers"]:
        assert trigger["type"] == "redis"
        assert trigger["metadata"]["address"] == "redis.opaa.svc:6379"
        assert trigger["metadata"]["listLength"] == "10"
        assert "authenticationRef" not in trigger
    # KEDA's own HPA takes the worker: the chart's CPU one is gone, web keeps its own,
    # and the worker deployment leaves its replica count to the autoscaler.
    autoscalers = by_kind(manifests, "HorizontalPodAutoscaler").values()
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in autoscalers}
    assert targets == {"opaa-web"}
    assert "replicas" not in by_kind(manifests, "Deployment")["opaa-worker"]["spec"]


def test_the_scaled_objects_hold_only_what_keda_knows(manifests):
    for scaled in by_kind(manifests, "ScaledObject").values():
        assert set(scaled["spec"]) <= SCALED_OBJECT_SPEC
        for trigger in scaled["spec"]["triggers"]:
            assert set(trigger["metadata"]) <= REDIS_METADATA
            # KEDA's trigger metadata is a map of strings.
            assert all(isinstance(v, str) for v in trigger["metadata"].values()), trigger


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_other_manifests_match_the_kubernetes_schemas(manifests, version):
    for document in manifests:
        if document["apiVersion"] != KEDA:
            kubernetes_validate.validate(document, version, strict=True)


def test_embedding_workers_scale_on_the_embed_queue_with_the_brokers_password():
    values = _values(
        "production",
        embedWorker={"enabled": True, "autoscaling": {"enabled": True}},
        queueAutoscaling={"redis": {**ON["redis"], "passwordSecret": "opaa-redis-password"}},
    )
    manifests = render(values, is_upgrade=True)
    scaled = by_kind(manifests, "ScaledObject")
    assert set(_triggers(scaled["opaa-worker"])) == {"ingest", "fetch"}
    embed = scaled["opaa-embed-worker"]
    assert set(_triggers(embed)) == {"embed"}
    assert _triggers(embed)["embed"]["metadata"]["listLength"] == "2"
    assert "replicas" not in by_kind(manifests, "Deployment")["opaa-embed-worker"]["spec"]
    assert "HorizontalPodAutoscaler" not in {
        d["kind"] for d in manifests if d["metadata"]["name"] == "opaa-embed-worker"
    }
    [auth] = by_kind(manifests, "TriggerAuthentication").values()
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "password", "name": "opaa-redis-password", "key": "REDIS_PASSWORD"}
    ]
    for trigger in [*scaled["opaa-worker"]["spec"]["triggers"], *embed["spec"]["triggers"]]:
        assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}


def test_lint_passes_strictly_with_it_on():
    report = helm.lint(CHART, _values("production"), strict=True, namespace="opaa")
    assert not report["errors"], report
    assert not [m for m in report["messages"] if m["severity"] >= WARNING], report


def test_off_by_default_and_refused_without_the_brokers_address():
    assert not by_kind(render(None), "ScaledObject")
    with pytest.raises(Exception, match=r"queueAutoscaling\.redis\.address"):
        render({"queueAutoscaling": {"enabled": True}})
