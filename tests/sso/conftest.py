"""Fixtures for the SSO tests: the loopback providers and configuring an organization."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client
from django_tenants.utils import schema_context

from sso.models import IdentityProvider
from tests.sso.providers import ForgedProvider, RealProvider, serving


@pytest.fixture(scope="session")
def real_provider():
    provider = RealProvider()
    with serving(provider.app) as url:
        provider.url = url
        yield provider


@pytest.fixture
def forged_provider():
    provider = ForgedProvider()
    with serving(provider.app) as url:
        provider.url = url
        yield provider


@pytest.fixture(autouse=True)
def _sso_cache_cleared():
    """Discovery/JWKS caches, nonces and sign-in counters live in the real Redis."""
    cache.delete_pattern("sso:*")
    yield
    cache.delete_pattern("sso:*")


def callback_url(org) -> str:
    return f"http://{org.domain}/sso/callback/"


def configure(org, **fields) -> IdentityProvider:
    """Save ``org``'s identity provider with ``fields`` (client_secret given in plain)."""
    secret = fields.pop("client_secret", "")
    with schema_context(org.schema):
        provider = IdentityProvider.objects.first() or IdentityProvider()
        for name, value in {"name": "Acme IdP", "enabled": True, **fields}.items():
            setattr(provider, name, value)
        if secret:
            provider.client_secret = secret
        provider.save()
        return provider


@pytest.fixture
def acme_idp(acme, real_provider):
    """Acme's provider: the real one, with a client registered for Acme's callback."""
    client_id, secret = real_provider.register_client(callback_url(acme))
    return configure(acme, issuer=real_provider.url, client_id=client_id, client_secret=secret)


@pytest.fixture
def globex_idp(world, db, real_provider):
    client_id, secret = real_provider.register_client(callback_url(world.globex))
    return configure(
        world.globex,
        name="Globex IdP",
        issuer=real_provider.url,
        client_id=client_id,
        client_secret=secret,
    )


def browser(org) -> Client:
    return Client(HTTP_HOST=org.domain)


def start(client: Client, next_url: str | None = None) -> str:
    """Click "Sign in with ..." and return the provider's authorization URL."""
    response = client.get("/sso/login/", {"next": next_url} if next_url else {})
    assert response.status_code == 302, response.content
    return response["Location"]


def come_back(client: Client, redirect: str):
    """Follow the provider's redirect back to OPAA (the callback) with the Django client."""
    parts = urlsplit(redirect)
    return client.get(parts.path, dict(parse_qsl(parts.query)))


def sso_sign_in(client: Client, provider: RealProvider, sub: str, next_url: str | None = None):
    return come_back(client, provider.consent(start(client, next_url), sub))


def signed_in(client: Client) -> bool:
    """The sign-in page sends a signed-in person on (302) and shows itself to others (200)."""
    return client.get("/accounts/login/").status_code == 302
