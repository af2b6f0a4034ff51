"""The demo's convention on the embedded stack (`relais dev`): every party signed phase 4, the
CMA's adviser visits a company and a campaign is launched from the visit's project; the next
snapshot counts both. The printable evaluation is refused until the phase is evaluated; the
signatories' names are nowhere in clear in the Temporal database."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

pytestmark = pytest.mark.system

NETWORK = "Entreprendre au Nord de Marseille"
CMA = "Chambre de métiers et de l'artisanat – délégation 13"


def _json(r):
    assert r.status_code < 300, r.text
    return r.json()


def test_visits_and_a_campaign_appear_in_the_next_snapshot(stack):
    stack.start()
    tokens = stack.tokens()
    staff, manager = tokens[f"staff:{NETWORK}"], tokens[f"manager:{NETWORK}"]
    adviser = tokens[f"partner:{CMA}"]

    deadline = time.monotonic() + 60  # the demo's processes start once the API serves
    while time.monotonic() < deadline:
        conventions = _json(stack.get("/api/conventions", manager))["items"]
        if conventions and conventions[0]["latest_snapshot"]:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the demo convention never got its first figures")
    conv = conventions[0]
    assert conv["status"] == "active" and conv["phase_number"] == 4
    assert len(conv["phases"][0]["signatures"]) == 4
    before = conv["latest_snapshot"]["actuals"]
    assert before["companies_met"] == 3  # the demo's three visits
    # The adviser's chamber is a party: it sees the convention, an agency does not.
    assert _json(stack.get("/api/conventions", adviser))["total"] == 1
    agency = tokens["agency:France Travail Marseille Nord"]
    assert _json(stack.get("/api/conventions", agency))["total"] == 0

    members = _json(stack.get("/api/organisations?kind=member&q=Imprimerie&limit=1", staff))
    printer = members["items"][0]
    today = datetime.now(UTC).date()
    visit = _json(
        stack.post(
            "/api/visits",
            adviser,
            {
                "request_id": "visite-imprimerie",
                "company_id": printer["id"],
                "visited_on": today.isoformat(),
                "themes": ["recrutement"],
                "needs": "Un conducteur offset, départ en retraite.",
                "projects": [{"kind": "recruitment", "title": "Conducteur offset"}],
            },
        )
    )
    agencies = _json(stack.get("/api/organisations?kind=agency&limit=3", staff))["items"]
    project = _json(
        stack.post(
            f"/api/action-projects/{visit['projects'][0]['id']}/campaign",
            staff,
            {
                "request_id": "camp-imprimerie",
                "employer_id": printer["id"],
                "title": "Conducteur offset",
                "positions": [
                    {"title": "Conducteur offset", "count": 1, "contract": "cdi",
                     "place_postcode": printer["postcode"]}
                ],
                "territory_postcodes": ["13013", "13014", "13015", "13016"],
                "agency_ids": [a["id"] for a in agencies],
                "deadline": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
                "decision_sla_days": 5,
            },
        )
    )  # fmt: skip
    assert project["campaign_id"] and project["status"] == "in_progress"
    campaign = _json(stack.get(f"/api/campaigns/{project['campaign_id']}", staff))
    assert campaign["employer_id"] == printer["id"]

    after = _json(stack.post(f"/api/conventions/{conv['id']}/snapshots", manager, {}))["actuals"]
    assert after["companies_met"] == before["companies_met"] + 1
    assert after["visits"] == before["visits"] + 1
    assert after["action_projects"] == before["action_projects"] + 1
    assert after["campaigns"] == before["campaigns"] + 1
    assert after["recruitments"] == before["recruitments"]
    latest = _json(stack.get(f"/api/conventions/{conv['id']}", adviser))["latest_snapshot"]
    assert latest["actuals"] == after

    page = httpx.get(f"{stack.url}/tableau-de-bord", cookies=stack.session(f"partner:{CMA}"))
    assert "Cap Développement Nord" in page.text
    assert f"{after['companies_met']} / 190" in page.text  # KPI against its target

    r = stack.get(f"/conventions/{conv['id']}/evaluation", manager)  # by token: JSON
    assert r.status_code == 404 and "pas encore évaluée" in r.json()["detail"]

    # Signatories' names travel in workflow inputs, encrypted: the Temporal database never
    # holds them in clear. (The dev banner on stdout lists the demo users, on purpose.)
    assert stack.ctrl_c() == 0
    for name in (b"Yannick Roux", b"Nadia Benali", b"Conducteur offset"):
        for f in stack.home.glob("temporal.db*"):
            assert name not in f.read_bytes(), f.name
