"""The first whole chain: API → Temporal → activities → Postgres → API read-back."""

from __future__ import annotations

import asyncio

from tests.factories import make_org


async def _wait_step(client, org_id, headers, step, tries=100):
    for _ in range(tries):
        r = await client.get(f"/api/onboardings/{org_id}", headers=headers)
        if r.status_code == 200 and r.json()["step"] == step:
            return r.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached {step}: {r.status_code} {r.text}")


async def test_onboarding_end_to_end_through_the_api(client, actors, db):
    from domain.organisations import OrganisationStatus

    staff, member = actors["staff"], actors["member"]
    await db.execute(
        "UPDATE organisations SET status='pending' WHERE id=$1", member.organisation_id
    )
    body = {
        "organisation_id": str(member.organisation_id),
        "contact_name": "Nadia Benali",
        "contact_email": "nadia@boulangerie-canet.fr",
    }
    r = await client.post("/api/onboardings", json=body, headers=staff.headers)
    assert r.status_code == 202, r.text
    wid = r.json()["workflow_id"]

    r = await client.post("/api/onboardings", json=body, headers=staff.headers)
    assert r.status_code == 409 and "déjà en cours" in r.json()["detail"]

    await _wait_step(client, member.organisation_id, member.headers, "awaiting_charter")
    r = await client.get("/api/tasks", headers=member.headers)
    assert [t["action"] for t in r.json()] == ["accept_charter"]
    r = await client.get("/api/processes", headers=member.headers)
    assert [(p["workflow_id"], p["status"]) for p in r.json()["items"]] == [(wid, "waiting")]

    # Another organisation cannot see nor act on it.
    agency = actors["agency"]
    r = await client.get(f"/api/onboardings/{member.organisation_id}", headers=agency.headers)
    assert r.status_code == 404
    r = await client.post(
        f"/api/onboardings/{member.organisation_id}/charter",
        json={"request_id": "a1"},
        headers=agency.headers,
    )
    assert r.status_code == 403

    r = await client.post(
        f"/api/onboardings/{member.organisation_id}/charter",
        json={"request_id": "accept-1"},
        headers=member.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["step"] == "active"
    # The same request replayed (network retry) answers the same, changes nothing.
    again = await client.post(
        f"/api/onboardings/{member.organisation_id}/charter",
        json={"request_id": "accept-1"},
        headers=member.headers,
    )
    assert again.status_code == 200 and again.json()["accepted_at"] == r.json()["accepted_at"]

    r = await client.get(f"/api/organisations/{member.organisation_id}", headers=member.headers)
    assert r.json()["status"] == OrganisationStatus.ACTIVE
    assert await db.fetchval("SELECT count(*) FROM outbox") == 1
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_events ORDER BY id")]
    assert actions == ["onboarding.started", "membership.activated"]
    r = await client.get(f"/api/processes/{wid}", headers=staff.headers)
    assert r.json()["process"]["status"] == "completed"


async def test_onboarding_input_and_refusals(client, actors, db):
    staff = actors["staff"]
    r = await client.post(
        "/api/onboardings",
        json={
            "organisation_id": str(actors["member"].organisation_id),
            "contact_name": "N",
            "contact_email": "x",
        },
        headers=staff.headers,
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"contact_name", "contact_email"}
    # Already an active member.
    r = await client.post(
        "/api/onboardings",
        json={
            "organisation_id": str(actors["member"].organisation_id),
            "contact_name": "Nadia",
            "contact_email": "n@example.fr",
        },
        headers=staff.headers,
    )
    assert r.status_code == 409 and "déjà adhérente" in r.json()["detail"]
    # An agency is not a member company.
    r = await client.post(
        "/api/onboardings",
        json={
            "organisation_id": str(actors["agency"].organisation_id),
            "contact_name": "Nadia",
            "contact_email": "n@example.fr",
        },
        headers=staff.headers,
    )
    assert r.status_code == 409
    r = await client.post(
        "/api/onboardings",
        json={
            "organisation_id": str(actors["member"].organisation_id),
            "contact_name": "Nadia",
            "contact_email": "n@example.fr",
        },
        headers=actors["member"].headers,
    )
    assert r.status_code == 403
    assert await db.fetchval("SELECT count(*) FROM processes") == 0


async def test_staff_cancel_then_member_cannot_accept(client, actors, db):
    staff = actors["staff"]
    org = await make_org(db, name="Pressing de Saint-Louis")
    await db.execute("UPDATE organisations SET status='pending' WHERE id=$1", org.id)
    r = await client.post(
        "/api/onboardings",
        json={
            "organisation_id": str(org.id),
            "contact_name": "Marc Durand",
            "contact_email": "marc@example.fr",
        },
        headers=staff.headers,
    )
    assert r.status_code == 202
    r = await client.post(
        f"/api/onboardings/{org.id}/cancel",
        json={"request_id": "c1", "reason": "doublon"},
        headers=staff.headers,
    )
    assert r.status_code == 200 and r.json()["step"] == "cancelled"
    r = await client.post(
        f"/api/onboardings/{org.id}/charter", json={"request_id": "late"}, headers=staff.headers
    )
    assert r.status_code == 409 and "close" in r.json()["detail"]


async def test_health_reports_both_parts_up(client):
    r = await client.get("/health")
    assert r.json() == {"status": "ok", "postgres": "up", "temporal": "up"}
