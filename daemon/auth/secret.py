"""Token secrets: random, shown once, stored only as a SHA-256 digest.

A token is ``cdy_`` followed by 32 random bytes in URL-safe base64 (256 bits), so
a plain SHA-256 (no salt, no slow KDF) is the right storage: nothing can be
guessed, and lookups stay one indexed query per request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

TOKEN_PREFIX = "cdy_"
TOKEN_BYTES = 32


def new_secret() -> str:
    raw = secrets.token_bytes(TOKEN_BYTES)
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret against a stored digest."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
