"""Keys rotate: `RELAIS_DATA_KEY` and `RELAIS_PAYLOAD_KEY` hold `id:base64,…`, newest first;
the first encrypts, every key decrypts what it encrypted; the published development keys are
refused outside dev mode however they are spelled."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload

from relais.settings import DEV_DATA_KEY, DEV_PAYLOAD_KEY, Settings, parse_key_ring
from relais.temporal import EncryptionCodec
from store.crypto import Key, Sealer

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _respelled(key: str) -> str:
    """The same 32 bytes in another base64 spelling: the last character before the padding
    carries two bits that decoding ignores."""
    i = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(key[-2])
    other = (
        key[:-2] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i ^ 1] + "="
    )
    assert other != key and base64.b64decode(other) == base64.b64decode(key)
    return other


def _real(**kw) -> Settings:
    return Settings(dev_mode=False, database_url="postgresql://db/relais", **kw)


def test_a_bare_key_is_todays_key_and_a_ring_keeps_its_order():
    one, two = _key(), _key()
    assert [k.id for k in parse_key_ring(one, "K")] == ["relais-1"]
    ring = parse_key_ring(f" 2026-09:{two} , relais-1:{one}", "K")
    assert [(k.id, k.secret) for k in ring] == [
        ("2026-09", base64.b64decode(two)),
        ("relais-1", base64.b64decode(one)),
    ]
    s = _real(payload_key=f"b:{two},{one}", data_key=f"d2:{one},d1:{two}")
    assert s.payload_keys[0].id == "b" and s.payload_key_bytes == base64.b64decode(two)
    assert [k.id for k in s.data_keys] == ["d2", "d1"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a:{k},a:{l}", "share an id"),
        ("a:{k},b:{k}", "listed twice"),
        ("{k},{l}", "share an id"),  # two bare keys are both relais-1
        ("a b:{k}", "key id"),
        ("a:{k},", "empty entry"),
        ("a:c2hvcnQ=", "32 bytes"),
    ],
)
def test_a_ring_that_would_confuse_is_refused(value, message):
    with pytest.raises(ValidationError, match=message):
        Settings(dev_mode=True, data_key=value.format(k=_key(), l=_key()))


@pytest.mark.parametrize("field", ["payload_key", "data_key"])
@pytest.mark.parametrize(
    "spelling",
    [
        lambda dev: dev,
        _respelled,  # issue 18, item 9: compared as bytes, not as text
        lambda dev: f"new:{_key()},old:{dev}",  # kept as an older key: still published
    ],
)
def test_published_dev_keys_are_refused_outside_dev_mode(field, spelling):
    dev = DEV_PAYLOAD_KEY if field == "payload_key" else DEV_DATA_KEY
    other = "data_key" if field == "payload_key" else "payload_key"
    with pytest.raises(ValidationError, match=f"RELAIS_{field.upper()}"):
        _real(**{field: spelling(dev), other: _key()})
    assert Settings(dev_mode=True, **{field: spelling(dev)})  # fine on a developer's machine


def test_the_other_dev_key_is_refused_in_either_place():
    with pytest.raises(ValidationError, match="RELAIS_PAYLOAD_KEY"):
        _real(payload_key=DEV_DATA_KEY, data_key=_key())


def _v1_seal(key: bytes, plaintext: str, aad: str) -> bytes:
    """What the sealer wrote before keys rotated (version byte 1, no key id)."""
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), aad.encode())


def test_data_sealed_before_rotation_opens_after_and_new_data_uses_the_first_key():
    old, new = os.urandom(32), os.urandom(32)
    legacy = _v1_seal(old, "Camille N.", "referral:1:identity")
    before = Sealer(old).seal("Camille N.", "referral:1:identity")
    rotated = Sealer([Key("k2", new), Key("relais-1", old)])
    assert rotated.open(legacy, "referral:1:identity") == "Camille N."
    assert rotated.open(before, "referral:1:identity") == "Camille N."
    assert not rotated.is_current(before)
    after = rotated.seal("Camille N.", "referral:1:identity")
    assert rotated.key_id(after) == "k2" and rotated.is_current(after)
    assert Sealer([Key("k2", new)]).open(after, "referral:1:identity") == "Camille N."
    with pytest.raises(ValueError, match="relais-1"):  # the old key retired too early
        Sealer([Key("k2", new)]).open(before, "referral:1:identity")
    with pytest.raises(ValueError):  # still bound to its row
        rotated.open(after, "referral:2:identity")
    # Dedup hashes: the current key's first, then the older ones'.
    hashes = rotated.keyed_hashes("c|email|camille@example.fr")
    assert hashes[1] == Sealer(old).keyed_hash("c|email|camille@example.fr")
    assert hashes[0] == rotated.keyed_hash("c|email|camille@example.fr") != hashes[1]


async def test_payloads_encrypted_before_rotation_decode_after():
    old, new = os.urandom(32), os.urandom(32)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"email":"nadia@example.fr"}')
    [before] = await EncryptionCodec(old).encode([plain])
    assert before.metadata["encryption-key-id"] == b"relais-1"
    rotated = EncryptionCodec([Key("k2", new), Key("relais-1", old)])
    assert await rotated.decode([before]) == [plain]
    [after] = await rotated.encode([plain])
    assert after.metadata["encryption-key-id"] == b"k2"
    assert await EncryptionCodec([Key("k2", new)]).decode([after]) == [plain]
    with pytest.raises(ValueError, match="unknown key"):
        await EncryptionCodec([Key("k2", new)]).decode([before])
