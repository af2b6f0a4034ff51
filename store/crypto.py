"""Field encryption at rest (AES-256-GCM). The associated data binds a ciphertext to its row,
so a value copied onto another row does not decrypt."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, bound_to: str) -> bytes:
        nonce = os.urandom(12)
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), bound_to.encode())

    def open(self, blob: bytes, bound_to: str) -> str:
        if blob[:1] != VERSION:
            raise ValueError("unknown ciphertext version")
        return self._aead.decrypt(blob[1:13], blob[13:], bound_to.encode()).decode()
