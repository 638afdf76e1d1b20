"""Bearer tokens (and session / reset secrets): random, shown once, stored only as SHA-256
hashes.

A fast hash is enough: tokens carry 256 bits of entropy, so there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "lf_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_secret() -> str:
    """A random secret for a session cookie or a reset link (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_token(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
