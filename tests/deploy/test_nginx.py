"""docker/nginx: the configuration parses, every directive is valid where it stands.

No nginx runs here. The template is filled in as the nginx image does at start
(envsubst of the ``NGINX_*`` variables compose sets) and parsed by crossplane,
NGINX's own configuration parser, which checks each directive's context and number
of arguments and follows the includes.
"""

from __future__ import annotations

from pathlib import Path

import crossplane
import pytest

from tests.deploy.compose_render import read_env_file, render

DOCKER = Path(__file__).resolve().parents[2] / "docker"
NGINX = DOCKER / "nginx"


def envsubst(text: str, env: dict[str, str]) -> str:
    for name, value in env.items():
        text = text.replace("${" + name + "}", value)
    return text


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> list[dict]:
    """The parsed configuration: nginx.conf's http block including the rendered site."""
    env = read_env_file(DOCKER / ".env.example")
    env.update(
        SECRET_KEY="x",
        POSTGRES_PASSWORD="x",
        POSTGRES_OWNER_PASSWORD="x",
        POSTGRES_APP_PASSWORD="x",
        MINIO_ROOT_PASSWORD="x",
    )
    nginx_env = render(DOCKER / "compose.yaml", env)["services"]["nginx"]["environment"]
    directory = tmp_path_factory.mktemp("nginx")
    site = envsubst((NGINX / "templates" / "default.conf.template").read_text(), nginx_env)
    assert "${" not in site, "a variable compose does not set"  # nginx's own have no braces
    site = site.replace("/etc/nginx/snippets/", f"{NGINX / 'snippets'}/")
    (directory / "default.conf").write_text(site)
    (directory / "nginx.conf").write_text(
        f"events {{}}\nhttp {{\n    include {directory / 'default.conf'};\n}}\n"
    )
    payload = crossplane.parse(str(directory / "nginx.conf"), check_ctx=True, check_args=True)
    assert payload["status"] == "ok", payload["errors"]
    return payload["config"]


def directives(config: list[dict], name: str) -> list[dict]:
    found = []

    def walk(block: list[dict]) -> None:
        for directive in block:
            if directive["directive"] == name:
                found.append(directive)
            walk(directive.get("block", []))

    for parsed in config:
        walk(parsed["parsed"])
    return found


def test_tls_with_the_generated_certificate(config):
    assert [d["args"] for d in directives(config, "ssl_certificate")] == [
        ["/etc/nginx/certs/tls.crt"]
    ]
    assert ["TLSv1.2", "TLSv1.3"] in [d["args"] for d in directives(config, "ssl_protocols")]
    assert ["301", "https://$host$request_uri"] in [d["args"] for d in directives(config, "return")]
    assert (NGINX / "make_cert.py").is_file()


def test_request_size_and_rate_limits(config):
    assert [d["args"] for d in directives(config, "client_max_body_size")] == [["60m"]]
    zones = [d["args"][1] for d in directives(config, "limit_req_zone")]
    assert "zone=opaa_general:10m" in zones
    assert len(directives(config, "limit_req")) >= 3


def test_security_headers_and_no_public_metrics(config):
    headers = {d["args"][0] for d in directives(config, "add_header")}
    assert {
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
        "Content-Security-Policy",
    } <= headers
    metrics = [d for d in directives(config, "location") if d["args"] == ["=", "/metrics"]]
    assert metrics
    assert metrics[0]["block"][0]["args"] == ["404"]


def test_the_request_id_is_forwarded(config):
    forwarded = [d["args"] for d in directives(config, "proxy_set_header")]
    assert ["X-Request-ID", "$opaa_request_id"] in forwarded
    assert ["X-Forwarded-Proto", "$scheme"] in forwarded


def test_the_certificate_script_writes_a_usable_pair(tmp_path):
    import importlib.util

    from cryptography import x509

    spec = importlib.util.spec_from_file_location("make_cert", NGINX / "make_cert.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.make_cert(tmp_path, "opaa.example") is True
    cert = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "*.opaa.example" in names.get_values_for_type(x509.DNSName)
    assert (tmp_path / "tls.key").stat().st_mode & 0o077 == 0
    assert module.make_cert(tmp_path, "other") is False  # never overwrites
