"""Input a person could send that used to wedge a workflow or slip past a check: dates far
outside any sensible range, digits of other scripts, control characters in names. Each is a
quick 422 in French, and nothing starts."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.test_organisations import NEW
from tests.factories import siret

FAR = "9999-12-31T20:00:00-12:00"  # a valid ISO instant whose UTC form overflows year 9999
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


async def _answer(call) -> object:
    # An input that once made an activity retry forever kept the request waiting: a 422
    # comes back at once.
    return await asyncio.wait_for(call, timeout=10)


async def test_a_reservation_in_year_9999_is_refused_at_once(client, actors, db):
    staff, member = actors["staff"], actors["member"]
    room = await client.post(
        "/api/resources", json={"kind": "room", "name": "Salle Estaque"}, headers=staff.headers
    )
    body = {"request_id": "r-far", "starts_at": FAR, "ends_at": FAR.replace("T20", "T22")}
    r = await _answer(
        client.post(
            f"/api/resources/{room.json()['id']}/reservations", json=body, headers=member.headers
        )
    )
    assert r.status_code == 422, r.text
    assert "starts_at : " in r.json()["detail"]
    assert "entre 2000 et 2100" in r.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM reservations") == 0


async def test_a_campaign_deadline_in_year_9999_is_refused_at_once(client, actors, db):
    from tests.api.test_recruitment import campaign_body

    staff = actors["staff"]
    body = campaign_body(actors, actors["agency"], deadline=FAR)
    body["agency_ids"] = [str(actors["agency"].organisation_id)]
    r = await _answer(client.post("/api/campaigns", json=body, headers=staff.headers))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["deadline"]
    assert "entre 2000 et 2100" in r.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 0


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/api/campaigns", "deadline", "2026-12-31T18:00:00"),  # no time zone
        ("/api/campaigns", "deadline", "1900-01-01T00:00:00+00:00"),
        ("/api/campaigns", "deadline", "2101-01-01T00:00:00+00:00"),
    ],
)
async def test_other_campaign_deadlines_out_of_range(client, actors, path, field, value):
    from tests.api.test_recruitment import campaign_body

    body = campaign_body(actors, actors["agency"], **{field: value})
    body["agency_ids"] = [str(actors["agency"].organisation_id)]
    r = await _answer(client.post(path, json=body, headers=actors["staff"].headers))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field


async def test_a_visit_or_expense_date_out_of_range_is_refused(client, actors):
    manager = actors["manager"]
    visit = {
        "request_id": "v-far",
        "company_id": str(actors["member"].organisation_id),
        "visited_on": "9999-12-31",
    }
    r = await _answer(client.post("/api/visits", json=visit, headers=manager.headers))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "visited_on"
    assert "entre 2000 et 2100" in r.json()["detail"]


@pytest.mark.parametrize("script", [FULLWIDTH, ARABIC_INDIC], ids=["fullwidth", "arabic-indic"])
@pytest.mark.parametrize("field", ["siret", "postcode", "naf", "phone"])
async def test_digits_of_other_scripts_are_refused(client, actors, script, field):
    good = {**NEW, "siret": siret(), "phone": "04 91 00 00 00"}
    r = await client.post(
        "/api/organisations",
        json={**good, field: good[field].translate(script)},
        headers=actors["staff"].headers,
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_a_fullwidth_copy_of_a_siret_is_no_second_company(client, actors, db):
    staff = actors["staff"]
    s = siret()
    assert (
        await client.post("/api/organisations", json={**NEW, "siret": s}, headers=staff.headers)
    ).status_code == 201
    copy = {**NEW, "siret": s.translate(FULLWIDTH)}
    r = await client.post("/api/organisations", json=copy, headers=staff.headers)
    assert r.status_code == 422
    assert await db.fetchval("SELECT count(*) FROM organisations WHERE name = $1", NEW["name"]) == 1


async def test_a_visit_of_one_company_in_four_scripts_is_refused(client, actors):
    manager = actors["manager"]
    s = siret()
    for script in (FULLWIDTH, ARABIC_INDIC):
        visit = {
            "request_id": f"v-{uuid.uuid4().hex[:6]}",
            "company": {
                "siret": s.translate(script),
                "name": "Garage du Canet",
                "postcode": "13014",
            },
            "territory": "Marseille Nord",
            "visited_on": (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
        }
        r = await client.post("/api/visits", json=visit, headers=manager.headers)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "company.siret"


@pytest.mark.parametrize("bad", ["Agence\r\nBcc: x@evil.example", "Agence\nNord", "Agence\tNord"])
async def test_an_organisation_name_with_control_characters_is_refused(client, actors, bad):
    r = await client.post(
        "/api/organisations",
        json={**NEW, "siret": siret(), "name": bad},
        headers=actors["staff"].headers,
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "Données invalides — name : caractères de contrôle interdits"
    r = await client.post(
        "/api/campaigns",
        json={"title": bad},
        headers=actors["staff"].headers,
    )
    assert "title : caractères de contrôle interdits" in r.json()["detail"]
