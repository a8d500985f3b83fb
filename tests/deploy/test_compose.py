"""docker/compose.yaml and docker/.env.example: rendered, schema-checked, consistent.

No Docker engine or CLI runs here. The file is rendered by ``compose_render`` (the
Compose specification's interpolation over the YAML) with the variables of
``.env.example``, then validated against the compose-spec JSON schema that
check-jsonschema vendors, then checked for what the schema cannot see.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from tests.deploy.compose_render import (
    InterpolationError,
    read_env_file,
    render,
    variables_used,
)

DOCKER = Path(__file__).resolve().parents[2] / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
SECRETS = (
    "SECRET_KEY",
    "POSTGRES_PASSWORD",
    "POSTGRES_OWNER_PASSWORD",
    "POSTGRES_APP_PASSWORD",
    "MINIO_ROOT_PASSWORD",
)
OPAA_PROCESSES = ("app", "worker", "beat")


def operator_env() -> dict[str, str]:
    """``.env.example`` as an operator fills it in: the secrets given."""
    env = read_env_file(ENV_EXAMPLE)
    env.update({name: f"test-{name.lower()}-value" for name in SECRETS})
    return env


@pytest.fixture(scope="module")
def model() -> dict:
    return render(COMPOSE, operator_env())


def compose_schema() -> dict:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text())


def test_rendered_compose_matches_the_compose_spec_schema(model):
    validator = jsonschema.Draft202012Validator(compose_schema())
    errors = sorted(validator.iter_errors(model), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_check_is_not_a_no_op(model):
    broken = json.loads(json.dumps(model))
    broken["services"]["app"]["restart_policy"] = "always"  # not a service key
    validator = jsonschema.Draft202012Validator(compose_schema())
    assert list(validator.iter_errors(broken))


@pytest.mark.parametrize("secret", SECRETS)
def test_missing_secrets_stop_the_rendering(secret):
    env = operator_env()
    env[secret] = ""
    with pytest.raises(InterpolationError, match=secret):
        render(COMPOSE, env)


def test_services_and_their_order(model):
    services = model["services"]
    assert {"migrate", "app", "worker", "beat", "postgres", "redis", "minio", "nginx"} <= set(
        services
    )
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
    for name in ("app", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    assert services["migrate"]["command"][-2:] == ["migrate_schemas", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    assert services["postgres"]["image"] == "pgvector/pgvector:pg16"
    assert services["app"]["command"][0] == "gunicorn"
    assert "/healthz" in " ".join(services["app"]["healthcheck"]["test"])


def test_opaa_processes_run_in_production_mode_with_real_services(model):
    for name in (*OPAA_PROCESSES, "migrate"):
        env = model["services"][name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "opaa.settings.production"
        assert env["DATABASE_URL"].startswith(
            "postgres://opaa_app:test-postgres_app_password-value@postgres:5432/"
        )
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["S3_ENDPOINT_URL"] == "http://minio:9000"
        assert env["SECRET_KEY"] == "test-secret_key-value"


def test_volumes_networks_and_files_exist(model):
    declared_volumes = set(model["volumes"])
    declared_networks = set(model["networks"])
    for name, service in model["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared_volumes, f"{name} uses undeclared volume {source}"
        for network in service.get("networks", []):
            assert network in declared_networks
        if "build" in service:
            context = DOCKER / service["build"]["context"]
            assert (context / service["build"]["dockerfile"]).is_file()
    # Data outlives the containers.
    assert {"pgdata", "redisdata", "miniodata"} <= declared_volumes
    assert model["networks"]["backend"]["internal"] is True


def test_images_are_pinned(model):
    for name, service in model["services"].items():
        image = service.get("image", "")
        if image.startswith("opaa:"):
            continue  # built from this repository
        assert re.search(r":[\w.-]+$", image), (name, image)
        assert not image.endswith(":latest"), (name, image)


def test_every_variable_is_documented_in_env_example():
    lines = ENV_EXAMPLE.read_text().splitlines()
    documented = {}
    for index, line in enumerate(lines):
        if re.match(r"^[A-Z_][A-Z0-9_]*=", line):
            name = line.split("=", 1)[0]
            documented[name] = index > 0 and lines[index - 1].startswith("#")
    missing = variables_used(COMPOSE) - set(documented)
    assert not missing, f"used in compose.yaml, not in .env.example: {sorted(missing)}"
    undocumented = [name for name, has_comment in documented.items() if not has_comment]
    assert not undocumented, f"no comment above: {undocumented}"


OWNER_URL = "postgres://opaa_owner:test-postgres_owner_password-value@postgres:5432/opaa"
APP_URL = "postgres://opaa_app:test-postgres_app_password-value@postgres:5432/opaa"


def test_two_database_roles_each_process_gets_only_what_it_needs(model):
    services = model["services"]
    # Migrations, and the processes that create or drop organization schemas (signup
    # in the app; the provisioning pool and erasure in the worker), get the owner.
    for name in ("migrate", "app", "worker"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"] == APP_URL, name
        assert env["DATABASE_OWNER_URL"] == OWNER_URL, name
    # Beat only enqueues; nothing else of ours may hold the owner's password either.
    for name, service in services.items():
        if name in ("migrate", "app", "worker", "postgres"):
            continue
        env = service.get("environment", {})
        assert "DATABASE_OWNER_URL" not in env, name
        assert "test-postgres_owner_password-value" not in json.dumps(service), name
    assert services["beat"]["environment"]["DATABASE_URL"] == APP_URL


def container_environment(service: dict) -> dict[str, str]:
    """A container's environment as compose builds it: ``env_file`` (docker/.env, filled
    in), then ``environment``, which wins."""
    env: dict[str, str] = {}
    for entry in service.get("env_file", []):
        assert entry["path"] == ".env"
        env.update(operator_env())
    env.update(service.get("environment", {}))
    return env


def test_no_opaa_process_holds_the_superuser_password(model):
    # The image's superuser (POSTGRES_USER, POSTGRES_PASSWORD) is for the image and an
    # operator by hand; every OPAA process connects as opaa_owner or opaa_app. docker/.env
    # reaches the OPAA containers whole (env_file), so its passwords must be blanked there.
    for name, service in model["services"].items():
        if name == "postgres":
            continue
        rendered = json.dumps(container_environment(service)) + json.dumps(service)
        assert "test-postgres_password-value" not in rendered, name
        assert "postgres://opaa:" not in rendered, name
    beat = container_environment(model["services"]["beat"])
    assert "test-postgres_owner_password-value" not in json.dumps(beat)
    assert (
        model["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
        == "test-postgres_password-value"
    )


def test_postgres_creates_the_owner_and_application_roles_on_first_start(model):
    postgres = model["services"]["postgres"]
    assert "./postgres:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    assert postgres["environment"]["POSTGRES_USER"] == "opaa"
    assert (
        postgres["environment"]["POSTGRES_OWNER_PASSWORD"] == "test-postgres_owner_password-value"
    )
    assert postgres["environment"]["POSTGRES_APP_PASSWORD"] == "test-postgres_app_password-value"
    # The image runs them in the order of their names: the owner first.
    scripts = sorted(path.name for path in (DOCKER / "postgres").iterdir())
    assert scripts == ["05-opaa-owner-role.sh", "10-opaa-app-role.sh"]
    for name in scripts:
        script = DOCKER / "postgres" / name
        assert script.stat().st_mode & 0o111, f"{name}: the image runs only executable .sh as is"
        assert script.read_text().startswith("#!/bin/sh\n"), name
