"""Field encryption at rest (AES-256-GCM). The associated data binds a ciphertext to its row,
so a value copied onto another row does not decrypt."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self._mac_key = hmac.new(key, b"relais keyed hash", hashlib.sha256).digest()

    def keyed_hash(self, text: str) -> bytes:
        """Equal for equal texts, useless without the key (dedup keys)."""
        return hmac.new(self._mac_key, text.encode(), hashlib.sha256).digest()

    def seal(self, plaintext: str, bound_to: str) -> bytes:
        nonce = os.urandom(12)
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), bound_to.encode())

    def open(self, blob: bytes, bound_to: str) -> str:
        if blob[:1] != VERSION:
            raise ValueError("unknown ciphertext version")
        return self._aead.decrypt(blob[1:13], blob[13:], bound_to.encode()).decode()
