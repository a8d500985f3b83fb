"""Encryption of secrets stored in the database: ``encrypt(str) -> str``, ``decrypt(str) -> str``.

Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from ``FIELD_ENCRYPTION_KEY``, or
from ``SECRET_KEY`` when that is empty. This is the only Fernet helper: the former
``sso.encryption`` used the same derivation, so the SSO client secrets it stored read here.
Changing the key makes stored secrets unreadable: ``decrypt`` then raises
``SecretUnreadable`` so the owner can enter them again. Plaintexts are never logged.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretUnreadable(Exception):
    """The stored ciphertext was made with another key or is damaged."""


def _fernet() -> Fernet:
    material = getattr(settings, "FIELD_ENCRYPTION_KEY", "") or settings.SECRET_KEY
    # A domain-separated hash, so the Fernet key is never the raw SECRET_KEY.
    digest = hashlib.sha256(b"opaa.field-encryption.v1\x00" + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return _fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return _fernet().decrypt(ciphertext.encode("ascii")).decode()
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable(
            "The stored secret cannot be decrypted with the current key."
        ) from exc
