"""Verification of ID tokens: the checks mozilla-django-oidc leaves out or makes optional.

Only asymmetric signatures from the provider's JWKS are accepted (RS256, ES256): ``none``
and HS256 (a token "signed" with the client secret, which anyone holding the secret
could mint) are refused. ``iss`` must be the provider's issuer exactly, ``aud`` must
contain the client id (and ``azp`` must be it when there are several audiences),
``exp``/``iat`` must be present and current, and ``nonce`` must be the one this sign-in
sent.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import jwt

ALLOWED_ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}


class IdTokenInvalid(Exception):
    """The ID token must not be trusted; the message says why (no token content)."""


class SigningKeyUnknown(IdTokenInvalid):
    """No key of the provider's JWKS matches the token's key id (maybe a key rotation)."""


@dataclass(frozen=True)
class Expected:
    issuer: str
    client_id: str
    nonce: str
    leeway_s: int = 60


def _signing_key(header: dict, jwks: dict) -> jwt.PyJWK:
    alg = header["alg"]
    kid = header.get("kid")
    candidates = []
    for jwk in jwks.get("keys", []):
        if not isinstance(jwk, dict) or jwk.get("kty") != ALLOWED_ALGORITHMS[alg]:
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
            continue
        if kid is not None and jwk.get("kid") != kid:
            continue
        candidates.append(jwk)
    # Without a kid, only an unambiguous JWKS may be used.
    if len(candidates) != 1:
        raise SigningKeyUnknown("The ID token's signing key is not in the provider's JWKS.")
    try:
        return jwt.PyJWK(candidates[0], algorithm=alg)
    except jwt.PyJWTError as exc:
        raise IdTokenInvalid("The provider's signing key is unusable.") from exc


def id_token_verify(*, id_token: str, jwks: dict, expected: Expected) -> dict:
    """The verified claims of ``id_token``, or ``IdTokenInvalid`` saying which check failed."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as exc:
        raise IdTokenInvalid("The ID token is malformed.") from exc
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise IdTokenInvalid(
            f"ID tokens signed with {str(alg)[:20]!r} are refused; RS256 or ES256 is required."
        )
    key = _signing_key(header, jwks)
    try:
        claims = jwt.decode(
            id_token,
            key=key.key,
            algorithms=[alg],
            audience=expected.client_id,
            issuer=expected.issuer,
            leeway=expected.leeway_s,
            options={"require": ["iss", "sub", "aud", "exp", "iat"], "strict_aud": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise IdTokenInvalid("The ID token's signature does not verify.") from exc
    except jwt.ExpiredSignatureError as exc:
        raise IdTokenInvalid("The ID token has expired.") from exc
    except jwt.InvalidAudienceError as exc:
        raise IdTokenInvalid("The ID token was issued for another client (aud).") from exc
    except jwt.InvalidIssuerError as exc:
        raise IdTokenInvalid("The ID token was issued by another issuer (iss).") from exc
    except jwt.ImmatureSignatureError as exc:
        raise IdTokenInvalid("The ID token is not valid yet (iat/nbf).") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise IdTokenInvalid(f"The ID token lacks the {exc.claim} claim.") from exc
    except jwt.PyJWTError as exc:
        raise IdTokenInvalid("The ID token is invalid.") from exc
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != expected.client_id:
        raise IdTokenInvalid("The ID token was issued for another client (azp).")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise IdTokenInvalid("The ID token has no subject.")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce, expected.nonce):
        raise IdTokenInvalid("The ID token's nonce is not this sign-in's.")
    return claims
