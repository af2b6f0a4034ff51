"""The backup README « Déploiement » describes, done for real: Relais' database dumped with
pg_dump, restored with pg_restore into a new Postgres cluster (pgserver's bundled binaries,
the same major as compose's Postgres), and an API on the restored copy reads what the
original showed — the directory, a campaign, its candidates (their sealed identity opens
with the same keys), the process list — with its schema at head."""

from __future__ import annotations

import subprocess
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pgserver
import pytest
from pgserver._commands import POSTGRES_BIN_PATH

from api.app import create_app
from domain.auth import Role
from domain.organisations import OrganisationKind
from tests.api.conftest import Actor
from tests.api.test_recruitment import campaign_body, candidate
from tests.factories import make_org, make_user


@pytest.fixture
async def second_agency(db) -> Actor:
    org = await make_org(db, OrganisationKind.AGENCY, name="Massajobs")
    user_id, token = await make_user(db, org.id, Role.AGENCY)
    return Actor(user_id, org.id, token)


@asynccontextmanager
async def api_on(settings, database_url: str):
    app = create_app(settings.model_copy(update={"database_url": database_url}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        yield c


async def _reads(api: httpx.AsyncClient, actors, campaign_id: str, referral_id: str) -> dict:
    staff = actors["staff"].headers
    out = {}
    for name, path in {
        "organisations": "/api/organisations?limit=100",
        "campaign": f"/api/campaigns/{campaign_id}",
        "referrals": f"/api/campaigns/{campaign_id}/referrals",
        "referral": f"/api/referrals/{referral_id}",
        "report": f"/api/campaigns/{campaign_id}/report",
        "processes": "/api/processes",
    }.items():
        r = await api.get(path, headers=staff)
        assert r.status_code == 200, (path, r.text)
        out[name] = r.json()
    return out


def _pg(tool: str, *args: str) -> None:
    done = subprocess.run(
        [str(POSTGRES_BIN_PATH / tool), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


async def test_dump_and_restore_into_a_new_cluster(
    client, api_settings, actors, second_agency, database_url, tmp_path
):
    staff, agency = actors["staff"].headers, actors["agency"].headers
    r = await client.post(
        "/api/campaigns", json=campaign_body(actors, second_agency), headers=staff
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = await client.post(f"/api/campaigns/{cid}/referrals", json=candidate(), headers=agency)
    assert r.status_code == 201, r.text
    rid = r.json()["referral_id"]
    before = await _reads(client, actors, cid, rid)
    assert before["referral"]["identity"]["email"] == "ines.martin@example.fr"

    dump = tmp_path / "relais.dump"
    _pg("pg_dump", "--format=custom", f"--file={dump}", f"--dbname={database_url}")

    restored = pgserver.get_server(tmp_path / "restored", cleanup_mode="stop")
    try:
        admin = await asyncpg.connect(restored.get_uri())
        await admin.execute('CREATE DATABASE "relais"')
        await admin.close()
        url = restored.get_uri("relais")
        _pg("pg_restore", "--exit-on-error", "--no-owner", f"--dbname={url}", str(dump))
        async with api_on(api_settings, url) as copy:
            after = await _reads(copy, actors, cid, rid)
            ready = await copy.get("/health/ready")
    finally:
        restored.cleanup()
    assert after == before
    assert ready.status_code == 200 and ready.json()["migrations"] == "at_head"
