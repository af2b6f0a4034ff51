"""Passwords hashed with argon2id (argon2-cffi's defaults: RFC 9106's second profile), off
the event loop: a hash takes tens of milliseconds of CPU and 64 MiB on purpose."""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@functools.cache
def _dummy() -> str:
    # Checked against when the address has no password, so that an unknown address takes
    # as long to refuse as a wrong password.
    return _hasher.hash("relais: no password set for this address")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> tuple[bool, bool]:
    try:
        _hasher.verify(stored or _dummy(), password)
    except (VerificationError, InvalidHashError):
        return False, False
    return stored is not None, stored is not None and _hasher.check_needs_rehash(stored)


async def verify_password(stored: str | None, password: str) -> tuple[bool, bool]:
    """Whether `password` matches `stored` (never when None), and whether the hash should be
    renewed with today's parameters."""
    return await asyncio.to_thread(_verify, stored, password)
