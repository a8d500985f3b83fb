"""Authentication backends whose configuration comes from the request's organization."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from sso import throttling
from sso.discovery import ProviderMetadata, ProviderUnavailable, provider_jwks, url_transport_check
from sso.id_tokens import Expected, IdTokenInvalid, SigningKeyUnknown, id_token_verify
from sso.models import IdentityProvider
from sso.services import (
    SignInRefused,
    identity_provider_metadata,
    password_sign_in_allowed,
    sso_sign_in,
)

logger = logging.getLogger(__name__)


class OrganizationPasswordBackend(ModelBackend):
    """Email + password, unless the organization has turned password sign-in off.

    Every password check is rate-limited here, whichever door it came through (the
    sign-in page, the admin's sign-in page, HTTP Basic on the API): failures are counted
    per IP + email (``sso.throttling``), and past the limit the check is refused without
    looking at the password.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if password is None or not password_sign_in_allowed():
            return None
        email = str(username or kwargs.get(get_user_model().USERNAME_FIELD) or "")[:254]
        ip = throttling.client_ip(request)
        if throttling.password_sign_in_blocked(ip=ip, email=email):
            # Stops the other backends too; Django records it as a failed sign-in.
            raise PermissionDenied("Too many failed sign-in attempts.")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            throttling.password_sign_in_failed(ip=ip, email=email)
        else:
            throttling.password_sign_in_succeeded(ip=ip, email=email)
        return user


class OrganizationOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend with the provider taken from the organization.

    The library reads one provider from global settings at construction; here nothing
    is read until ``authenticate`` is given the organization's ``IdentityProvider``
    (by ``sso.views.SignInCallbackView``), and the verification the library leaves
    loose (aud, iss, alg, nonce replay) is done by ``sso.id_tokens``.

    Raises ``SignInRefused`` / ``ProviderUnavailable`` rather than returning None, so the
    person is told why; returns None for any call that is not an SSO callback.
    """

    def __init__(self, *args, **kwargs):
        self.UserModel = get_user_model()

    def authenticate(
        self,
        request,
        *,
        sso_provider: IdentityProvider | None = None,
        nonce: str | None = None,
        code_verifier: str | None = None,
        redirect_uri: str | None = None,
        **kwargs,
    ):
        if request is None or sso_provider is None or not (nonce and code_verifier):
            return None
        self.request = request
        self.provider = sso_provider
        self.metadata: ProviderMetadata = identity_provider_metadata(provider=sso_provider)
        self.OIDC_RP_CLIENT_ID = sso_provider.client_id
        code = request.GET.get("code", "")
        token_info = self.get_token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            }
        )
        id_token = token_info.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SignInRefused("The identity provider sent no ID token.", status=400)
        claims = self.verify_token(id_token, nonce=nonce)
        self._nonce_consume(nonce, claims)
        return self.get_or_create_user(token_info.get("access_token"), id_token, claims)

    def get_token(self, payload):
        """Redeem the code at the provider's token endpoint (client_secret_basic or _post)."""
        url_transport_check(self.metadata.token_endpoint)
        data = dict(payload)
        auth = None
        client_id = self.provider.client_id
        secret = self.provider.client_secret
        if (
            "client_secret_basic" not in self.metadata.token_endpoint_auth_methods
            and "client_secret_post" in self.metadata.token_endpoint_auth_methods
        ):
            data.update(client_id=client_id, client_secret=secret)
        else:
            data["client_id"] = client_id
            auth = (client_id, secret)
        try:
            response = httpx.post(
                self.metadata.token_endpoint,
                data=data,
                auth=auth,
                timeout=settings.OIDC_HTTP_TIMEOUT_S,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable("The identity provider's token endpoint failed.") from exc
        if response.status_code != 200:
            error = ""
            with contextlib.suppress(ValueError, AttributeError):
                error = str(response.json().get("error", ""))[:60]
            # The body is not logged: a provider may echo credentials in it.
            logger.warning(
                "sso token endpoint answered %s (%s)", response.status_code, error or "no error"
            )
            raise SignInRefused(
                "The identity provider did not accept the sign-in"
                + (f" ({error})." if error else "."),
                status=400,
            )
        try:
            token_info = response.json()
        except ValueError as exc:
            raise ProviderUnavailable(
                "The identity provider's token endpoint sent no JSON."
            ) from exc
        if not isinstance(token_info, dict):
            raise ProviderUnavailable("The identity provider's token endpoint sent bad JSON.")
        return token_info

    def verify_token(self, token, **kwargs):
        expected = Expected(
            issuer=self.metadata.issuer,
            client_id=self.provider.client_id,
            nonce=kwargs.get("nonce") or "",
            leeway_s=settings.OIDC_CLOCK_SKEW_S,
        )
        try:
            try:
                jwks = provider_jwks(metadata=self.metadata)
                return id_token_verify(id_token=token, jwks=jwks, expected=expected)
            except SigningKeyUnknown:
                jwks = provider_jwks(metadata=self.metadata, refresh=True)
                return id_token_verify(id_token=token, jwks=jwks, expected=expected)
        except IdTokenInvalid as exc:
            logger.warning("sso id token refused: %s", exc)
            raise SignInRefused(f"The sign-in was refused: {exc}", status=400) from exc

    def _nonce_consume(self, nonce: str, claims: dict) -> None:
        """Remember the nonce until the token expires, so the same ID token never works twice."""
        digest = hashlib.sha256(nonce.encode()).hexdigest()[:32]
        ttl = max(int(claims["exp"] - time.time()) + settings.OIDC_CLOCK_SKEW_S, 60)
        if not cache.add(f"sso:{connection.schema_name}:nonce:{digest}", 1, ttl):
            raise SignInRefused("The sign-in was refused: the ID token was replayed.", status=400)

    def get_userinfo(self, access_token, id_token, payload):
        # Claims come from the signed ID token only; nothing unsigned is trusted.
        return payload

    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(
            external_identities__issuer=self.metadata.issuer,
            external_identities__subject=claims.get("sub"),
        )

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        if not self.verify_claims(claims):
            raise SignInRefused("The ID token has no subject.", status=400)
        return sso_sign_in(
            provider=self.provider,
            issuer=self.metadata.issuer,
            claims=claims,
            request=getattr(self, "request", None),
        )

    def get_user(self, user_id):
        # The library's get_user skips the is_active check; ModelBackend's has it.
        return ModelBackend.get_user(self, user_id)
