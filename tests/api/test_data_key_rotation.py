"""Rotating RELAIS_DATA_KEY on a running campaign: what the old key sealed still opens, the
same person is still recognised, `relais rekey` re-seals everything with the new key (once:
run again it changes nothing), and the old key can then go."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from domain.auth import Role
from domain.organisations import OrganisationKind
from tests.api.conftest import Actor
from tests.api.test_recruitment import campaign_body, candidate
from tests.factories import make_org, make_user
from worker.main import build_worker

RELAIS = Path(sys.executable).parent / "relais"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@asynccontextmanager
async def api_with(settings, data_key: str):
    app = create_app(settings.model_copy(update={"data_key": SecretStr(data_key)}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        yield c


def rekey(database_url: str, data_key: str) -> subprocess.CompletedProcess:
    """`relais rekey` as an operator runs it: its own process, a real deployment's settings."""
    env = {
        **os.environ,
        "RELAIS_DATABASE_URL": database_url,
        "RELAIS_DATA_KEY": data_key,
        "RELAIS_PAYLOAD_KEY": _key(),
        "RELAIS_LOG_LEVEL": "WARNING",
    }
    env.pop("RELAIS_DEV_MODE", None)
    return subprocess.run(
        [str(RELAIS), "rekey", "--batch", "2"], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
async def second_agency(db) -> Actor:
    org = await make_org(db, OrganisationKind.AGENCY, name="Massajobs")
    user_id, token = await make_user(db, org.id, Role.AGENCY)
    return Actor(user_id, org.id, token)


@pytest.fixture
async def worker(api_settings, db, dev_env):
    async with build_worker(dev_env.client, db, api_settings) as w:
        yield w


async def _identity(api, actors, referral_id: str) -> dict:
    r = await api.get(f"/api/referrals/{referral_id}", headers=actors["staff"].headers)
    assert r.status_code == 200, r.text
    return r.json()["identity"]


async def test_rotation_keeps_old_data_readable_and_rekey_reseals_it(
    api_settings, worker, actors, second_agency, db, database_url
):
    old, new = _key(), _key()
    agency = actors["agency"]
    body = campaign_body(actors, second_agency)

    # Before the rotation: a campaign and three candidates, sealed with today's key.
    async with api_with(api_settings, old) as api:
        campaign = await api.post("/api/campaigns", json=body, headers=actors["staff"].headers)
        assert campaign.status_code == 201, campaign.text
        cid = campaign.json()["id"]
        people = [
            candidate(email=f"camille{n}@example.fr", last_name=f"N{n}", phone=f"06 00 00 00 0{n}")
            for n in range(3)
        ]
        before = []
        for person in people:
            r = await api.post(
                f"/api/campaigns/{cid}/referrals", json=person, headers=agency.headers
            )
            assert r.status_code == 201, r.text
            before.append(r.json()["referral_id"])
    raw = await db.fetchval("SELECT identity_enc FROM referrals LIMIT 1")
    assert raw[:1] == b"\x02" and raw[2 : 2 + raw[1]] == b"relais-1"

    # Rotated: the new key first, the old one kept. Old data opens, the same person referred
    # again is recognised, and a new candidate is sealed with the new key.
    ring = f"k2:{new},{old}"
    async with api_with(api_settings, ring) as api:
        assert (await _identity(api, actors, before[0]))["email"] == "camille0@example.fr"
        again = candidate(request_id="again", email="camille1@example.fr", phone=None)
        dup = await api.post(f"/api/campaigns/{cid}/referrals", json=again, headers=agency.headers)
        assert dup.status_code == 200 and dup.json()["status"] == "duplicate", dup.text
        fresh = candidate(
            request_id="fresh", email="sacha@example.fr", phone=None, last_name="Fresh"
        )
        r = await api.post(f"/api/campaigns/{cid}/referrals", json=fresh, headers=agency.headers)
        assert r.status_code == 201
        after = r.json()["referral_id"]
    key_ids = "SELECT substring(identity_enc from 3 for get_byte(identity_enc, 1)) FROM referrals"
    assert sorted(r[0] for r in await db.fetch(key_ids)) == [b"k2"] * 2 + [b"relais-1"] * 3

    # An erased candidate stays erased: rekey never brings data back.
    erase = "UPDATE referrals SET identity_enc = NULL, cv_enc = NULL WHERE id = $1"
    await db.execute(erase, uuid.UUID(before[2]))

    first = rekey(database_url, ring)
    assert first.returncode == 0, first.stderr
    assert "clé k2 : 2 données re-chiffrées, 2 déjà à jour" in first.stdout
    second = rekey(database_url, ring)
    assert "clé k2 : 0 données re-chiffrées, 4 déjà à jour" in second.stdout, second.stdout
    assert sorted(r[0] or b"" for r in await db.fetch(key_ids)) == [b""] + [b"k2"] * 4
    audit = await db.fetch(
        "SELECT actor, entity_id, data FROM audit_events WHERE action = 'data_rekeyed'"
    )
    assert [(a["actor"], a["entity_id"], a["data"]["resealed"]) for a in audit] == [
        ("system", "k2", 2)
    ]

    # The old key retired: everything still opens, CVs included, and the same person is
    # still recognised (the hashes were recomputed with the new key).
    async with api_with(api_settings, f"k2:{new}") as api:
        for rid, person in zip(before[:2], people, strict=False):
            ident = await _identity(api, actors, rid)
            assert (ident["email"], ident["cv_text"]) == (person["email"], person["cv_text"])
        assert (await _identity(api, actors, after))["last_name"] == "Fresh"
        assert await _identity(api, actors, before[2]) is None  # erased stays erased
        third = candidate(request_id="third", email="x@example.fr", phone="06 00 00 00 00")
        dup = await api.post(f"/api/campaigns/{cid}/referrals", json=third, headers=agency.headers)
        assert dup.json()["status"] == "duplicate", dup.text
    # Without the key that sealed them, rekey says so and fails.
    lost = rekey(database_url, f"k3:{_key()}")
    assert lost.returncode == 1 and "5 données illisibles" in lost.stderr
