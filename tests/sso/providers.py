"""OIDC providers on loopback for the SSO tests.

``RealProvider`` is oidc-provider-mock (authlib's authorization server under Flask):
clients are registered through its dynamic registration endpoint with their exact
redirect URI, nonces are required, ID tokens are RS256-signed with a key published at
its JWKS. oidc-provider-mock 0.3.4 accepts but ignores PKCE parameters (authlib's
CodeChallenge extension is not registered), so ``RealProvider`` enforces RFC 7636 S256
around its authorization and token endpoints: a code is redeemed only with the
verifier whose challenge came with the authorization request.

``ForgedProvider`` is a minimal provider whose token endpoint signs whatever ID token
a test asks for (wrong audience, expired, ``alg: none``, ...) with a key the test
controls, published at its own JWKS, to drive the negative cases end to end.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlencode, urlsplit

import flask
import httpx
import jwt
import werkzeug.serving
from cryptography.hazmat.primitives.asymmetric import rsa


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


@contextmanager
def serving(app) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


class RealProvider:
    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import oidc_provider_mock

            self.app = oidc_provider_mock.app(require_client_registration=True, require_nonce=True)
        self.url = ""
        self._challenges: dict[str, tuple[str | None, str | None]] = {}
        self.pkce_failures = 0
        self.app.after_request(self._remember_challenge)
        self.app.before_request(self._check_verifier)

    # PKCE (RFC 7636), which the mock itself leaves out.
    def _remember_challenge(self, response):
        request = flask.request
        if request.path == "/oauth2/authorize" and request.method == "POST":
            query = parse_qs(urlsplit(response.headers.get("Location", "")).query)
            if "code" in query:
                self._challenges[query["code"][0]] = (
                    request.args.get("code_challenge"),
                    request.args.get("code_challenge_method"),
                )
        return response

    def _check_verifier(self):
        request = flask.request
        if (
            request.path != "/oauth2/token"
            or request.form.get("grant_type") != "authorization_code"
        ):
            return None
        challenge, method = self._challenges.pop(request.form.get("code", ""), (None, None))
        verifier = request.form.get("code_verifier", "")
        if method != "S256" or not challenge or s256(verifier) != challenge:
            self.pkce_failures += 1
            return flask.jsonify(error="invalid_grant", error_description="PKCE failed"), 400
        return None

    def register_client(self, redirect_uri: str) -> tuple[str, str]:
        response = httpx.post(f"{self.url}/oauth2/clients", json={"redirect_uris": [redirect_uri]})
        response.raise_for_status()
        body = response.json()
        return body["client_id"], body["client_secret"]

    def set_user(self, sub: str, **claims) -> None:
        httpx.put(f"{self.url}/users/{sub}", json=claims).raise_for_status()

    def consent(self, authorization_url: str, sub: str) -> str:
        """What a person does at the provider: open the page, authorize as ``sub``.

        Returns the provider's redirect back to OPAA (with code and state).
        """
        page = httpx.get(authorization_url)
        assert page.status_code == 200, page.text
        assert "Authorize" in page.text
        response = httpx.post(authorization_url, data={"sub": sub})
        assert response.status_code == 302, response.text
        return response.headers["location"]


class ForgedProvider:
    """Signs the ID tokens a test asks for; everything else behaves like a provider."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "forged-1"
        self.url = ""
        self.codes: dict[str, dict] = {}
        # Given the claims a good token would have, returns the ID token to send.
        self.forge: Callable[[dict], str] = self.sign
        self.issued: list[str] = []
        app = flask.Flask("forged-oidc")
        app.add_url_rule("/.well-known/openid-configuration", view_func=self._discovery)
        app.add_url_rule("/jwks", view_func=self._jwks)
        app.add_url_rule("/authorize", view_func=self._authorize)
        app.add_url_rule("/token", view_func=self._token, methods=["POST"])
        self.app = app
        self.client_id = "opaa-forged"
        self.client_secret = "forged-client-secret-long-enough-for-hs256"
        self.subject = "forged-subject"
        self.claims_extra: dict = {"email": "frank@acme.example"}

    @property
    def issuer(self) -> str:
        return self.url

    def sign(self, claims: dict, *, key=None, alg: str = "RS256", kid: str | None = None) -> str:
        return jwt.encode(claims, key or self.key, algorithm=alg, headers={"kid": kid or self.kid})

    def _discovery(self):
        return flask.jsonify(
            issuer=self.issuer,
            authorization_endpoint=f"{self.url}/authorize",
            token_endpoint=f"{self.url}/token",
            jwks_uri=f"{self.url}/jwks",
            id_token_signing_alg_values_supported=["RS256"],
        )

    def _jwks(self):
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update(kid=self.kid, use="sig", alg="RS256")
        return flask.jsonify(keys=[jwk])

    def _authorize(self):
        args = flask.request.args
        code = secrets.token_urlsafe(16)
        self.codes[code] = dict(args)
        return flask.redirect(
            f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args['state']})}"
        )

    def _token(self):
        request = self.codes.pop(flask.request.form.get("code", ""), None)
        if request is None or s256(flask.request.form.get("code_verifier", "")) != request.get(
            "code_challenge"
        ):
            return flask.jsonify(error="invalid_grant"), 400
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": request["client_id"],
            "iat": now,
            "exp": now + 300,
            "nonce": request["nonce"],
            **self.claims_extra,
        }
        id_token = self.forge(claims)
        self.issued.append(id_token)
        return flask.jsonify(access_token="at", token_type="Bearer", id_token=id_token)
