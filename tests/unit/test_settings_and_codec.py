"""Settings refuse development secrets outside dev mode; the codec really encrypts."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload

from domain.onboarding import MemberOnboardingInput
from relais.settings import Settings
from relais.temporal import EncryptionCodec, data_converter


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_dev_keys_refused_outside_dev_mode(monkeypatch):
    monkeypatch.delenv("RELAIS_PAYLOAD_KEY", raising=False)
    with pytest.raises(ValidationError) as err:
        Settings(dev_mode=False, database_url="postgresql://db/relais")
    assert "RELAIS_PAYLOAD_KEY" in str(err.value) and "RELAIS_DATA_KEY" in str(err.value)


def test_real_deployment_settings_from_environment(monkeypatch):
    monkeypatch.setenv("RELAIS_DATABASE_URL", "postgresql://relais@db/relais")
    monkeypatch.setenv("RELAIS_TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("RELAIS_PAYLOAD_KEY", _key())
    monkeypatch.setenv("RELAIS_DATA_KEY", _key())
    s = Settings()
    assert (s.dev_mode, s.temporal_address, s.json_logs) == (False, "temporal:7233", True)


def test_database_url_required_outside_dev(monkeypatch):
    monkeypatch.delenv("RELAIS_DATABASE_URL", raising=False)
    with pytest.raises(ValidationError, match="RELAIS_DATABASE_URL"):
        Settings(dev_mode=False, payload_key=_key(), data_key=_key())


def test_a_short_key_is_refused():
    with pytest.raises(ValidationError, match="32 bytes"):
        Settings(dev_mode=True, payload_key=base64.b64encode(b"short").decode())


async def test_codec_round_trip_and_no_plaintext():
    codec = EncryptionCodec(os.urandom(32))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"email":"nadia@example.fr"}')
    [encoded] = await codec.encode([plain])
    assert b"nadia@example.fr" not in encoded.SerializeToString()
    assert (await codec.decode([encoded])) == [plain]
    with pytest.raises(Exception):  # noqa: B017 - any failure: wrong key must not decode
        await EncryptionCodec(os.urandom(32)).decode([encoded])


async def test_converter_carries_pydantic_models_encrypted():
    conv = data_converter(Settings(dev_mode=True))
    value = MemberOnboardingInput(
        organisation_id="7b0e5f0e-4c1a-4d59-9a57-0b4f1b2a3c4d",
        contact_name="Nadia",
        contact_email="nadia@example.fr",
        started_by="t",
    )
    [payload] = await conv.encode([value])
    assert b"nadia@example.fr" not in payload.data
    [back] = await conv.decode([payload], [MemberOnboardingInput])
    assert back == value
