"""The task inbox and the process monitor through the API: a referral carried from the
agency's referral to the hire by completing tasks only, each organisation seeing its own."""

from __future__ import annotations

import uuid

import pytest

from domain.auth import Role
from domain.organisations import OrganisationKind
from tests.api.conftest import Actor
from tests.api.test_recruitment import campaign_body, candidate
from tests.factories import make_org, make_user


@pytest.fixture
async def outsiders(db) -> dict[str, Actor]:
    """A second member company and a second agency, strangers to the campaign."""
    out = {}
    for role, kind, name in (
        (Role.MEMBER, OrganisationKind.MEMBER, "Menuiserie Castel"),
        (Role.AGENCY, OrganisationKind.AGENCY, "Maison de l'emploi Sud"),
    ):
        org = await make_org(db, kind, name=name)
        user_id, token = await make_user(db, org.id, role)
        out[role.value] = Actor(user_id, org.id, token)
    return out


async def tasks(client, actor: Actor, **params) -> list[dict]:
    r = await client.get("/api/tasks", headers=actor.headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def only_task(client, actor: Actor, action: str) -> dict:
    found = [t for t in await tasks(client, actor) if t["action"] == action]
    assert len(found) == 1, found
    return found[0]


async def complete(client, actor: Actor, task: dict, data: dict):
    return await client.post(
        f"/api/tasks/{task['id']}/complete", json={"data": data}, headers=actor.headers
    )


def rid() -> str:
    return f"inbox-{uuid.uuid4().hex[:8]}"


async def test_a_referral_from_referral_to_hire_through_the_inbox(client, actors, outsiders, db):
    staff, member, agency = actors["staff"], actors["member"], actors["agency"]
    body = campaign_body(actors, outsiders["agency"], agency_ids=[str(agency.organisation_id)])
    r = await client.post("/api/campaigns", json=body, headers=staff.headers)
    assert r.status_code == 201, r.text
    campaign = r.json()
    cwid = f"campaign-{campaign['id']}"

    # The invited agency has a standing task; nobody else of another organisation sees it.
    refer = await only_task(client, agency, "refer_candidates")
    assert refer["workflow_id"] == cwid and refer["assignee_organisation_name"] == "Agence Nord"
    assert await tasks(client, outsiders["agency"]) == []
    assert await tasks(client, outsiders["member"]) == []
    r = await client.get(f"/api/tasks/{refer['id']}", headers=outsiders["agency"].headers)
    assert r.status_code == 404
    r = await complete(client, outsiders["agency"], refer, candidate())
    assert r.status_code == 404

    # Bad data names the field under `data`, and starts nothing.
    r = await complete(client, agency, refer, candidate(email="pas-un-mail"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "data.email"
    assert await db.fetchval("SELECT count(*) FROM referrals") == 0

    r = await complete(client, agency, refer, candidate("inbox-ref-1"))
    assert r.status_code == 200, r.text
    referral_id = r.json()["result"]["referral_id"]
    assert r.json()["task"]["closed_at"] is None  # the agency may refer more until the deadline
    again = await complete(client, agency, refer, candidate("inbox-ref-1"))
    assert again.json()["result"]["referral_id"] == referral_id  # a retry records nothing new
    assert await db.fetchval("SELECT count(*) FROM referrals") == 1

    # The network screens it from its inbox (a manager may take the staff's task).
    screen = await only_task(client, staff, "screen")
    r = await complete(client, member, screen, {"request_id": rid(), "retained": True})
    assert r.status_code == 404  # another organisation's task is no more to be seen than done
    r = await complete(
        client,
        actors["manager"],
        screen,
        {"request_id": rid(), "retained": True, "reason": "profil conforme"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["result"]["step"] == "shortlisted"
    r = await complete(
        client, staff, screen, {"request_id": rid(), "retained": True, "reason": "x"}
    )
    assert r.status_code == 409

    # The employer, then the agency, then the employer again.
    referral_wid = screen["workflow_id"]
    listing = await client.get(
        "/api/processes", params={"waiting_on": "member"}, headers=staff.headers
    )
    assert [p["workflow_id"] for p in listing.json()["items"]] == [referral_wid]
    ask = await only_task(client, member, "request_interview")
    assert (await complete(client, member, ask, {"request_id": rid()})).status_code == 200
    consent = await only_task(client, agency, "consent")
    r = await complete(client, agency, consent, {"request_id": rid(), "given": True})
    assert r.json()["result"]["step"] == "interview"
    decide = await only_task(client, member, "decide")
    r = await complete(client, member, decide, {"request_id": rid(), "hired": "peut-être"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "data.hired"
    r = await complete(
        client,
        member,
        decide,
        {
            "request_id": rid(),
            "hired": True,
            "reason": "embauchée en CDI",
            "position_id": campaign["positions"][0]["id"],
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["result"]["step"] == "hired"

    # The referral's page: every task closed, its history, its live state.
    r = await client.get(f"/api/processes/{referral_wid}", headers=staff.headers)
    detail = r.json()
    assert detail["process"]["status"] == "completed" and detail["process"]["step"] == "hired"
    assert [t["action"] for t in detail["tasks"]] == [
        "screen",
        "request_interview",
        "consent",
        "decide",
    ]
    assert all(t["closed_at"] for t in detail["tasks"])
    opened = [e["action"] for e in detail["timeline"] if e["kind"] == "task_opened"]
    assert opened == ["screen", "request_interview", "consent", "decide"]
    assert detail["live"]["step"] == "hired" and detail["live_error"] is None

    # The employer reads the referral (it had tasks there) but only its own tasks, no history;
    # the stranger member reads nothing.
    r = await client.get(f"/api/processes/{referral_wid}", headers=member.headers)
    mine = r.json()
    assert [t["action"] for t in mine["tasks"]] == ["request_interview", "decide"]
    assert mine["timeline"] == [] and mine["live"] is None
    r = await client.get(f"/api/processes/{referral_wid}", headers=outsiders["member"].headers)
    assert r.status_code == 404
    listing = await client.get("/api/processes", headers=outsiders["member"].headers)
    assert listing.json()["total"] == 0
    counts = await client.get("/api/processes/counts", headers=outsiders["agency"].headers)
    assert counts.json() == []


async def test_overdue_tasks_and_follow_ups(client, actors, outsiders, db):
    staff, agency = actors["staff"], actors["agency"]
    body = campaign_body(actors, outsiders["agency"], agency_ids=[str(agency.organisation_id)])
    campaign = (await client.post("/api/campaigns", json=body, headers=staff.headers)).json()
    assert await tasks(client, agency, overdue="true") == []
    # Time passes in the store only: the agency's task falls due (the workflow's own timer
    # is not what is tested here).
    await db.execute(
        "UPDATE tasks SET due_at = now() - interval '1 day' WHERE workflow_id = $1",
        f"campaign-{campaign['id']}",
    )
    late = await tasks(client, agency, overdue="true")
    assert [t["action"] for t in late] == ["refer_candidates"] and late[0]["overdue"]
    r = await client.get("/api/processes", params={"overdue": "true"}, headers=staff.headers)
    assert [p["workflow_id"] for p in r.json()["items"]] == [f"campaign-{campaign['id']}"]
    assert r.json()["items"][0]["overdue"] is True

    # A follow-up is done outside Relais: completing it is refused with the reason.
    await db.execute(
        """INSERT INTO tasks (id, key, workflow_id, process, action, title,
                              assignee_organisation_id, assignee_role, due_at)
           VALUES ($1, 'k-follow', 'referral-x', 'referral', 'follow_up', 'Relancer',
                   $2, 'manager', now())""",
        uuid.uuid4(),
        actors["manager"].organisation_id,
    )
    follow = await only_task(client, actors["manager"], "follow_up")
    r = await complete(client, actors["manager"], follow, {})
    assert r.status_code == 409 and "hors de Relais" in r.json()["detail"]

    # Cancelling the campaign closes the agency's task.
    r = await client.post(
        f"/api/campaigns/{campaign['id']}/cancel",
        json={"request_id": rid(), "reason": "poste supprimé"},
        headers=staff.headers,
    )
    assert r.status_code == 200, r.text
    assert [t for t in await tasks(client, agency) if t["action"] == "refer_candidates"] == []
