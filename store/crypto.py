"""Field encryption at rest (AES-256-GCM). The associated data binds a ciphertext to its row,
so a value copied onto another row does not decrypt.

Keys rotate: a sealer holds a ring of keys, newest first. It seals with the first and names
that key in the ciphertext; it opens whatever any key of its ring sealed. `relais rekey`
re-seals stored values with the current key, after which older keys can be retired."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# The id of a bare key in RELAIS_DATA_KEY / RELAIS_PAYLOAD_KEY: what every key was called
# before keys could rotate.
DEFAULT_KEY_ID = "relais-1"

# Version 1 (before rotation): 0x01 | nonce (12) | ciphertext — always the `relais-1` key.
# Version 2: 0x02 | key id length (1) | key id | nonce (12) | ciphertext.
V1 = b"\x01"
V2 = b"\x02"


@dataclass(frozen=True)
class Key:
    """One AES-256 key of a ring and the id that names it in what it encrypted."""

    id: str
    secret: bytes = field(repr=False)


class Sealer:
    """Seals and opens personal data with a ring of keys (see the module's docstring)."""

    def __init__(self, keys: bytes | Sequence[Key]) -> None:
        ring = [Key(DEFAULT_KEY_ID, keys)] if isinstance(keys, bytes) else list(keys)
        if not ring:
            raise ValueError("a sealer needs at least one key")
        self.current = ring[0]
        self._aead = {k.id: AESGCM(k.secret) for k in ring}
        self._order = [k.id for k in ring]
        self._mac_keys = [
            hmac.new(k.secret, b"relais keyed hash", hashlib.sha256).digest() for k in ring
        ]

    def keyed_hash(self, text: str) -> bytes:
        """Equal for equal texts, useless without the key (dedup keys); the current key's."""
        return self.keyed_hashes(text)[0]

    def keyed_hashes(self, text: str) -> list[bytes]:
        """The text's keyed hash under every key of the ring, current first: a duplicate
        stored before a rotation is still found."""
        return [hmac.new(k, text.encode(), hashlib.sha256).digest() for k in self._mac_keys]

    def seal(self, plaintext: str, bound_to: str) -> bytes:
        key_id = self.current.id.encode()
        nonce = os.urandom(12)
        sealed = self._aead[self.current.id].encrypt(nonce, plaintext.encode(), bound_to.encode())
        return V2 + bytes([len(key_id)]) + key_id + nonce + sealed

    def key_id(self, blob: bytes) -> str:
        """The id of the key that sealed `blob`."""
        if blob[:1] == V1:
            return DEFAULT_KEY_ID
        if blob[:1] == V2:
            return blob[2 : 2 + blob[1]].decode()
        raise ValueError("unknown ciphertext version")

    def is_current(self, blob: bytes) -> bool:
        return self.key_id(blob) == self.current.id

    def open(self, blob: bytes, bound_to: str) -> str:
        key_id = self.key_id(blob)
        body = blob[1:] if blob[:1] == V1 else blob[2 + blob[1] :]
        aead = self._aead.get(key_id)
        if aead is None:
            known = ", ".join(self._order)
            raise ValueError(f"sealed with key {key_id!r}, not in the ring ({known})")
        try:
            return aead.decrypt(body[:12], body[12:], bound_to.encode()).decode()
        except InvalidTag:
            raise ValueError(f"cannot open a value sealed with key {key_id!r}") from None
