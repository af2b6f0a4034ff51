"""Recruitment through the API, per role, on the dev server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.auth import Role
from domain.organisations import OrganisationKind
from tests.api.conftest import Actor
from tests.factories import make_org, make_user


@pytest.fixture
async def other_agency(db) -> Actor:
    org = await make_org(db, OrganisationKind.AGENCY, name="Massajobs")
    user_id, token = await make_user(db, org.id, Role.AGENCY)
    return Actor(user_id, org.id, token)


def campaign_body(actors, other_agency, **kw) -> dict:
    body = {
        "request_id": f"camp-{uuid.uuid4().hex[:8]}",
        "employer_id": str(actors["member"].organisation_id),
        "title": "Préparateurs de commandes – entrepôt des Arnavaux",
        "positions": [
            {
                "title": "Préparateur de commandes",
                "count": 3,
                "contract": "cdi",
                "place_postcode": "13014",
                "place_commune": "Marseille",
            },
            {"title": "Cariste", "count": 1, "contract": "interim", "place_postcode": "13014"},
        ],
        "territory_postcodes": ["13013", "13014", "13015", "13016"],
        "agency_ids": [str(actors["agency"].organisation_id), str(other_agency.organisation_id)],
        "deadline": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "decision_sla_days": 5,
    }
    return {**body, **kw}


def candidate(request_id: str | None = None, **kw) -> dict:
    return {
        "request_id": request_id or f"ref-{uuid.uuid4().hex[:8]}",
        "first_name": "Inès",
        "last_name": "Martin",
        "email": "ines.martin@example.fr",
        "phone": "06 12 34 56 78",
        "postcode": "13015",
        "commune": "Marseille",
        "skills": ["CACES 1", "préparation de commandes"],
        "experience_years": 4,
        "cv_text": "Préparatrice depuis 2021, entrepôt frigorifique.",
        **kw,
    }


@pytest.fixture
async def campaign(client, actors, other_agency) -> dict:
    r = await client.post(
        "/api/campaigns", json=campaign_body(actors, other_agency), headers=actors["staff"].headers
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_launch_is_idempotent_and_checked(client, actors, other_agency, db):
    body = campaign_body(actors, other_agency)
    first = await client.post("/api/campaigns", json=body, headers=actors["manager"].headers)
    assert first.status_code == 201, first.text
    c = first.json()
    assert c["status"] == "open" and [p["count"] for p in c["positions"]] == [3, 1]
    again = await client.post("/api/campaigns", json=body, headers=actors["manager"].headers)
    assert again.json()["id"] == c["id"]
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 1
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE subject LIKE 'Offre%'") == 2

    r = await client.post("/api/campaigns", json=body, headers=actors["member"].headers)
    assert r.status_code == 403
    past = campaign_body(actors, other_agency, deadline="2020-01-01T00:00:00+01:00")
    r = await client.post("/api/campaigns", json=past, headers=actors["staff"].headers)
    assert r.status_code == 422 and "deadline" in r.json()["detail"]
    naive = campaign_body(actors, other_agency, deadline="2030-01-01T00:00:00")
    r = await client.post("/api/campaigns", json=naive, headers=actors["staff"].headers)
    assert r.status_code == 422 and "fuseau" in r.json()["detail"]
    bad = campaign_body(actors, other_agency, agency_ids=[str(actors["member"].organisation_id)])
    r = await client.post("/api/campaigns", json=bad, headers=actors["staff"].headers)
    assert r.status_code == 422 and "agency_ids" in r.json()["detail"]
    r = await client.post(
        "/api/campaigns",
        json=campaign_body(actors, other_agency, positions=[]),
        headers=actors["staff"].headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "positions"


async def test_referral_retry_duplicate_and_bad_input(client, actors, other_agency, campaign, db):
    url = f"/api/campaigns/{campaign['id']}/referrals"
    agency = actors["agency"]
    body = candidate("same-request")
    first = await client.post(url, json=body, headers=agency.headers)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "screening" and first.json()["pseudonym"].startswith("C-")
    again = await client.post(url, json=body, headers=agency.headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert await db.fetchval("SELECT count(*) FROM referrals") == 1

    dup = await client.post(
        url, json=candidate(email="INES.MARTIN@example.fr "), headers=other_agency.headers
    )
    assert dup.status_code == 200 and dup.json()["status"] == "duplicate"
    assert "Agence Nord" in dup.json()["detail"]

    r = await client.post(url, json=candidate(email="pas-un-mail"), headers=agency.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "email"
    r = await client.post(url, json=candidate(phone="12"), headers=agency.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "phone"
    r = await client.post(
        f"/api/campaigns/{uuid.uuid4()}/referrals", json=candidate(), headers=agency.headers
    )
    assert r.status_code == 404
    r = await client.post(url, json=candidate(), headers=actors["staff"].headers)
    assert r.status_code == 403
    # Personal data is ciphertext at rest.
    raw = await db.fetchval("SELECT identity_enc FROM referrals LIMIT 1")
    assert b"ines.martin" not in raw and b"Martin" not in raw


async def test_closed_campaign_refuses_referrals_with_409(client, actors, campaign):
    url = f"/api/campaigns/{campaign['id']}/referrals"
    early = candidate("early")
    first = await client.post(url, json=early, headers=actors["agency"].headers)
    assert first.status_code == 201
    r = await client.post(
        f"/api/campaigns/{campaign['id']}/cancel",
        json={"request_id": "x1", "reason": "poste supprimé"},
        headers=actors["staff"].headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = await client.post(
        f"/api/campaigns/{campaign['id']}/referrals",
        json=candidate(),
        headers=actors["agency"].headers,
    )
    assert r.status_code == 409 and "closes" in r.json()["detail"]
    r = await client.post(
        f"/api/campaigns/{campaign['id']}/cancel",
        json={"request_id": "x2", "reason": "encore"},
        headers=actors["staff"].headers,
    )
    assert r.status_code == 409


async def test_who_sees_what_along_the_whole_path(client, actors, other_agency, campaign, db):
    agency, member, staff = actors["agency"], actors["member"], actors["staff"]
    url = f"/api/campaigns/{campaign['id']}/referrals"
    mine = (await client.post(url, json=candidate(), headers=agency.headers)).json()
    theirs = (
        await client.post(
            url,
            json=candidate(email="yanis@example.fr", phone=None, postcode="84000"),
            headers=other_agency.headers,
        )
    ).json()
    rid, other = mine["referral_id"], theirs["referral_id"]

    # Each agency sees its own referrals only, with identity; the other's is a 404.
    listed = (await client.get(url, headers=agency.headers)).json()
    assert [r["id"] for r in listed["items"]] == [rid]
    assert listed["items"][0]["identity"]["email"] == "ines.martin@example.fr"
    assert (await client.get(f"/api/referrals/{other}", headers=agency.headers)).status_code == 404
    # The employer sees nothing before the shortlist; partners see no campaign at all.
    assert (await client.get(url, headers=member.headers)).json()["total"] == 0
    assert (
        await client.get(f"/api/campaigns/{campaign['id']}", headers=actors["partner"].headers)
    ).status_code == 404

    for ref in (rid, other):
        r = await client.post(
            f"/api/referrals/{ref}/screening",
            headers=staff.headers,
            json={"request_id": f"s-{ref}", "retained": True, "reason": "profil adapté"},
        )
        assert r.status_code == 200 and r.json()["step"] == "shortlisted", r.text
    r = await client.post(
        f"/api/referrals/{rid}/screening",
        headers=member.headers,
        json={"request_id": "s", "retained": True, "reason": "moi"},
    )
    assert r.status_code == 403

    shortlist = (await client.get(url, headers=member.headers)).json()["items"]
    assert {s["id"] for s in shortlist} == {rid, other}
    assert all(s["identity"] is None for s in shortlist)  # pseudonymised

    r = await client.post(
        f"/api/referrals/{rid}/interview-request", headers=member.headers, json={"request_id": "i1"}
    )
    assert r.json()["step"] == "interview_requested"
    r = await client.post(
        f"/api/referrals/{rid}/consent",
        headers=other_agency.headers,
        json={"request_id": "c0", "given": True},
    )
    assert r.status_code == 404  # not its candidate
    r = await client.post(
        f"/api/referrals/{rid}/consent",
        headers=agency.headers,
        json={"request_id": "c1", "given": True},
    )
    assert r.json()["step"] == "interview"
    seen = (await client.get(f"/api/referrals/{rid}", headers=member.headers)).json()
    assert seen["identity"]["last_name"] == "Martin"  # revealed after consent

    foreign = {
        "request_id": "d0",
        "hired": True,
        "reason": "motivée",
        "position_id": str(uuid.uuid4()),
    }
    r = await client.post(f"/api/referrals/{rid}/decision", headers=member.headers, json=foreign)
    assert r.status_code == 422 and "position_id" in r.json()["detail"]
    # Two positions: a hire names the one it fills (none is filled silently).
    unnamed = {"request_id": "d0b", "hired": True, "reason": "motivée"}
    r = await client.post(f"/api/referrals/{rid}/decision", headers=member.headers, json=unnamed)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "position_id"
    assert "indiquez le poste pourvu" in r.json()["errors"][0]["message"]
    assert await db.fetchval("SELECT sum(filled) FROM campaign_positions") == 0
    hire = {
        "request_id": "d1",
        "hired": True,
        "reason": "motivée, disponible",
        "position_id": campaign["positions"][0]["id"],
    }
    r = await client.post(f"/api/referrals/{rid}/decision", headers=member.headers, json=hire)
    assert r.status_code == 200 and r.json()["step"] == "hired", r.text
    r = await client.post(f"/api/referrals/{rid}/decision", headers=member.headers, json=hire)
    assert r.status_code == 200  # a replay answers the same
    r = await client.post(
        f"/api/referrals/{other}/decision",
        headers=member.headers,
        json={"request_id": "d2", "hired": False, "reason": "trop loin"},
    )
    assert r.json()["step"] == "rejected"

    report = (
        await client.get(f"/api/campaigns/{campaign['id']}/report", headers=member.headers)
    ).json()
    assert (report["target"], report["hired"], report["local_hires"]) == (4, 1, 1)
    assert report["local_share"] == 1.0
    assert report["rejection_reasons"] == {"trop loin": 1}
    by_agency = {a["agency_name"]: a for a in report["agencies"]}
    assert (by_agency["Agence Nord"]["hired"], by_agency["Massajobs"]["hired"]) == (1, 0)
    csv_ = await client.get(f"/api/campaigns/{campaign['id']}/report.csv", headers=staff.headers)
    assert csv_.headers["content-type"].startswith("text/csv")
    rows = csv_.content.decode("utf-8-sig").splitlines()
    assert rows[0].endswith(";conversion (%);part locale (%);délai médian (jours)")
    assert "agence;Agence Nord;;1;0;1;1;;100;;" in rows
    assert "embauches locales;;;;;;1;;;100;" in rows  # the share in its own column
    assert "motif de refus;trop loin;;;;;;1;;;" in rows
    r = await client.get(f"/api/campaigns/{campaign['id']}/report", headers=agency.headers)
    assert r.status_code == 403

    # Erasure on request: identity gone, statistics kept.
    r = await client.delete(f"/api/referrals/{other}/personal-data", headers=staff.headers)
    assert r.status_code == 200 and r.json() == {"erased": 1}
    gone = (await client.get(f"/api/referrals/{other}", headers=staff.headers)).json()
    assert gone["identity"] is None and gone["status"] == "rejected"
    r = await client.delete(f"/api/referrals/{rid}/personal-data", headers=agency.headers)
    assert r.status_code == 403


async def test_a_request_id_reused_with_another_body_is_answered_and_says_so(
    client, actors, campaign
):
    """Issue 18: the same request id with another body answered the first result silently."""
    url = f"/api/campaigns/{campaign['id']}/referrals"
    agency = actors["agency"]
    first = await client.post(url, json=candidate("cle-1"), headers=agency.headers)
    again = await client.post(url, json=candidate("cle-1"), headers=agency.headers)
    assert first.status_code == again.status_code == 201 and "relais-avis" not in again.headers
    other = candidate("cle-1", first_name="Yanis", email="yanis@example.fr", phone=None)
    reused = await client.post(url, json=other, headers=agency.headers)
    assert reused.status_code == 201 and reused.json() == first.json()
    assert "a déjà servi avec un autre contenu" in reused.headers["relais-avis"]

    # A refused act keeps nothing: its id serves the request sent again later.
    rid = first.json()["referral_id"]
    consent = f"/api/referrals/{rid}/consent"
    early = await client.post(
        consent, json={"request_id": "c-1", "given": False}, headers=agency.headers
    )
    assert early.status_code == 409  # not its turn: the referral is being screened
    staff, member = actors["staff"], actors["member"]
    screening = {"request_id": "tri-1", "retained": True, "reason": "profil conforme"}
    r = await client.post(f"/api/referrals/{rid}/screening", json=screening, headers=staff.headers)
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/referrals/{rid}/interview-request",
        json={"request_id": "e-1"},
        headers=member.headers,
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        consent, json={"request_id": "c-1", "given": True}, headers=agency.headers
    )
    assert r.status_code == 200 and r.json()["step"] == "interview", r.text
    assert "relais-avis" not in r.headers


async def test_a_closed_campaign_says_why_on_the_paris_clock(client, actors, other_agency):
    """Issue 18: a filled campaign answered « candidatures closes … date limite » with a date
    five weeks away, in UTC though launched in +01:00."""
    body = campaign_body(
        actors,
        other_agency,
        positions=[{"title": "Cariste", "count": 1, "contract": "cdi", "place_postcode": "13014"}],
    )
    c = (await client.post("/api/campaigns", json=body, headers=actors["staff"].headers)).json()
    r = await client.post(
        f"/api/campaigns/{c['id']}/cancel",
        json={"request_id": "stop", "reason": "poste supprimé"},
        headers=actors["staff"].headers,
    )
    assert r.json()["status"] == "cancelled"
    r = await client.post(
        f"/api/campaigns/{c['id']}/referrals", json=candidate(), headers=actors["agency"].headers
    )
    assert r.status_code == 409 and "annulée" in r.json()["detail"], r.text
    assert "date limite" not in r.json()["detail"] and "UTC" not in r.json()["detail"]


async def test_the_openapi_document_describes_answers_and_refusals(client):
    doc = (await client.get("/openapi.json")).json()
    refer = doc["paths"]["/api/campaigns/{campaign_id}/referrals"]["post"]["responses"]
    assert refer["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReferralRegistered"
    }
    assert {"401", "403", "404", "409", "422", "429", "503"} <= refer.keys()
    assert "Introuvable" in refer["404"]["description"]
