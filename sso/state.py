"""The OIDC ``state`` parameter, signed and bound to the organization that minted it.

The session already ties a state to one browser; the signature adds the organization
(schema) and the time, so a state minted at acme.localhost is refused at
globex.localhost with a clear reason even if both sites shared a cookie jar.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.db import connection
from django.utils.crypto import get_random_string

SALT = "sso.state"


class StateInvalid(Exception):
    pass


def state_mint() -> str:
    return signing.TimestampSigner(salt=SALT).sign_object(
        {"org": connection.schema_name, "r": get_random_string(32)}
    )


def state_check(state: str) -> None:
    try:
        value = signing.TimestampSigner(salt=SALT).unsign_object(
            state, max_age=settings.OIDC_STATE_MAX_AGE_S
        )
    except signing.SignatureExpired as exc:
        raise StateInvalid("This sign-in took too long. Please start again.") from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise StateInvalid("This sign-in response is not valid. Please start again.") from exc
    if not isinstance(value, dict) or value.get("org") != connection.schema_name:
        raise StateInvalid("This sign-in was started for another organization.")
