"""The one way every process talks to Temporal: pydantic payloads, encrypted by a codec."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

from relais.settings import Settings
from store.crypto import DEFAULT_KEY_ID, Key

ENCODING = b"binary/encrypted"
KEY_ID = DEFAULT_KEY_ID.encode()


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each whole payload; the key id travels in metadata so keys rotate.

    Workflow inputs carry personal data (contacts, candidates): with this codec the Temporal
    database and Web UI only ever hold ciphertext. It encrypts with the first key of its
    ring and decrypts with whichever key a payload names: histories written before a
    rotation stay readable (replay, queries, the codec endpoint) as long as their key is
    kept in `RELAIS_PAYLOAD_KEY`.
    """

    def __init__(self, keys: bytes | Sequence[Key]) -> None:
        ring = [Key(DEFAULT_KEY_ID, keys)] if isinstance(keys, bytes) else list(keys)
        if not ring:
            raise ValueError("a codec needs at least one key")
        self._key_id = ring[0].id.encode()
        self._aead = {k.id.encode(): AESGCM(k.secret) for k in ring}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={"encoding": ENCODING, "encryption-key-id": self._key_id},
                data=self._encrypt(p.SerializeToString()),
            )
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out: list[Payload] = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)
                continue
            key_id = p.metadata.get("encryption-key-id", b"")
            aead = self._aead.get(key_id)
            if aead is None:
                raise ValueError(f"payload encrypted with unknown key {key_id!r}")
            out.append(Payload.FromString(aead.decrypt(p.data[:12], p.data[12:], None)))
        return out

    def _encrypt(self, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead[self._key_id].encrypt(nonce, data, None)


def data_converter(settings: Settings) -> DataConverter:
    return dataclasses.replace(
        pydantic_data_converter, payload_codec=EncryptionCodec(settings.payload_keys)
    )


async def connect(settings: Settings) -> Client:
    tls: bool | TLSConfig = settings.temporal_tls
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        tls=tls,
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
    )
