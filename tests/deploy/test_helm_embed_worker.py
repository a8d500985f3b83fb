"""docker/helm/opaa with embedding workers of their own (``embedWorker.enabled``)."""

from __future__ import annotations

import kubernetes_validate
import pytest

from tests.deploy.test_helm import KUBERNETES_VERSIONS, VALUES, by_kind, container_env, render


@pytest.fixture(scope="module", params=sorted(VALUES))
def manifests(request) -> list[dict]:
    values = dict(VALUES[request.param] or {})
    values["embedWorker"] = {"enabled": True, "autoscaling": {"enabled": True}}
    return render(values, is_upgrade=True)


def test_an_embedding_deployment_that_consumes_embed_only(manifests):
    deployments = by_kind(manifests, "Deployment")
    assert {"opaa-web", "opaa-worker", "opaa-beat", "opaa-embed-worker"} == set(deployments)
    pod = deployments["opaa-embed-worker"]["spec"]["template"]["spec"]
    assert "--queues=embed" in pod["containers"][0]["args"]
    # It creates no schema: no owner's URL.
    assert "DATABASE_OWNER_URL" not in container_env(manifests, "Deployment", "opaa-embed-worker")
    # And the ingest workers leave the embed queue to it.
    worker = container_env(manifests, "Deployment", "opaa-worker")
    assert worker["WORKER_EMBED_WITH_INGEST"]["value"] == "false"
    autoscalers = by_kind(manifests, "HorizontalPodAutoscaler")
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in autoscalers.values()}
    assert "opaa-embed-worker" in targets


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_its_manifests_match_the_kubernetes_schemas(manifests, version):
    for document in manifests:
        kubernetes_validate.validate(document, version, strict=True)


def test_off_by_default():
    deployments = by_kind(render(None), "Deployment")
    assert "opaa-embed-worker" not in deployments
    worker = container_env(render(None), "Deployment", "opaa-worker")
    assert "WORKER_EMBED_WITH_INGEST" not in worker
