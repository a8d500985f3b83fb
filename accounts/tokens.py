"""The token format: ``opaa_<kind>_<32 random base62><6 base62 CRC32 checksum>``.

Pure functions, no database: a malformed token (wrong prefix, length, alphabet or
checksum) is rejected before any lookup. Only an HMAC-SHA256 digest keyed with the
server's pepper is stored, so a leaked database does not leak usable tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import zlib
from dataclasses import dataclass

from django.conf import settings

ALPHABET = string.digits + string.ascii_letters  # base62
RANDOM_LENGTH = 32  # about 190 bits
CHECKSUM_LENGTH = 6  # 62**6 > 2**32: any CRC32 fits
KINDS = ("pat", "sat")  # personal access token, service-account token
TOKEN_RE = re.compile(
    rf"^opaa_(?P<kind>pat|sat)_(?P<random>[0-9A-Za-z]{{{RANDOM_LENGTH}}})"
    rf"(?P<checksum>[0-9A-Za-z]{{{CHECKSUM_LENGTH}}})$"
)


class MalformedToken(ValueError):
    """Not an OPAA token; says nothing about which part was wrong."""


@dataclass(frozen=True)
class ParsedToken:
    kind: str
    raw: str = ""

    def __repr__(self) -> str:  # never show the secret in logs or tracebacks
        return f"ParsedToken(kind={self.kind!r})"


def base62(number: int, *, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, ALPHABET[0])


def checksum(random_part: str) -> str:
    return base62(zlib.crc32(random_part.encode("ascii")), width=CHECKSUM_LENGTH)


def token_generate(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown token kind {kind!r}")
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"opaa_{kind}_{random_part}{checksum(random_part)}"


def token_parse(raw: str) -> ParsedToken:
    """Check the shape and checksum of ``raw``; raises MalformedToken. No database."""
    match = TOKEN_RE.match(raw or "")
    if match is None or not hmac.compare_digest(checksum(match["random"]), match["checksum"]):
        raise MalformedToken("malformed token")
    return ParsedToken(kind=match["kind"], raw=raw)


def token_digest(raw: str) -> str:
    """HMAC-SHA256 of the whole token, keyed with TOKEN_PEPPER (or SECRET_KEY)."""
    pepper = (settings.TOKEN_PEPPER or settings.SECRET_KEY).encode()
    return hmac.new(pepper, raw.encode("ascii"), hashlib.sha256).hexdigest()


def token_display_prefix(raw: str) -> str:
    """What lists show to tell tokens apart: the kind and four random characters."""
    return raw[: len("opaa_pat_") + 4]
