"""The ID token checks as a function, with keys the test controls (RS256 and ES256)."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sso.id_tokens import Expected, IdTokenInvalid, SigningKeyUnknown, id_token_verify

ISSUER = "https://idp.example"
EXPECTED = Expected(issuer=ISSUER, client_id="opaa", nonce="n-1")


def _claims(**overrides) -> dict:
    now = int(time.time())
    return {"iss": ISSUER, "sub": "s-1", "aud": "opaa", "iat": now, "exp": now + 60,
            "nonce": "n-1", **overrides}  # fmt: skip


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def _jwks(*pairs) -> dict:
    keys = []
    for kid, key in pairs:
        if isinstance(key, rsa.RSAPrivateKey):
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        else:
            jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        keys.append({**jwk, "kid": kid})
    return {"keys": keys}


def test_rs256_and_es256_are_accepted(rsa_key, ec_key):
    jwks = _jwks(("r", rsa_key), ("e", ec_key))
    for alg, kid, key in (("RS256", "r", rsa_key), ("ES256", "e", ec_key)):
        token = jwt.encode(_claims(), key, algorithm=alg, headers={"kid": kid})
        assert id_token_verify(id_token=token, jwks=jwks, expected=EXPECTED)["sub"] == "s-1"


def test_several_audiences_need_azp_to_be_the_client(rsa_key):
    jwks = _jwks(("r", rsa_key))
    token = jwt.encode(
        _claims(aud=["opaa", "other"], azp="opaa"), rsa_key, algorithm="RS256",
        headers={"kid": "r"},
    )  # fmt: skip
    assert id_token_verify(id_token=token, jwks=jwks, expected=EXPECTED)


def test_a_token_without_kid_needs_an_unambiguous_jwks(rsa_key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256")
    assert id_token_verify(id_token=token, jwks=_jwks(("r", rsa_key)), expected=EXPECTED)
    with pytest.raises(SigningKeyUnknown):
        id_token_verify(id_token=token, jwks=_jwks(("r", rsa_key), ("o", other)), expected=EXPECTED)


def test_an_rsa_token_cannot_use_an_ec_key_of_the_same_kid(rsa_key, ec_key):
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "k"})
    with pytest.raises(SigningKeyUnknown):
        id_token_verify(id_token=token, jwks=_jwks(("k", ec_key)), expected=EXPECTED)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"aud": "other"}, "another client"),
        ({"iss": "https://idp.example/"}, "another issuer"),
        ({"exp": -120}, "expired"),
        ({"iat": 3600}, "not valid yet"),
        ({"nonce": "n-2"}, "nonce"),
        ({"sub": ""}, "subject"),
    ],
)
def test_each_claim_check_says_what_failed(rsa_key, overrides, message):
    # Times are relative to now, computed here: collection may be minutes earlier.
    now = int(time.time())
    claims = _claims(**{k: now + v if k in ("exp", "iat") else v for k, v in overrides.items()})
    token = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "r"})
    with pytest.raises(IdTokenInvalid, match=message):
        id_token_verify(id_token=token, jwks=_jwks(("r", rsa_key)), expected=EXPECTED)


@pytest.mark.parametrize("alg", ["none", "HS256", "HS512", "RS512", "PS256"])
def test_other_algorithms_are_refused(rsa_key, alg):
    key = {"none": None, "HS256": "k" * 32, "HS512": "k" * 64}.get(alg, rsa_key)
    token = jwt.encode(_claims(), key, algorithm=alg, headers={"kid": "r"})
    with pytest.raises(IdTokenInvalid, match="RS256 or ES256"):
        id_token_verify(id_token=token, jwks=_jwks(("r", rsa_key)), expected=EXPECTED)
