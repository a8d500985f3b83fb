"""Encryption of secrets stored in the database (Fernet: AES-128-CBC + HMAC-SHA256).

The key is derived from ``FIELD_ENCRYPTION_KEY`` (or ``SECRET_KEY`` when that is empty),
so any string of enough entropy works as the setting's value. Ciphertexts are versioned
by nothing but the key: changing the key makes stored secrets unreadable, which
``secret_decrypt`` reports as ``SecretUnreadable`` so the owner can enter them again.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretUnreadable(Exception):
    """The stored ciphertext was made with another key or is damaged."""


def _fernet() -> Fernet:
    material = settings.FIELD_ENCRYPTION_KEY or settings.SECRET_KEY
    # A domain-separated hash, so the Fernet key is never the raw SECRET_KEY.
    digest = hashlib.sha256(b"opaa.field-encryption.v1\x00" + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def secret_encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return _fernet().encrypt(plaintext.encode()).decode("ascii")


def secret_decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return _fernet().decrypt(ciphertext.encode("ascii")).decode()
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable(
            "The stored secret cannot be decrypted with the current key."
        ) from exc
