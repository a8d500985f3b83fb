"""DRF authentication with API tokens: ``Authorization: Bearer opaa_pat_...``."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts import selectors, services
from accounts.audit import audit_context
from accounts.tokens import MalformedToken, token_digest, token_parse

INVALID = "Invalid, expired or revoked token."


class ApiTokenAuthentication(BaseAuthentication):
    """Authenticates ``Bearer opaa_...`` tokens; ``request.auth`` is the ApiToken.

    A malformed token (bad shape or checksum) is refused without a database query.
    Tokens live in the organization's schema, so one presented at another
    organization's domain is simply not found. Every failure is the same 401, so the
    answer does not tell an attacker which tokens exist.
    """

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the token as: Authorization: Bearer TOKEN.")
        try:
            parsed = token_parse(parts[1].decode("ascii"))
        except (UnicodeDecodeError, MalformedToken):
            raise exceptions.AuthenticationFailed(INVALID) from None
        token = selectors.token_by_digest(token_digest(parsed.raw))
        if (
            token is None
            or token.revoked_at is not None
            or token.expires_at <= timezone.now()
            or not token.user.is_active
        ):
            raise exceptions.AuthenticationFailed(INVALID)
        wait = services.token_rate_limit(token=token)
        if wait is not None:
            raise exceptions.Throttled(wait=wait)
        services.token_used(token=token, audit=audit_context(request, user=token.user, token=token))
        return (token.user, token)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
