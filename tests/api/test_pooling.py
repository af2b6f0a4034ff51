"""Pooled services and reservations through the API: catalogue, bad input, idempotency, who
sees what, a pool from request to invoice, a reservation freed for the waitlist."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.auth import Role
from domain.organisations import OrganisationKind, OrganisationStatus
from domain.pooling import in_next_month
from tests.api.conftest import Actor
from tests.factories import make_org, make_user, session_for


def next_month(day: int = 5) -> date:
    return in_next_month(datetime.now(UTC).date(), day)


def service_body(provider_id, **over):
    body = {
        "code": f"compta-{uuid.uuid4().hex[:6]}",
        "name": "Comptable partagé",
        "unit": "day",
        "pooling": {"min_participants": 2, "min_quantity": 0},
        "window_days": 60,
        "cost": {"fixed_cents": 50_000, "per_unit_cents": 45_000},
        "split_rule": "pro_rata_quantity",
        "acceptance_days": 7,
        "provider_id": str(provider_id),
    }
    return {**body, **over}


@pytest.fixture
async def provider(db):
    org = await make_org(db, OrganisationKind.PROVIDER, name="Cabinet Comptable du Port")
    user_id, token = await make_user(db, org.id, Role.PARTNER)
    return Actor(user_id, org.id, token)


@pytest.fixture
async def service(client, actors, provider):
    r = await client.post(
        "/api/services",
        json=service_body(provider.organisation_id),
        headers=actors["staff"].headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _member(db, name: str, **kw) -> Actor:
    org = await make_org(db, name=name, **kw)
    user_id, token = await make_user(db, org.id, Role.MEMBER)
    return Actor(user_id, org.id, token)


async def test_catalogue_is_kept_by_staff_with_clear_errors(client, actors, provider):
    staff = actors["staff"].headers
    body = service_body(provider.organisation_id)
    r = await client.post("/api/services", json=body, headers=actors["member"].headers)
    assert r.status_code == 403
    assert (await client.post("/api/services", json=body, headers=staff)).status_code == 201
    r = await client.post("/api/services", json=body, headers=staff)
    assert r.status_code == 409 and "existe déjà" in r.json()["detail"]
    r = await client.post(
        "/api/services",
        json=service_body(actors["agency"].organisation_id, code="autre"),
        headers=staff,
    )
    assert r.status_code == 422 and "prestataire" in r.json()["detail"]
    r = await client.post(
        "/api/services",
        json=service_body(provider.organisation_id, unit="week", cost={"fixed_cents": -1}),
        headers=staff,
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"unit", "cost.fixed_cents", "cost.per_unit_cents"} <= fields
    listed = await client.get("/api/services", headers=actors["member"].headers)
    assert [s["code"] for s in listed.json()] == [body["code"]]


async def test_bad_requests_get_clear_errors(client, actors, service, db):
    member = actors["member"].headers
    url = f"/api/services/{service['code']}/requests"
    ok = {"request_id": "r1", "quantity": 2, "needed_by": next_month().isoformat()}

    r = await client.post(url, json={**ok, "quantity": 0}, headers=member)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quantity"
    r = await client.post("/api/services/inconnu/requests", json=ok, headers=member)
    assert r.status_code == 404
    today = datetime.now(UTC).date()
    r = await client.post(url, json={**ok, "needed_by": today.isoformat()}, headers=member)
    assert r.status_code == 422 and "est close depuis" in r.json()["detail"]
    far = (today + timedelta(days=400)).isoformat()
    r = await client.post(url, json={**ok, "needed_by": far}, headers=member)
    assert r.status_code == 422 and "ouvre le" in r.json()["detail"]
    r = await client.post(url, json=ok, headers=actors["agency"].headers)
    assert r.status_code == 403

    pending = await _member(db, "Fournil en attente", status=OrganisationStatus.PENDING)
    r = await client.post(url, json=ok, headers=pending.headers)
    assert r.status_code == 403 and "pas (encore) active" in r.json()["detail"]

    restricted = await client.post(
        "/api/services",
        json=service_body(service["provider_id"], territories=["Aubagne"]),
        headers=actors["staff"].headers,
    )
    r = await client.post(
        f"/api/services/{restricted.json()['code']}/requests", json=ok, headers=member
    )
    assert r.status_code == 403 and "Aubagne" in r.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM service_requests") == 0


async def test_retried_request_is_one_request_and_members_see_only_theirs(
    client, actors, service, db
):
    url = f"/api/services/{service['code']}/requests"
    body = {"request_id": "r1", "quantity": 2, "needed_by": next_month().isoformat()}
    first, again = await asyncio.gather(
        client.post(url, json=body, headers=actors["member"].headers),
        client.post(url, json=body, headers=actors["member"].headers),
    )
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["status"] == "joined" and first.json()["pool_status"] == "gathering"
    assert await db.fetchval("SELECT count(*) FROM service_requests") == 1

    other = await _member(db, "Garage des Aygalades")
    r = await client.get(f"/api/service-requests/{first.json()['id']}", headers=other.headers)
    assert r.status_code == 404
    assert (await client.get("/api/service-requests", headers=other.headers)).json()["total"] == 0
    r = await client.get("/api/service-requests", headers=actors["staff"].headers)
    assert r.json()["total"] == 1
    assert (await client.get("/api/pools", headers=other.headers)).status_code == 403
    r = await client.post(url, json={**body, "request_id": "r2"}, headers=actors["member"].headers)
    assert r.status_code == 409 and "déjà une demande" in r.json()["detail"]


async def _wait(client, request_id, headers, status_: str):
    for _ in range(100):
        r = await client.get(f"/api/service-requests/{request_id}", headers=headers)
        if r.json()["status"] == status_:
            return r.json()
        await asyncio.sleep(0.1)
    raise AssertionError(f"request never reached {status_}: {r.json()}")


async def test_pool_from_requests_to_invoices(client, actors, service, provider, db):
    members = [actors["member"], await _member(db, "Garage des Aygalades")]
    url = f"/api/services/{service['code']}/requests"
    ids = []
    for i, m in enumerate(members):
        body = {"request_id": "r1", "quantity": 1 + i, "needed_by": next_month().isoformat()}
        r = await client.post(url, json=body, headers=m.headers)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    quoted = [
        await _wait(client, i, m.headers, "quoted") for i, m in zip(ids, members, strict=True)
    ]
    total = 50_000 + 45_000 * 3
    assert sum(q["quote_cents"] for q in quoted) == total
    assert [q["quote_cents"] for q in quoted] == [61_667, 123_333]  # pro rata of 1 and 2 days

    tasks = (await client.get("/api/tasks", headers=members[1].headers)).json()
    assert [t["action"] for t in tasks] == ["accept_quote"]
    r = await client.post(
        f"/api/service-requests/{ids[0]}/quote",
        json={"accept": True, "quote_cents": 61_667},
        headers=members[1].headers,
    )
    assert r.status_code == 404  # not its request
    r = await client.post(
        f"/api/service-requests/{ids[0]}/quote", json={"accept": True}, headers=members[0].headers
    )
    assert r.status_code == 422 and "quote_cents" in r.json()["detail"]
    r = await client.post(
        f"/api/service-requests/{ids[0]}/quote",
        json={"accept": True, "quote_cents": 1},
        headers=members[0].headers,
    )
    assert r.status_code == 409 and "le devis a changé" in r.json()["detail"]
    r = await client.post(
        f"/api/service-requests/{ids[0]}/rating", json={"stars": 5}, headers=members[0].headers
    )
    assert r.status_code == 409 and "livraison" in r.json()["detail"]
    for q, m in zip(quoted, members, strict=True):
        r = await client.post(
            f"/api/service-requests/{q['id']}/quote",
            json={"accept": True, "quote_cents": q["quote_cents"]},
            headers=m.headers,
        )
        assert r.status_code == 200, r.text
    await _wait(client, ids[1], members[1].headers, "committed")

    pool_id = quoted[0]["pool_id"]
    outsider = await make_org(db, OrganisationKind.PROVIDER, name="Autre prestataire")
    _, token = await make_user(db, outsider.id, Role.PARTNER)
    foreign = {"Authorization": f"Bearer {token}"}
    assert (await client.get(f"/api/pools/{pool_id}", headers=foreign)).status_code == 404
    assert (await client.get("/api/pools", headers=provider.headers)).json()["total"] == 1
    r = await client.post(
        f"/api/pools/{pool_id}/delivery", json={"delivered": False}, headers=provider.headers
    )
    assert r.status_code == 422 and "motivée" in r.json()["detail"]
    r = await client.post(
        f"/api/pools/{pool_id}/order",
        json={"confirmed": True, "reference": "CMD-7"},
        headers=provider.headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "confirmed", r.text
    r = await client.post(
        f"/api/pools/{pool_id}/delivery", json={"delivered": True}, headers=provider.headers
    )
    assert r.status_code == 200 and r.json()["status"] == "rating"
    assert r.json()["invoiced_cents"] == total

    detail = (await client.get(f"/api/pools/{pool_id}", headers=actors["manager"].headers)).json()
    assert sum(line["amount_cents"] for line in detail["invoice_lines"]) == total
    assert detail["live"]["status"] == "rating"
    mine = await client.get(f"/api/service-requests/{ids[1]}", headers=members[1].headers)
    assert mine.json()["invoiced_cents"] == 123_333
    r = await client.post(
        f"/api/service-requests/{ids[1]}/rating",
        json={"stars": 4, "comment": "Disponible et clair"},
        headers=members[1].headers,
    )
    assert r.status_code == 200 and r.json()["rating"] == 4

    client.cookies.set("relais_session", actors["manager"].session.secret)
    page = await client.get("/tableau-de-bord")
    assert "Services mutualisés" in page.text and "livré et facturé" in page.text
    # A member counts the pool among its processes (it had tasks there), not the network's
    # table of pools with their amounts.
    client.cookies.set("relais_session", (await session_for(db, members[0].user_id)).secret)
    page = (await client.get("/tableau-de-bord")).text
    assert "Services mutualisés" in page and "regroupements)" not in page


async def test_reservations_waitlist_and_privacy(client, actors, db):
    r = await client.post(
        "/api/resources",
        json={"kind": "room", "name": "Salle de réunion Estaque"},
        headers=actors["staff"].headers,
    )
    assert r.status_code == 201
    room = r.json()["id"]
    a, b = actors["member"], await _member(db, "Garage des Aygalades")
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    slot = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat()}
    url = f"/api/resources/{room}/reservations"

    bad = {**slot, "request_id": "x", "ends_at": start.isoformat()}
    r = await client.post(url, json=bad, headers=a.headers)
    assert r.status_code == 422 and "fin du créneau" in r.json()["detail"]
    first = await client.post(url, json={**slot, "request_id": "a1"}, headers=a.headers)
    again = await client.post(url, json={**slot, "request_id": "a1"}, headers=a.headers)
    assert first.status_code == 201 and first.json()["status"] == "confirmed", first.text
    assert again.json()["id"] == first.json()["id"]
    second = await client.post(url, json={**slot, "request_id": "b1"}, headers=b.headers)
    assert second.json()["status"] == "waitlisted"

    busy = (await client.get(url, headers=b.headers)).json()["items"]
    assert {x["member_name"] for x in busy} == {None, "Garage des Aygalades"}
    cancel = f"/api/reservations/{first.json()['id']}/cancel"
    r = await client.post(cancel, json={"reason": "x"}, headers=b.headers)
    assert r.status_code == 404
    r = await client.post(cancel, json={"reason": "réunion reportée"}, headers=a.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    mine = (await client.get("/api/reservations", headers=b.headers)).json()["items"]
    assert [x["status"] for x in mine] == ["confirmed"]
    assert await db.fetchval("SELECT count(*) FROM reservations") == 2


async def test_what_a_member_would_pay_now_is_what_the_pool_then_quotes(
    client, actors, provider, db
):
    body = service_body(
        provider.organisation_id,
        pooling={"min_participants": 3, "min_quantity": 0},
        split_rule="equal",
    )
    r = await client.post("/api/services", json=body, headers=actors["staff"].headers)
    service = r.json()
    members = [actors["member"]] + [await _member(db, f"Atelier {i}") for i in range(1, 4)]
    url = f"/api/services/{service['code']}"
    need = next_month().isoformat()

    async def estimate(m: Actor, quantity: int) -> dict:
        r = await client.get(
            f"{url}/estimate?quantity={quantity}&needed_by={need}", headers=m.headers
        )
        assert r.status_code == 200, r.text
        return r.json()

    async def join(m: Actor, quantity: int) -> dict:
        body = {"request_id": "r1", "quantity": quantity, "needed_by": need}
        r = await client.post(f"{url}/requests", json=body, headers=m.headers)
        assert r.status_code == 201, r.text
        return r.json()

    first = await estimate(members[0], 1)  # nobody yet: it would open the pool, alone
    assert first["pool_status"] is None and first["taking_requests"]
    assert first["share_cents"] == first["alone_cents"] == 50_000 + 45_000
    assert (first["participants"], first["rule_met"], first["savings_cents"]) == (1, False, 0)
    await join(members[0], 1)
    await join(members[1], 2)

    # The third, with 3 days: the rule is met with it, and the quote it gets is the estimate.
    third = await estimate(members[2], 3)
    assert (third["participants"], third["rule_met"]) == (3, True)
    assert third["total_cents"] == 50_000 + 45_000 * 6
    assert third["alone_cents"] == 50_000 + 45_000 * 3
    assert third["savings_cents"] == third["alone_cents"] - third["share_cents"] > 0
    made = await join(members[2], 3)
    quoted = await _wait(client, made["id"], members[2].headers, "quoted")
    assert quoted["quote_cents"] == third["share_cents"]

    # One accepts; a fourth company looks, then joins while the others are still to answer.
    mine = await _wait(client, made["id"], members[2].headers, "quoted")
    r = await client.post(
        f"/api/service-requests/{mine['id']}/quote",
        json={"accept": True, "quote_cents": mine["quote_cents"]},
        headers=members[2].headers,
    )
    assert r.status_code == 200, r.text
    fourth = await estimate(members[3], 1)
    assert fourth["pool_status"] == "quoting" and fourth["taking_requests"]
    late = await join(members[3], 1)
    quoted = await _wait(client, late["id"], members[3].headers, "quoted")
    assert quoted["quote_cents"] == fourth["share_cents"]
    assert fourth["savings_cents"] == 50_000 + 45_000 - fourth["share_cents"]

    # Who may ask: a member for itself (already in: said so), staff for a member it names.
    again = await estimate(members[3], 2)
    assert not again["taking_requests"]
    assert again["reason"] == "votre entreprise a déjà une demande dans ce regroupement"
    r = await client.get(f"{url}/estimate?quantity=1", headers=actors["staff"].headers)
    assert r.status_code == 422 and "member_id" in r.json()["detail"]
    r = await client.get(
        f"{url}/estimate?quantity=1&member_id={members[1].organisation_id}",
        headers=members[0].headers,
    )
    assert r.status_code == 403
    r = await client.get(
        f"{url}/estimate?quantity=1&needed_by={need}&member_id={members[1].organisation_id}",
        headers=actors["staff"].headers,
    )
    assert r.status_code == 200 and r.json()["reason"] == (
        "votre entreprise a déjà une demande dans ce regroupement"
    )
    r = await client.get(f"{url}/estimate?quantity=1", headers=actors["agency"].headers)
    assert r.status_code == 403
    r = await client.get(f"{url}/estimate?quantity=0", headers=members[0].headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quantity"
