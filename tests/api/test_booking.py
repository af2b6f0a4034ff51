"""Bookings through the API (issue 17): a resource's horizon and future bookings per member,
refused in French by the command and, when requests race, by the store; a resource's week
with its busy and free slots (other members' names hidden) and the caller's place in line;
a confirmed reservation as an iCalendar file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from domain.booking import iso_week, week_of
from tests.api.test_pooling import _member


@pytest.fixture
async def van(client, actors):
    body = {
        "kind": "vehicle",
        "name": "Utilitaire 12 m³",
        "location": "Parking de l'association, 13015 Marseille",
        "horizon_days": 30,
        "max_future_bookings": 2,
    }
    r = await client.post("/api/resources", json=body, headers=actors["staff"].headers)
    assert r.status_code == 201, r.text
    assert (r.json()["horizon_days"], r.json()["max_future_bookings"]) == (30, 2)
    return r.json()


def _slot(start: datetime, request_id: str, hours: int = 4) -> dict:
    return {
        "request_id": request_id,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=hours)).isoformat(),
    }


def _soon(days: int, hour: int = 8) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )


async def test_defaults_of_a_resource_keep_its_bookings_in_bounds(client, actors):
    r = await client.post(
        "/api/resources", json={"kind": "room", "name": "Salle"}, headers=actors["staff"].headers
    )
    assert (r.json()["horizon_days"], r.json()["max_future_bookings"]) == (90, 4)
    r = await client.post(
        "/api/resources",
        json={"kind": "room", "name": "Salle", "horizon_days": 0},
        headers=actors["staff"].headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "horizon_days"


async def test_a_van_is_booked_within_its_horizon_and_its_bookings_per_member(
    client, actors, van, db
):
    member = actors["member"]
    url = f"/api/resources/{van['id']}/reservations"
    r = await client.post(url, json=_slot(_soon(31), "loin"), headers=member.headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "starts_at"
    assert "se réserve au plus 30 jours à l'avance" in r.json()["detail"]

    for i, days in enumerate((3, 17)):  # two fortnights: the most one company may hold
        r = await client.post(url, json=_slot(_soon(days), f"q{i}"), headers=member.headers)
        assert r.status_code == 201 and r.json()["status"] == "confirmed", r.text
    r = await client.post(url, json=_slot(_soon(24), "q2"), headers=member.headers)
    assert r.status_code == 409, r.text
    assert r.json()["detail"] == (
        "Réservation impossible : votre entreprise a déjà 2 réservation(s) à venir de "
        "« Utilitaire 12 m³ » (au plus 2) : annulez-en une ou attendez qu'elle soit passée."
    )
    assert await db.fetchval("SELECT count(*) FROM reservations") == 2  # nothing started
    other = await _member(db, "Garage des Aygalades")
    r = await client.post(url, json=_slot(_soon(24), "g1"), headers=other.headers)
    assert r.status_code == 201 and r.json()["status"] == "confirmed"

    first = (await client.get("/api/reservations", headers=member.headers)).json()["items"][0]
    r = await client.post(
        f"/api/reservations/{first['id']}/cancel", json={"reason": "plus besoin"},
        headers=member.headers,
    )  # fmt: skip
    assert r.status_code == 200
    r = await client.post(url, json=_slot(_soon(25), "q2"), headers=member.headers)
    assert r.status_code == 201 and r.json()["status"] == "confirmed"


async def test_requests_that_race_past_the_limit_are_refused_by_the_store(client, actors, van, db):
    member = actors["member"]
    url = f"/api/resources/{van['id']}/reservations"
    # Six days asked at once: each passes the command's count, the store decides.
    rs = await asyncio.gather(
        *(
            client.post(url, json=_slot(_soon(2 + 3 * i), f"r{i}"), headers=member.headers)
            for i in range(6)
        )
    )
    assert sorted(r.status_code for r in rs) == [201, 201, 409, 409, 409, 409], [r.text for r in rs]
    for r in rs:
        if r.status_code == 409:
            assert "déjà 2 réservation(s) à venir" in r.json()["detail"], r.text
    rows = await db.fetch("SELECT status, count(*) FROM reservations GROUP BY status")
    counts = {r[0]: r[1] for r in rows}
    # The six counts are read before any workflow has booked (one query against a round trip
    # to Temporal): the refusals are the store's, recorded as refused reservations.
    assert counts.get("confirmed") == 2 and counts.get("refused", 0) >= 1, counts
    # The same refused request sent again is refused again, nothing new recorded.
    refused = next(i for i, r in enumerate(rs) if r.status_code == 409)
    again = await client.post(
        url, json=_slot(_soon(2 + 3 * refused), f"r{refused}"), headers=member.headers
    )
    assert again.status_code == 409 and again.json()["detail"] == rs[refused].json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM reservations") <= 6


async def test_a_week_shows_busy_and_free_slots_and_my_place_in_line(client, actors, van, db):
    a, b = actors["member"], await _member(db, "Garage des Aygalades")
    start = _soon(8, hour=9)
    url = f"/api/resources/{van['id']}/reservations"
    held = (await client.post(url, json=_slot(start, "a1"), headers=a.headers)).json()
    waiting = (await client.post(url, json=_slot(start, "b1"), headers=b.headers)).json()
    assert (held["status"], waiting["status"]) == ("confirmed", "waitlisted")
    assert waiting["waitlist_position"] == 1

    week = week_of(start)
    r = await client.get(f"/api/resources/{van['id']}/week?week={week}", headers=b.headers)
    assert r.status_code == 200, r.text
    view = r.json()
    monday, sunday_night = iso_week(week)
    bounds = (datetime.fromisoformat(view["starts_at"]), datetime.fromisoformat(view["ends_at"]))
    assert bounds == (monday, sunday_night)
    busy = [s for s in view["slots"] if s["status"] == "busy"]
    assert [(s["starts_at"], s["ends_at"]) for s in busy] == [(held["starts_at"], held["ends_at"])]
    assert busy[0]["reservation"]["member_name"] is None  # not who holds it
    assert busy[0]["reservation"]["member_id"] is None
    free = [s for s in view["slots"] if s["status"] == "free"]
    assert free and all(s["reservation"] is None for s in free)
    assert any(s["ends_at"] == held["starts_at"] for s in free)  # free up to the busy slot
    assert any(s["starts_at"] == held["ends_at"] for s in free)  # and again after it
    [mine] = view["waiting"]
    assert (mine["id"], mine["waitlist_position"]) == (waiting["id"], 1)

    r = await client.get(f"/api/resources/{van['id']}/week?week={week}", headers=a.headers)
    [busy] = [s for s in r.json()["slots"] if s["status"] == "busy"]
    assert busy["reservation"]["member_name"] == "Boulangerie du Canet"  # its own
    assert r.json()["waiting"][0]["waitlist_position"] is None  # another's place in line
    listed = (await client.get("/api/reservations", headers=b.headers)).json()["items"]
    assert [(x["id"], x["waitlist_position"]) for x in listed] == [(waiting["id"], 1)]

    for bad in ("2027-W60", "2027-53", "demain"):
        r = await client.get(f"/api/resources/{van['id']}/week?week={bad}", headers=a.headers)
        assert r.status_code == 422, (bad, r.text)
    r = await client.get(f"/api/resources/{van['id']}/week?week=2027-W54", headers=a.headers)
    assert "n'existe pas" in r.json()["detail"]
    r = await client.get(f"/api/resources/{van['id']}/week", headers=a.headers)
    assert r.json()["week"] == week_of(datetime.now(UTC))


async def test_a_confirmed_reservation_is_an_ics_file_for_its_company(client, actors, van, db):
    a, b = actors["member"], await _member(db, "Garage des Aygalades")
    start = _soon(5, hour=7)
    url = f"/api/resources/{van['id']}/reservations"
    held = (await client.post(url, json=_slot(start, "a1"), headers=a.headers)).json()
    waiting = (await client.post(url, json=_slot(start, "b1"), headers=b.headers)).json()

    r = await client.get(f"/api/reservations/{held['id']}.ics", headers=a.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    assert f'filename="reservation-{held["id"]}.ics"' in r.headers["content-disposition"]
    text = r.content.decode()
    lines = text.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2:] == ["END:VCALENDAR", ""]
    assert all(len(line.encode()) <= 75 for line in lines)  # folded (RFC 5545 §3.1)
    unfolded = text.replace("\r\n ", "")
    assert f"UID:{held['id']}@relais\r\n" in unfolded
    assert f"DTSTART:{start.strftime('%Y%m%dT%H%M%SZ')}\r\n" in unfolded
    end = start + timedelta(hours=4)
    assert f"DTEND:{end.strftime('%Y%m%dT%H%M%SZ')}\r\n" in unfolded
    assert "SUMMARY:Réservation : Utilitaire 12 m³\r\n" in unfolded
    assert "LOCATION:Parking de l'association\\, 13015 Marseille\r\n" in unfolded
    again = await client.get(f"/api/reservations/{held['id']}.ics", headers=a.headers)
    assert again.content == r.content  # the same file each time: one event in the agenda

    staff = await client.get(f"/api/reservations/{held['id']}.ics", headers=actors["staff"].headers)
    assert staff.status_code == 200
    r = await client.get(f"/api/reservations/{held['id']}.ics", headers=b.headers)
    assert r.status_code == 404 and r.json()["detail"] == "Réservation introuvable."
    r = await client.get(f"/api/reservations/{waiting['id']}.ics", headers=b.headers)
    assert r.status_code == 409 and "en liste d'attente" in r.json()["detail"]
    r = await client.get(f"/api/reservations/{held['id']}.ics", headers=actors["agency"].headers)
    assert r.status_code == 403
