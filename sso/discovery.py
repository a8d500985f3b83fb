"""The provider's metadata (``/.well-known/openid-configuration``) and signing keys (JWKS).

Both are fetched over HTTPS (plain HTTP only for loopback hosts, or when
``OIDC_ALLOW_HTTP`` is set) and cached per organization for
``OIDC_DISCOVERY_CACHE_S``. A key id missing from the cached JWKS triggers at most one
refetch a minute, so a provider's key rotation is picked up without hammering it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from infra import outbound

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
JWKS_REFRESH_MIN_INTERVAL_S = 60


class ProviderUnavailable(Exception):
    """The identity provider could not be reached or answered something unusable."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_endpoint_auth_methods: tuple[str, ...]


def _cache_key(kind: str, url: str) -> str:
    digest = hashlib.sha256(url.encode()).hexdigest()[:32]
    return f"sso:{connection.schema_name}:{kind}:{digest}"


def url_transport_check(url: str) -> None:
    """The provider's ``url`` uses https (http only on loopback or when allowed), and
    goes where this installation may connect (``infra.outbound``)."""
    parts = urlsplit(url)
    secure = parts.scheme == "https" and parts.hostname
    if not secure and not (
        parts.scheme == "http"
        and (parts.hostname in LOOPBACK_HOSTS or getattr(settings, "OIDC_ALLOW_HTTP", False))
    ):
        raise ProviderUnavailable(f"The provider URL {url} must use https.")
    try:
        outbound.url_check(url)
    except outbound.OutboundRefused as exc:
        raise ProviderUnavailable(f"The provider URL {url} is refused: {exc}") from None


def _get_json(url: str) -> dict:
    url_transport_check(url)
    try:
        response = httpx.get(url, timeout=settings.OIDC_HTTP_TIMEOUT_S, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"The identity provider at {url} could not be reached.") from exc
    if response.status_code != 200:
        raise ProviderUnavailable(
            f"The identity provider answered HTTP {response.status_code} for {url}."
        )
    try:
        document = response.json()
    except ValueError as exc:
        raise ProviderUnavailable(f"The identity provider sent no JSON at {url}.") from exc
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"The identity provider sent unexpected JSON at {url}.")
    return document


def provider_metadata(
    *, discovery_url: str, issuer: str, use_cache: bool = True
) -> ProviderMetadata:
    """The provider's metadata, checked against the configured ``issuer``.

    OIDC Discovery requires the document's ``issuer`` to be the provider's issuer; a
    trailing slash typed by an owner is forgiven, the provider's exact string is kept
    (ID tokens' ``iss`` is compared with it exactly).
    """
    key = _cache_key("discovery", discovery_url)
    document = cache.get(key) if use_cache else None
    if document is None:
        document = _get_json(discovery_url)
        cache.set(key, document, settings.OIDC_DISCOVERY_CACHE_S)
    stated = document.get("issuer")
    if not isinstance(stated, str) or stated.rstrip("/") != issuer.rstrip("/"):
        raise ProviderUnavailable(
            f"The discovery document names the issuer {stated!r}, not the configured {issuer!r}."
        )
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or not value:
            raise ProviderUnavailable(f"The discovery document has no {name}.")
        url_transport_check(value)
        endpoints[name] = value
    methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    return ProviderMetadata(
        issuer=stated,
        token_endpoint_auth_methods=tuple(m for m in methods if isinstance(m, str)),
        **endpoints,
    )


def provider_jwks(*, metadata: ProviderMetadata, refresh: bool = False) -> dict:
    """The provider's JWKS; ``refresh`` refetches it unless that happened within a minute."""
    key = _cache_key("jwks", metadata.jwks_uri)
    jwks = cache.get(key)
    if refresh and jwks is not None:
        if not cache.add(key + ":refreshed", 1, JWKS_REFRESH_MIN_INTERVAL_S):
            return jwks
        jwks = None
    if jwks is None:
        jwks = _get_json(metadata.jwks_uri)
        if not isinstance(jwks.get("keys"), list):
            raise ProviderUnavailable("The provider's JWKS has no keys.")
        cache.set(key, jwks, settings.OIDC_DISCOVERY_CACHE_S)
    return jwks
