"""docker/helm/opaa: linted and rendered by Helm's own Go SDK, manifests schema-checked.

helm-python-sdk carries Helm v4's Go SDK in its wheel (no helm binary, no cluster):
``helm lint`` and ``helm template`` run here as they would on an operator's machine.
Every rendered manifest is validated, unknown fields rejected, against the Kubernetes
API schemas shipped by kubernetes-validate, for the oldest Kubernetes the chart
supports and the newest the package knows.
"""

from __future__ import annotations

from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "docker" / "helm" / "opaa"
VALUES = {
    "default": None,
    "production": yaml.safe_load((CHART / "values-production.yaml").read_text()),
}
KUBERNETES_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())
# helm's lint severities: 1 info, 2 warning, 4 error.
WARNING = 2


def render(values: dict | None, **options) -> list[dict]:
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values, name="opaa", namespace="opaa", **options)
    documents = []
    for name, text in sorted(manifests.items()):
        if name.endswith(".yaml"):
            documents += [doc for doc in yaml.safe_load_all(text) if doc]
    return documents


@pytest.fixture(scope="module", params=sorted(VALUES))
def manifests(request) -> list[dict]:
    return render(VALUES[request.param], is_upgrade=True)


def by_kind(documents: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


@pytest.mark.parametrize("values_name", sorted(VALUES))
def test_helm_lint_passes_strictly(values_name):
    report = helm.lint(CHART, VALUES[values_name], strict=True, namespace="opaa")
    serious = [m for m in report["messages"] if m["severity"] >= WARNING]
    assert not report["errors"], report
    assert not serious, report


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_match_the_kubernetes_schemas(manifests, version):
    for document in manifests:
        kubernetes_validate.validate(document, version, strict=True)


def test_the_schema_check_is_not_a_no_op(manifests):
    deployment = next(doc for doc in manifests if doc["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicass"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_web_worker_and_beat_with_probes_resources_and_no_root(manifests):
    deployments = by_kind(manifests, "Deployment")
    assert set(deployments) == {"opaa-web", "opaa-worker", "opaa-beat"}
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            assert {"requests", "limits"} <= set(container["resources"])
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
    web = deployments["opaa-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"].startswith("/readyz")
    assert deployments["opaa-beat"]["spec"]["replicas"] == 1


def test_secrets_come_from_existing_secrets_only(manifests):
    assert not by_kind(manifests, "Secret")
    web = by_kind(manifests, "Deployment")["opaa-web"]["spec"]["template"]["spec"]
    env = {item["name"]: item for item in web["containers"][0]["env"]}
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "S3_SECRET_ACCESS_KEY"):
        assert "secretKeyRef" in env[name]["valueFrom"], name
        assert "value" not in env[name]
    assert env["DJANGO_SETTINGS_MODULE"]["value"] == "opaa.settings.production"


def container_env(manifests: list[dict], kind: str, name: str) -> dict[str, dict]:
    pod = by_kind(manifests, kind)[name]["spec"]["template"]["spec"]
    return {item["name"]: item for item in pod["containers"][0]["env"]}


def test_owner_url_only_where_schemas_are_created_or_migrated(manifests):
    [job] = by_kind(manifests, "Job")
    needs_owner = [("Job", job), ("Deployment", "opaa-web"), ("Deployment", "opaa-worker")]
    for kind, name in needs_owner:
        env = container_env(manifests, kind, name)
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "opaa-database",
            "key": "DATABASE_URL",
        }
        assert env["DATABASE_OWNER_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "opaa-database",
            "key": "DATABASE_OWNER_URL",
        }
    beat = container_env(manifests, "Deployment", "opaa-beat")
    assert "DATABASE_URL" in beat
    assert "DATABASE_OWNER_URL" not in beat


def test_owner_url_from_its_own_secret_or_not_at_all():
    values = {"database": {"ownerExistingSecret": "opaa-database-owner"}}
    documents = render(values)
    web = container_env(documents, "Deployment", "opaa-web")
    assert web["DATABASE_OWNER_URL"]["valueFrom"]["secretKeyRef"]["name"] == "opaa-database-owner"
    assert web["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "opaa-database"
    single_role = render({"database": {"ownerUrlKey": ""}})
    for document in single_role:
        assert "DATABASE_OWNER_URL" not in yaml.safe_dump(document)


def test_autoscaling_for_web_and_worker(manifests):
    autoscalers = by_kind(manifests, "HorizontalPodAutoscaler")
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in autoscalers.values()}
    assert targets == {"opaa-web", "opaa-worker"}


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(manifests):
    [job] = by_kind(manifests, "Job").values()
    hooks = set(job["metadata"]["annotations"]["helm.sh/hook"].split(","))
    assert hooks == {"pre-install", "pre-upgrade"}
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][-2:] == ["migrate_schemas", "--noinput"]


def test_network_policies_cover_every_component(manifests):
    policies = by_kind(manifests, "NetworkPolicy")
    assert {"opaa-web", "opaa-worker", "opaa-no-ingress", "opaa-egress"} <= set(policies)


def test_production_values_pin_the_image_and_enable_ingress_tls():
    documents = render(VALUES["production"])
    web = by_kind(documents, "Deployment")["opaa-web"]["spec"]["template"]["spec"]
    assert web["containers"][0]["image"] == "registry.example.com/opaa:0.1.0"
    [ingress] = by_kind(documents, "Ingress").values()
    assert ingress["spec"]["tls"][0]["secretName"] == "opaa-tls"


def test_a_missing_bucket_is_refused():
    with pytest.raises(helm.HelmError, match=r"s3\.bucket is required"):
        render({"s3": {"bucket": ""}})
