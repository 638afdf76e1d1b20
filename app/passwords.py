"""Account passwords: argon2id hashes (argon2-cffi), computed off the event loop.

Contracts:

* :func:`hash_password` / :func:`verify_password` run the (deliberately slow, 64 MiB) hash in
  a worker thread, at most :data:`CONCURRENT_HASHES` at once per process, so a burst of logins
  bounds memory and never blocks the event loop.
* :func:`verify_password` returns ``(ok, new_hash)``: ``new_hash`` is set when the password
  was right but its stored hash used other parameters than today's (the caller stores it:
  rehash on login).
* :func:`verify_password` with ``stored=None`` (an unknown account) still spends a hash, so
  a login does not reveal whether the account exists by its timing.
* :func:`new_password` is a random password for an account created from the CLI.

Pure apart from the worker thread: no I/O, no app state.
"""

from __future__ import annotations

import asyncio
import secrets
import weakref
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: argon2-cffi's defaults: RFC 9106's low-memory profile (argon2id, t=3, m=64 MiB, p=4).
HASHER = PasswordHasher()
#: Hashes running at once per process: each takes 64 MiB and a core for ~50 ms.
CONCURRENT_HASHES = 2
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024

_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


@cache
def _dummy_hash() -> str:
    """A hash of nothing anyone knows, verified against for unknown accounts."""
    return HASHER.hash(secrets.token_urlsafe(16))


def _slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slot = _slots.get(loop)
    if slot is None:
        slot = _slots[loop] = asyncio.Semaphore(CONCURRENT_HASHES)
    return slot


def new_password() -> str:
    """A random 20-character password (120 bits)."""
    return secrets.token_urlsafe(15)


async def hash_password(password: str) -> str:
    async with _slot():
        return await asyncio.to_thread(HASHER.hash, password)


def _verify(stored: str | None, password: str) -> tuple[bool, str | None]:
    try:
        HASHER.verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False, None
    if stored is None:
        return False, None
    return True, (HASHER.hash(password) if HASHER.check_needs_rehash(stored) else None)


async def verify_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """(the password matches ``stored``, a new hash to store when parameters changed)."""
    async with _slot():
        return await asyncio.to_thread(_verify, stored, password)
