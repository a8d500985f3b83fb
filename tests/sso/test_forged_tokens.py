"""Bad ID tokens, end to end: a loopback provider whose token endpoint sends them.

Each case runs the whole flow (redirect, PKCE, state, code redemption); only the ID
token differs from a good one. Every one must end in a clear 400 with nobody signed in.
"""

from __future__ import annotations

import logging
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django_tenants.utils import schema_context

from sso.models import ExternalIdentity
from tests.sso.conftest import browser, come_back, configure, signed_in, start


@pytest.fixture
def acme_forged(acme, forged_provider):
    configure(
        acme,
        issuer=forged_provider.issuer,
        client_id=forged_provider.client_id,
        client_secret=forged_provider.client_secret,
        auto_provision=True,
    )
    return forged_provider


def _sign_in(org, provider):
    import httpx

    client = browser(org)
    redirect = httpx.get(start(client)).headers["location"]
    return client, come_back(client, redirect)


def test_a_good_token_from_the_forged_provider_signs_in(acme, acme_forged):
    client, response = _sign_in(acme, acme_forged)
    assert response.status_code == 302
    assert signed_in(client)


def _other_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


CASES = {
    "wrong audience": (lambda p, c: p.sign({**c, "aud": "someone-else"}), b"another client"),
    "extra audience without azp": (
        lambda p, c: p.sign({**c, "aud": [c["aud"], "someone-else"]}),
        b"another client",
    ),
    "wrong issuer": (lambda p, c: p.sign({**c, "iss": "https://evil.example"}), b"another issuer"),
    "expired": (
        lambda p, c: p.sign({**c, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}),
        b"expired",
    ),
    "tampered signature": (
        lambda p, c: _tamper(p.sign(c)),
        b"signature does not verify",
    ),
    "tampered claims": (
        lambda p, c: _swap_payload(p.sign(c), {**c, "sub": "alice-admin"}),
        b"signature does not verify",
    ),
    "signed by a key not in the JWKS": (
        lambda p, c: p.sign(c, key=_other_key()),
        b"signature does not verify",
    ),
    "unknown key id": (lambda p, c: p.sign(c, kid="rotated-away"), b"signing key"),
    "alg none": (lambda p, c: jwt.encode(c, None, algorithm="none"), b"RS256 or ES256"),
    "HS256 with the client secret": (
        lambda p, c: jwt.encode(c, p.client_secret, algorithm="HS256"),
        b"RS256 or ES256",
    ),
    "nonce of another sign-in": (
        lambda p, c: p.sign({**c, "nonce": "an-old-nonce"}),
        b"nonce",
    ),
    "no nonce": (
        lambda p, c: p.sign({k: v for k, v in c.items() if k != "nonce"}),
        b"nonce",
    ),
    "no exp": (
        lambda p, c: p.sign({k: v for k, v in c.items() if k != "exp"}),
        b"lacks the exp claim",
    ),
    "not a jwt": (lambda p, c: "not-a-token", b"malformed"),
}


def _tamper(token: str) -> str:
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[5] != "A" else "B") + signature[6:]
    return f"{head}.{payload}.{signature[:5]}{flipped}"


def _swap_payload(token: str, claims: dict) -> str:
    forged = jwt.encode(claims, "x" * 32, algorithm="HS256").split(".")[1]
    head, _, signature = token.split(".")
    return f"{head}.{forged}.{signature}"


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_id_token_is_refused_with_400(acme, acme_forged, case):
    forge, message = CASES[case]
    acme_forged.forge = lambda claims: forge(acme_forged, claims)

    client, response = _sign_in(acme, acme_forged)

    assert response.status_code == 400, response.content
    assert message in response.content
    assert not signed_in(client)
    with schema_context(acme.schema):
        assert not ExternalIdentity.objects.exists()


def test_a_replayed_id_token_is_refused(acme, acme_forged):
    """An ID token from an earlier sign-in, sent again for a new one: its nonce is stale."""
    _, first = _sign_in(acme, acme_forged)
    assert first.status_code == 302
    old_token = acme_forged.issued[-1]
    acme_forged.forge = lambda claims: old_token

    client, response = _sign_in(acme, acme_forged)

    assert response.status_code == 400
    assert b"nonce" in response.content
    assert not signed_in(client)


def test_secrets_and_tokens_are_never_logged(acme, acme_forged, caplog):
    caplog.set_level(logging.DEBUG)
    _sign_in(acme, acme_forged)  # succeeds
    good_token = acme_forged.issued[-1]
    acme_forged.forge = lambda claims: acme_forged.sign({**claims, "aud": "someone-else"})
    _sign_in(acme, acme_forged)  # refused
    bad_token = acme_forged.issued[-1]

    assert "sso id token refused" in caplog.text
    for secret in (acme_forged.client_secret, good_token, bad_token):
        assert secret not in caplog.text
