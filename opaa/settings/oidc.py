"""Sign-in: per-organization OIDC single sign-on and local-account hardening.

Each organization's identity provider (issuer, client id, secret, ...) lives in its own
schema (``sso.IdentityProvider``) and is read per request; only platform-wide knobs are here.
"""

from opaa.settings.env import env

AUTHENTICATION_BACKENDS = [
    # Local accounts (email + password); refuses when the organization disabled passwords.
    "sso.backends.OrganizationPasswordBackend",
    # The organization's OIDC provider (authorization code flow with PKCE).
    "sso.backends.OrganizationOIDCBackend",
]

# Key for encrypting secrets stored in the database (the IdP client secret). Empty: derived
# from SECRET_KEY, so rotating SECRET_KEY then makes stored secrets unreadable; set this on
# its own in production so SECRET_KEY can rotate independently.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")

# Timeout of every call to an identity provider (discovery, JWKS, token endpoint).
OIDC_HTTP_TIMEOUT_S = env.float("OIDC_HTTP_TIMEOUT_S", default=10.0)
# Providers must be reached over https; plain http is allowed only for loopback hosts,
# or for every host when this is set (a provider on a private network in development).
OIDC_ALLOW_HTTP = env.bool("OIDC_ALLOW_HTTP", default=False)
# Discovery documents and JWKS change rarely; an unknown key id triggers one early refetch.
OIDC_DISCOVERY_CACHE_S = env.int("OIDC_DISCOVERY_CACHE_S", default=3600)
# Clock skew tolerated on exp/iat/nbf of ID tokens.
OIDC_CLOCK_SKEW_S = 60
# A sign-in must come back from the provider within this time (state lifetime).
OIDC_STATE_MAX_AGE_S = 600

# Failed password sign-ins allowed per IP address + email within the window; then refused
# with HTTP 429 until the window (started by the first failure) ends.
PASSWORD_SIGNIN_MAX_FAILURES = env.int("PASSWORD_SIGNIN_MAX_FAILURES", default=10)
PASSWORD_SIGNIN_WINDOW_S = env.int("PASSWORD_SIGNIN_WINDOW_S", default=15 * 60)
# Password-reset emails asked for per IP address + email within the same window.
PASSWORD_RESET_MAX_PER_WINDOW = env.int("PASSWORD_RESET_MAX_PER_WINDOW", default=5)

DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="OPAA <no-reply@opaa.localhost>")
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # seconds a reset link stays valid
