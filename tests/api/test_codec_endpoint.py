"""The operators' codec endpoint (Temporal's codec-server protocol) on a real workflow's
history, and the health routes that compose's healthchecks call."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.app import create_app
from domain.organisations import OrganisationKind, OrganisationStatus
from tests.factories import make_org

UI = "https://temporal.reseau-nord.example"


@pytest.fixture
async def api_settings(settings, dev_env):
    return settings.model_copy(
        update={
            "temporal_address": dev_env.client.service_client.config.target_host,
            "codec_cors_origins": f"{UI}, http://127.0.0.1:8233",
        }
    )


async def _stored_payloads(dev_env, workflow_id: str) -> dict:
    """The start event's input as the Temporal server stores it, in proto3 JSON: what the
    Web UI and the CLI send to the codec endpoint."""
    history = await dev_env.client.get_workflow_handle(workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    return json_format.MessageToDict(started.input)


async def test_an_admin_decodes_a_real_workflows_input_and_it_is_audited(
    client, actors, db, dev_env
):
    org = await make_org(db, OrganisationKind.MEMBER, status=OrganisationStatus.PENDING)
    started = await client.post(
        "/api/onboardings",
        headers=actors["staff"].headers,
        json={
            "organisation_id": str(org.id),
            "contact_name": "Nadia Benali",
            "contact_email": "nadia.benali@example.fr",
        },
    )
    assert started.status_code == 202, started.text
    body = await _stored_payloads(dev_env, started.json()["workflow_id"])
    [stored] = body["payloads"]
    assert b"nadia.benali" not in str(stored).encode()  # ciphertext as stored

    headers = {**actors["admin"].headers, "X-Namespace": "default", "Origin": UI}
    r = await client.post("/codec/decode", headers=headers, json=body)
    assert r.status_code == 200, r.text
    [plain] = r.json()["payloads"]
    [payload] = json_format.ParseDict(r.json(), Payloads()).payloads
    assert payload.metadata["encoding"] == b"json/plain"
    assert b'"contact_email":"nadia.benali@example.fr"' in payload.data
    assert plain["metadata"]["encoding"] == "anNvbi9wbGFpbg=="  # base64, as the UI expects
    assert r.headers["access-control-allow-origin"] == UI
    assert r.headers["access-control-allow-credentials"] == "true"

    audit = await db.fetchrow(
        "SELECT actor, action, entity_type, entity_id, data FROM audit_events "
        "WHERE action = 'payloads_decoded'"
    )
    assert (audit["actor"], audit["entity_type"], audit["entity_id"]) == (
        str(actors["admin"].user_id),
        "temporal_namespace",
        "default",
    )
    assert audit["data"] == {"payloads": 1, "undecoded": 0, "via": "browser"}

    # Encode goes the other way (the CLI's signal or start input), and decodes back.
    again = await client.post("/codec/encode", headers=headers, json=r.json())
    assert again.status_code == 200
    [enc] = json_format.ParseDict(again.json(), Payloads()).payloads
    assert enc.metadata["encoding"] == b"binary/encrypted" and b"nadia" not in enc.data
    back = await client.post("/codec/decode", headers=headers, json=again.json())
    assert back.json() == r.json()


@pytest.mark.parametrize("role", ["staff", "manager", "member", "agency", "partner"])
async def test_every_other_role_is_refused_and_nothing_is_decoded(client, actors, db, role):
    body = {"payloads": [{"metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": "AA=="}]}
    for path in ("/codec/decode", "/codec/encode"):
        r = await client.post(path, headers={**actors[role].headers, "Origin": UI}, json=body)
        assert r.status_code == 403, r.text
        assert "admin" in r.json()["detail"]
        assert r.headers["access-control-allow-origin"] == UI  # the UI can read the refusal
        anonymous = await client.post(path, json=body)
        assert anonymous.status_code == 401
        wrong = await client.post(path, headers={"Authorization": "Bearer rl_nope"}, json=body)
        assert wrong.status_code == 401
    assert await db.fetchval("SELECT count(*) FROM audit_events") == 0


async def test_cors_preflight_only_for_the_ui_origin(client):
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    ok = await client.options("/codec/decode", headers={**asked, "Origin": UI})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == UI
    assert "x-namespace" in ok.headers["access-control-allow-headers"]
    assert ok.headers["access-control-allow-credentials"] == "true"
    other = await client.options(
        "/codec/decode", headers={**asked, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers


async def test_bad_bodies_and_another_namespace_are_refused_in_french(client, actors):
    admin = actors["admin"].headers
    bad = await client.post(
        "/codec/decode", headers=admin, json={"payloads": [{"data": "pas du base64 !"}]}
    )
    assert bad.status_code == 422 and "base64" in bad.json()["detail"]
    other = await client.post(
        "/codec/decode", headers={**admin, "X-Namespace": "autre"}, json={"payloads": []}
    )
    assert other.status_code == 400 and "autre" in other.json()["detail"]


async def test_liveness_and_readiness(client):
    live = await client.get("/health/live")
    assert (live.status_code, live.json()) == (200, {"status": "alive"})
    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "postgres": "up",
        "temporal": "up",
        "migrations": "at_head",
        "pending_migrations": [],
    }
    assert (await client.get("/health")).json()["status"] == "ok"  # kept as it was


async def test_not_ready_while_migrations_are_pending(pg_server, api_settings):
    """An API started before `relais migrate` finished is alive but not ready."""
    admin = await asyncpg.connect(pg_server.get_uri())
    await admin.execute('DROP DATABASE IF EXISTS "relais_unmigrated"')
    await admin.execute('CREATE DATABASE "relais_unmigrated"')
    await admin.close()
    app = create_app(
        api_settings.model_copy(update={"database_url": pg_server.get_uri("relais_unmigrated")})
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        assert (await c.get("/health/live")).status_code == 200
        ready = await c.get("/health/ready")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not_ready" and body["migrations"] == "pending"
    assert body["pending_migrations"][0] == 1 and body["temporal"] == "up"


async def test_the_temporal_ui_decodes_with_the_admins_session(client, actors, db, dev_env):
    """The Web UI calls the codec endpoint from its own origin with the operator's session
    cookie ("include cross-origin credentials"): an admin's decodes, another role's is
    refused, and the cookie is worth nothing from any other origin or without one."""
    org = await make_org(db, OrganisationKind.MEMBER, status=OrganisationStatus.PENDING)
    started = await client.post(
        "/api/onboardings",
        headers=actors["staff"].headers,
        json={
            "organisation_id": str(org.id),
            "contact_name": "Nadia Benali",
            "contact_email": "nadia.benali@example.fr",
        },
    )
    body = await _stored_payloads(dev_env, started.json()["workflow_id"])
    admin, staff = actors["admin"].session, actors["staff"].session
    assert admin is not None and staff is not None
    ui = {"Origin": UI, "X-Namespace": "default"}
    r = await client.post("/codec/decode", headers={**ui, **admin.headers}, json=body)
    assert r.status_code == 200, r.text
    assert b"nadia.benali" in json_format.ParseDict(r.json(), Payloads()).payloads[0].data
    assert r.headers["access-control-allow-origin"] == UI
    r = await client.post("/codec/decode", headers={**ui, **staff.headers}, json=body)
    assert r.status_code == 403
    elsewhere = {**ui, "Origin": "https://evil.example", **admin.headers}
    r = await client.post("/codec/decode", headers=elsewhere, json=body)
    assert r.status_code in (401, 403) and "nadia" not in r.text
    r = await client.post("/codec/decode", headers=ui, json=body)
    assert r.status_code == 401
