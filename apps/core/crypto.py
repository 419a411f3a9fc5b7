"""Encryption at rest for secrets kept in the database (browser session state, proxy
credentials). Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`.

Production requires FIELD_ENCRYPTION_KEY (settings refuse to start without it). Development and
tests derive a key from SECRET_KEY so `make run` works with no setup. Several comma-separated
keys allow rotation: the first encrypts, all decrypt."""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt"]


def _as_fernet_key(raw: str) -> bytes:
    raw = raw.strip()
    try:
        if len(base64.urlsafe_b64decode(raw.encode())) == 32:
            return raw.encode()
    except ValueError:
        pass
    # Not a Fernet key: stretch whatever was given into one (deterministic).
    return base64.urlsafe_b64encode(hashlib.sha256(raw.encode()).digest())


@cache
def _fernet() -> MultiFernet:
    configured = settings.FIELD_ENCRYPTION_KEY or f"derived-from-secret-key:{settings.SECRET_KEY}"
    keys = [k for k in configured.split(",") if k.strip()]
    return MultiFernet([Fernet(_as_fernet_key(k)) for k in keys])


def encrypt(data: bytes) -> bytes:
    return _fernet().encrypt(data)


def decrypt(token: bytes) -> bytes:
    """Raises cryptography.fernet.InvalidToken when the data was not made with our keys."""
    return _fernet().decrypt(bytes(token))
