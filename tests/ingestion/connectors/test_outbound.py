"""Where an organization's admins may point OPAA (infra.outbound): with private networks
not allowed (a managed installation), no source or identity provider may reach the
operator's network, loopback or a cloud metadata endpoint; on-premises, anything goes."""

from __future__ import annotations

import pytest

from infra.outbound import OutboundRefused, host_check, url_check
from ingestion.models import Connector, Document, SyncStatus
from sso.discovery import ProviderUnavailable, url_transport_check
from tests.ingestion.connectors.test_web import _source, site  # noqa: F401
from workspaces.models import Workspace

PRIVATE = [
    "http://127.0.0.1:8080/",
    "http://localhost/",
    "http://169.254.169.254/latest/meta-data/",  # cloud instance metadata
    "http://10.1.2.3/wiki",
    "https://192.168.0.10/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://[::1]/",
    "http://[fd00::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "http://0.0.0.0/",
]


@pytest.fixture
def public_only(settings):
    settings.OUTBOUND_PRIVATE_NETWORKS_ALLOWED = False


@pytest.mark.parametrize("url", PRIVATE)
def test_private_and_local_destinations_are_refused(public_only, url):
    with pytest.raises(OutboundRefused, match="private or local network"):
        url_check(url)


def test_public_addresses_pass_and_unknown_names_are_refused(public_only):
    url_check("https://93.184.216.34/")
    host_check("8.8.8.8", 993)
    host_check("2001:4860:4860::8888", 443)
    with pytest.raises(OutboundRefused, match="could not be resolved"):
        url_check("https://no-such-host.invalid/")


def test_on_premises_every_destination_is_allowed(settings):
    settings.OUTBOUND_PRIVATE_NETWORKS_ALLOWED = True
    for url in PRIVATE:
        url_check(url)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (
            {"kind": "web", "config": {}, "secrets": {},
             "paths": ["http://169.254.169.254/latest/"]},
            "169.254.169.254",
        ),
        (
            {"kind": "confluence",
             "config": {"base_url": "http://10.0.0.5/wiki", "flavour": "datacenter"},
             "secrets": {"personal_access_token": "t"}, "paths": ["ENG"]},
            "10.0.0.5",
        ),
        (
            {"kind": "imap",
             "config": {"host": "127.0.0.1", "security": "ssl", "username": "u"},
             "secrets": {"password": "p"}, "paths": ["INBOX"]},
            "127.0.0.1",
        ),
    ],
)  # fmt: skip
def test_an_admin_cannot_point_a_source_at_a_private_network(
    acme, alice_api, public_only, body, where
):
    response = alice_api.post("/api/v1/sources", {"name": "Probe", **body}, format="json")
    assert response.status_code == 400, response.content
    assert f"{where} is on a private or local network" in str(response.json())
    assert not Connector.objects.filter(name="Probe").exists()


def test_an_s3_endpoint_on_a_private_network_is_refused(acme, public_only):
    from django.core.exceptions import ValidationError

    from ingestion import sources
    from ingestion.models import ConnectorKind

    connector = sources.connector_create(
        name="Probe",
        kind=ConnectorKind.S3,
        config={"bucket": "b", "endpoint_url": "http://127.0.0.1:9000"},
    )
    with pytest.raises(ValidationError, match=r"127\.0\.0\.1 is on a private or local network"):
        sources.source_create(
            connector=connector,
            workspace=Workspace.objects.get(is_default=True),
            name="Probe",
            paths=[],
        )


def test_a_source_whose_host_is_no_longer_allowed_fails_its_run_without_a_request(
    acme,
    site,  # noqa: F811 - the served folder of test_web
    run_sync,
    settings,
):
    _, url, requested = site
    source = _source(f"{url}/policies/")  # added while private networks were allowed
    settings.OUTBOUND_PRIVATE_NETWORKS_ALLOWED = False
    requested.clear()

    run = run_sync(source)

    assert run.status == SyncStatus.FAILED
    assert "private or local network" in run.error_message
    assert requested == []
    assert not Document.objects.filter(synced_from=source).exists()


def test_an_identity_provider_on_a_private_network_is_refused(public_only):
    with pytest.raises(ProviderUnavailable, match="private or local network"):
        url_transport_check("https://10.0.0.1/.well-known/openid-configuration")
