"""Duplicates and disorder through the API, on the dev server with a real worker: the same
start sent eight times at once (a double click, a client's retries racing each other, some
with another body under the same request id), the same action sent eight times at once, and
actions sent before their turn. Each effect happens once — one row, one workflow execution,
one audit event, one mail, one task — every answer is the first one's or a 409 saying why,
and an action refused for coming out of order writes nothing; sent in order, it goes through.
"""

# The fixtures of tests/api are imported (F401) to be taken as arguments by name (F811).
# ruff: noqa: F401, F811

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
from temporalio.client import Client, WorkflowExecutionStatus

from domain.auth import Role
from domain.organisations import OrganisationStatus
from domain.recruitment import referral_workflow_id
from tests.api.conftest import Actor, actors, api_settings, client
from tests.api.test_convention import _phase, _sign, convention_body, today
from tests.api.test_inbox import complete, only_task
from tests.api.test_pooling import _member, _wait, next_month, provider, service, service_body
from tests.api.test_recruitment import campaign, campaign_body, candidate, other_agency
from tests.factories import make_org, make_user, siret

N = 8  # copies of each request, sent at once

# What an action may write besides its answer: refused, it must leave all of these as they were.
FOOTPRINT = (
    "SELECT action, workflow_id, data::text FROM audit_events ORDER BY id",
    "SELECT dedup_key FROM outbox ORDER BY dedup_key",
    "SELECT to_jsonb(t)::text FROM tasks t ORDER BY key",
    "SELECT to_jsonb(p)::text FROM processes p ORDER BY workflow_id",
    "SELECT to_jsonb(m)::text FROM memberships m ORDER BY organisation_id",
    "SELECT to_jsonb(r)::text FROM referrals r ORDER BY id",
    "SELECT to_jsonb(p)::text FROM campaign_positions p ORDER BY id",
    "SELECT to_jsonb(p)::text FROM pools p ORDER BY id",
    "SELECT to_jsonb(s)::text FROM service_requests s ORDER BY id",
    "SELECT to_jsonb(o)::text FROM service_orders o ORDER BY pool_id",
    "SELECT to_jsonb(i)::text FROM invoice_lines i ORDER BY request_id",
    "SELECT to_jsonb(c)::text FROM conventions c ORDER BY id",
    "SELECT to_jsonb(p)::text FROM convention_phases p ORDER BY convention_id, number",
    "SELECT to_jsonb(s)::text FROM convention_signatures s ORDER BY convention_id, organisation_id",
)


async def at_once(calls: Iterable[Awaitable[httpx.Response]]) -> list[httpx.Response]:
    return list(await asyncio.gather(*calls))


def same(responses: list[httpx.Response], status_code: int, *keys: str) -> dict:
    """Every answer has `status_code` and says the same for `keys`; returns the first."""
    assert [r.status_code for r in responses] == [status_code] * len(responses), [
        r.text for r in responses
    ]
    bodies = [r.json() for r in responses]
    for key in keys:
        assert all(b[key] == bodies[0][key] for b in bodies), (key, [b[key] for b in bodies])
    return bodies[0]


def one_success(responses: list[httpx.Response], status_code: int, *reasons: str) -> dict:
    """Exactly one answer has `status_code`; every other is a 409 giving one of `reasons`."""
    codes = sorted(r.status_code for r in responses)
    assert codes == sorted([status_code] + [409] * (len(responses) - 1)), [
        (r.status_code, r.text) for r in responses
    ]
    for r in responses:
        if r.status_code == 409:
            assert any(reason in r.json()["detail"] for reason in reasons), r.text
            assert "Error" not in r.json()["detail"], r.text  # a sentence, not an exception
    return next(r.json() for r in responses if r.status_code == status_code)


def ended(responses: list[httpx.Response], key: str, value: str, *closed: str) -> None:
    """An action that ends its workflow, sent many times at once: each copy answers with the
    outcome, or — arriving once the workflow has ended — with a 409 saying it is closed."""
    assert any(r.status_code == 200 for r in responses), [r.text for r in responses]
    for r in responses:
        if r.status_code == 200:
            assert r.json()[key] == value, r.text
        else:
            assert r.status_code == 409, r.text
            assert any(reason in r.json()["detail"] for reason in closed), r.text


async def footprint(db) -> list[list]:
    return [[tuple(row) for row in await db.fetch(sql)] for sql in FOOTPRINT]


async def refused(client, db, url: str, body: dict, actor: Actor, *reasons: str) -> None:
    """The action is a 409 saying why, and nothing is written."""
    before = await footprint(db)
    r = await client.post(url, json=body, headers=actor.headers)
    assert r.status_code == 409, r.text
    assert any(reason in r.json()["detail"] for reason in reasons), r.json()["detail"]
    assert "Error" not in r.json()["detail"], r.json()["detail"]  # a sentence, not an exception
    assert await footprint(db) == before


async def settled(db, workflow_id: str, step: str) -> None:
    """Wait until the process monitor shows `step`: the workflow has written what follows its
    last answer (next task, status) and waits for a person."""
    sql = "SELECT step FROM processes WHERE workflow_id = $1"
    for _ in range(200):
        if await db.fetchval(sql, workflow_id) == step:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"{workflow_id} never reached {step}: {await db.fetchval(sql, workflow_id)}"
    )


async def executions(temporal: Client, workflow_id: str) -> int:
    """Runs the server holds under this workflow id (its visibility lags a little)."""
    for _ in range(100):
        runs = [w async for w in temporal.list_workflows(f"WorkflowId = '{workflow_id}'")]
        if runs:
            # A second run would be visible by now too, or describe() would name a later one.
            first = (await temporal.get_workflow_handle(workflow_id).describe()).run_id
            return len(runs) + (first not in {r.run_id for r in runs})
        await asyncio.sleep(0.05)
    return 0


async def completed(temporal: Client, workflow_id: str) -> None:
    """Wait until the workflow's run has ended (its row in Postgres is written before)."""
    handle = temporal.get_workflow_handle(workflow_id)
    for _ in range(200):
        if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never completed")


async def tasks_of(db, workflow_id: str) -> dict[str, tuple[int, int]]:
    """Per action: how many tasks the workflow opened, and how many are closed."""
    rows = await db.fetch(
        "SELECT action, count(*), count(closed_at) FROM tasks WHERE workflow_id = $1 "
        "GROUP BY action",
        workflow_id,
    )
    return {r[0]: (r[1], r[2]) for r in rows}


async def mails(db, subject: str) -> int:
    return await db.fetchval("SELECT count(*) FROM outbox WHERE subject LIKE $1", subject + "%")


# --- the same start, eight times at once ------------------------------------------------------


async def test_a_campaign_and_a_referral_sent_eight_times_at_once_exist_once(
    client, actors, other_agency, dev_env, db
):
    staff, agency = actors["staff"], actors["agency"]
    first = campaign_body(actors, other_agency, request_id="camp-1")
    other = {**first, "title": "Caristes – un autre intitulé"}  # another body, same request id
    rs = await at_once(
        client.post("/api/campaigns", json=b, headers=staff.headers) for b in [first, other] * 4
    )
    c = same(rs, 201, "id", "title", "positions")
    assert c["status"] == "open" and c["title"] in (first["title"], other["title"])
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 1
    assert await db.fetchval("SELECT title FROM campaigns") == c["title"]  # the first one wins
    assert await db.fetchval("SELECT count(*) FROM campaign_positions") == 2
    assert await executions(dev_env.client, c["workflow_id"]) == 1
    # Relayed once to each of its two agencies: one mail and one standing task each.
    assert await mails(db, "Offre relayée") == 2
    assert await tasks_of(db, c["workflow_id"]) == {"refer_candidates": (2, 0)}

    url = f"/api/campaigns/{c['id']}/referrals"
    ines = candidate("ref-1")
    yanis = candidate("ref-1", first_name="Yanis", email="yanis@example.fr", phone=None)
    rs = await at_once(client.post(url, json=b, headers=agency.headers) for b in [ines, yanis] * 4)
    referral = same(rs, 201, "referral_id", "pseudonym", "status")
    assert referral["status"] == "screening"
    wid = referral_workflow_id(UUID(c["id"]), agency.organisation_id, "ref-1")
    await settled(db, wid, "screening")
    assert await db.fetchval("SELECT count(*) FROM referrals") == 1
    assert await executions(dev_env.client, wid) == 1
    assert await tasks_of(db, wid) == {"screen": (1, 0)}

    # Two agencies refer the same person at once, four times each: one referral is the
    # original, the other a duplicate credited to the first agency.
    sofia = {"first_name": "Sofia", "email": "sofia@example.fr", "phone": "07 11 22 33 44"}
    rs = await at_once(
        client.post(url, json=candidate(f"sofia-{i % 2}", **sofia), headers=h)
        for i, h in enumerate([agency.headers, other_agency.headers] * 4)
    )
    answers = [
        same(rs[0::2], rs[0].status_code, "referral_id", "status")["status"],
        same(rs[1::2], rs[1].status_code, "referral_id", "status")["status"],
    ]
    assert sorted(answers) == ["duplicate", "screening"], [r.text for r in rs]
    orig = answers.index("screening")
    sofia_wid = referral_workflow_id(
        UUID(c["id"]), [agency, other_agency][orig].organisation_id, f"sofia-{orig}"
    )
    assert {rs[0].status_code, rs[1].status_code} == {200, 201}
    assert await db.fetchval("SELECT count(*) FROM referrals") == 3
    assert await db.fetchval("SELECT count(*) FROM referrals WHERE duplicate_of IS NULL") == 2
    assert await mails(db, "Candidature en doublon") == 1

    # The cancellation, eight times at once under two request ids (two people clicking): the
    # campaign closes once; a copy that comes after that is told it is closed.
    rs = await at_once(
        client.post(
            f"/api/campaigns/{c['id']}/cancel",
            json={"request_id": f"stop-{i % 2}", "reason": "poste supprimé"},
            headers=staff.headers,
        )
        for i in range(N)
    )
    ended(rs, "status", "cancelled", "la campagne est close", "La campagne est déjà close.")
    assert await mails(db, "Bilan de la campagne") == 1
    assert await tasks_of(db, c["workflow_id"]) == {"refer_candidates": (2, 2)}
    for referral_wid in (wid, sofia_wid):
        await settled(db, referral_wid, "not_retained")
    assert await mails(db, "Candidature non retenue") == 2
    assert await executions(dev_env.client, c["workflow_id"]) == 1


async def test_an_onboarding_started_eight_times_at_once_runs_once(client, actors, dev_env, db):
    staff = actors["staff"]
    org = await make_org(db, name="Pressing de Saint-Louis", status=OrganisationStatus.PENDING)
    member_id, token = await make_user(db, org.id, Role.MEMBER)
    member = Actor(member_id, org.id, token)
    bodies = [
        {
            "organisation_id": str(org.id),
            "contact_name": f"Contact {i}",
            "contact_email": f"contact{i}@example.fr",
        }
        for i in range(N)
    ]
    rs = await at_once(
        client.post("/api/onboardings", json=b, headers=staff.headers) for b in bodies
    )
    # An onboarding has no request id: one start, the others are told one is under way.
    wid = one_success(rs, 202, "est déjà en cours")["workflow_id"]
    await settled(db, wid, "awaiting_charter")
    assert await executions(dev_env.client, wid) == 1
    assert await db.fetchval("SELECT count(*) FROM memberships") == 1
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE workflow_id = $1", wid) == 1
    assert await tasks_of(db, wid) == {"accept_charter": (1, 0)}
    started = "SELECT count(*) FROM audit_events WHERE action = $1"
    assert await db.fetchval(started, "onboarding.started") == 1

    # The charter accepted eight times at once, under two request ids: one activation.
    rs = await at_once(
        client.post(
            f"/api/onboardings/{org.id}/charter",
            json={"request_id": f"accept-{i % 2}"},
            headers=member.headers,
        )
        for i in range(N)
    )
    assert same(rs, 200, "step", "accepted_at")["step"] == "active"
    await settled(db, wid, "active")
    assert await db.fetchval(started, "membership.activated") == 1
    assert await tasks_of(db, wid) == {"accept_charter": (1, 1)}
    assert await db.fetchval("SELECT status FROM organisations WHERE id = $1", org.id) == "active"
    # Too late to cancel it: refused, nothing written.
    await refused(
        client,
        db,
        f"/api/onboardings/{org.id}/cancel",
        {"request_id": "c1", "reason": "doublon"},
        staff,
        "Cette adhésion est close (active)",
    )
    assert await executions(dev_env.client, wid) == 1

    # Another company: its charter accepted and its onboarding cancelled at once, four times
    # each. The first to arrive wins; the others are refused; one outcome is written.
    other = await make_org(db, name="Fournil du Merlan", status=OrganisationStatus.PENDING)
    body = {"organisation_id": str(other.id), "contact_name": "Lina", "contact_email": "l@x.fr"}
    r = await client.post("/api/onboardings", json=body, headers=staff.headers)
    assert r.status_code == 202, r.text
    other_wid = r.json()["workflow_id"]
    await settled(db, other_wid, "awaiting_charter")
    charter = f"/api/onboardings/{other.id}/charter"
    cancel = f"/api/onboardings/{other.id}/cancel"
    rs = await at_once(
        client.post(charter, json={"request_id": "a"}, headers=staff.headers)
        if i % 2 == 0
        else client.post(
            cancel, json={"request_id": "c", "reason": "doublon"}, headers=staff.headers
        )
        for i in range(N)
    )
    accepts, cancels = rs[0::2], rs[1::2]
    won = any(r.status_code == 200 for r in accepts)
    winner, loser, step = (accepts, cancels, "active") if won else (cancels, accepts, "cancelled")
    ended(winner, "step", step, f"Cette adhésion est close ({step})")
    for r in loser:
        assert r.status_code == 409, r.text
        detail = r.json()["detail"]
        assert "ne peut plus être annulée" in detail or "adhésion est close" in detail, detail
    await settled(db, other_wid, step)
    membership = "SELECT status FROM memberships WHERE organisation_id = $1"
    assert await db.fetchval(membership, other.id) == step
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE workflow_id = $1 AND action <> $2",
        other_wid,
        "onboarding.started",
    )
    assert audited == 1
    assert await tasks_of(db, other_wid) == {"accept_charter": (1, 1)}


async def test_a_convention_and_a_visit_sent_eight_times_at_once_exist_once(
    client, actors, dev_env, db
):
    parties = [actors["manager"].organisation_id, actors["partner"].organisation_id]
    await db.execute(
        "UPDATE organisations SET email = 'contact-' || id || '@example.fr' WHERE id = ANY($1)",
        parties,
    )
    first = convention_body(actors, request_id="cap-1")
    other = {**first, "title": "Cap Développement – intitulé concurrent"}
    rs = await at_once(
        client.post("/api/conventions", json=b, headers=actors["staff"].headers)
        for b in [first, other] * 4
    )
    conv = same(rs, 201, "id", "title")
    assert conv["status"] == "awaiting_signatures"
    wid = f"convention-{conv['id']}"
    await settled(db, wid, "awaiting_signatures")
    assert await db.fetchval("SELECT title FROM conventions") == conv["title"]
    assert await db.fetchval("SELECT count(*) FROM convention_phases") == 1
    assert await executions(dev_env.client, wid) == 1
    assert await tasks_of(db, wid) == {"sign_convention": (2, 0)}
    assert await mails(db, "Convention à signer") == 2  # one per party

    visit = {
        "request_id": "visite-1",
        "company_id": str(actors["member"].organisation_id),
        "visited_on": today().isoformat(),
        "themes": ["recrutement"],
        "needs": "Deux boulangers.",
        "projects": [
            {"kind": "recruitment", "title": "Recruter deux boulangers"},
            {"kind": "investment", "title": "Four neuf", "investment_cents": 3_500_000},
        ],
    }
    other_visit = {**visit, "needs": "Un apprenti.", "projects": visit["projects"][:1]}
    rs = await at_once(
        client.post("/api/visits", json=v, headers=actors["partner"].headers)
        for v in [visit, other_visit] * 4
    )
    v = same(rs, 201, "id", "needs", "projects")
    assert await db.fetchval("SELECT count(*) FROM company_visits") == 1
    assert await db.fetchval("SELECT needs FROM company_visits") == v["needs"]
    assert await db.fetchval("SELECT count(*) FROM action_projects") == len(v["projects"])

    # Its recruitment project launches its campaign eight times at once, each under its own
    # request id: one campaign, linked to the project.
    staff, manager = actors["staff"], actors["manager"]
    project = v["projects"][0]
    assert project["kind"] == "recruitment"
    launch = campaign_body(
        actors, actors["agency"], agency_ids=[str(actors["agency"].organisation_id)]
    )
    rs = await at_once(
        client.post(
            f"/api/action-projects/{project['id']}/campaign",
            json={**launch, "request_id": f"camp-{i}"},
            headers=staff.headers,
        )
        for i in range(N)
    )
    linked = same(rs, 200, "campaign_id", "status")
    assert linked["status"] == "in_progress"
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 1
    assert await executions(dev_env.client, f"campaign-{linked['campaign_id']}") == 1

    # Both parties sign at once, four times each: two signatures, and the phase starts once.
    rs = await at_once(_sign(client, conv, a) for a in [actors["partner"], manager] * 4)
    assert {r.status_code for r in rs} == {200}, [r.text for r in rs]
    await settled(db, wid, "active")
    audited = "SELECT count(*) FROM audit_events WHERE action = $1"
    assert await db.fetchval(audited, "convention.signed") == 2
    assert await db.fetchval("SELECT count(*) FROM convention_signatures") == 2
    assert await tasks_of(db, wid) == {"sign_convention": (2, 2)}

    # An amendment and an expense, each eight times at once under one request id, half the
    # copies with other figures: each recorded and audited once, the first one's.
    url = f"/api/conventions/{conv['id']}"
    amendment = {"request_id": "av-1", "targets": {"companies_met": 200}, "reason": "Comité"}
    other_amendment = {**amendment, "targets": {"companies_met": 250}}
    rs = await at_once(
        client.post(f"{url}/amendments", json=a, headers=manager.headers)
        for a in [amendment, other_amendment] * 4
    )
    state = same(rs, 200, "amendments", "phase")
    assert state["amendments"] == 1 and state["phase"]["targets"]["companies_met"] in (200, 250)
    assert await db.fetchval(audited, "convention.amended") == 1
    targets = "SELECT targets->>'companies_met' FROM convention_phases"
    assert await db.fetchval(targets) == str(state["phase"]["targets"]["companies_met"])
    expense = {
        "request_id": "dep-1",
        "amount_cents": 120_000,
        "label": "Salon de l'emploi",
        "spent_on": today().isoformat(),
    }
    rs = await at_once(
        client.post(f"{url}/expenses", json=e, headers=staff.headers)
        for e in [expense, {**expense, "amount_cents": 90_000}] * 4
    )
    used = same(rs, 200, "budget_used_cents")["budget_used_cents"]
    assert used in (120_000, 90_000)
    assert await db.fetchval("SELECT sum(amount_cents) FROM convention_expenses") == used
    assert await db.fetchval("SELECT count(*) FROM convention_expenses") == 1
    assert await db.fetchval(audited, "convention.expense") == 1


async def test_reservations_sent_eight_times_at_once_hold_one_slot(client, actors, dev_env, db):
    r = await client.post(
        "/api/resources",
        json={"kind": "room", "name": "Salle de réunion Estaque"},
        headers=actors["staff"].headers,
    )
    url = f"/api/resources/{r.json()['id']}/reservations"
    a, b = actors["member"], await _member(db, "Garage des Aygalades")
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    slot = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat()}
    later = {**slot, "ends_at": (start + timedelta(hours=3)).isoformat()}  # another body
    calls = [
        client.post(url, json={**slot, "request_id": "a1"}, headers=a.headers) for _ in range(N)
    ]
    calls += [
        client.post(url, json={**s, "request_id": "b1"}, headers=b.headers)
        for s in [slot, later] * 4
    ]
    rs = await at_once(calls)
    mine = same(rs[:N], 201, "id", "status")
    theirs = same(rs[N:], 201, "id", "status", "ends_at")
    assert {mine["status"], theirs["status"]} == {"confirmed", "waitlisted"}
    assert await db.fetchval("SELECT count(*) FROM reservations") == 2
    wid_of = "SELECT workflow_id FROM reservations WHERE id = $1"
    for res in (mine, theirs):
        assert await executions(dev_env.client, await db.fetchval(wid_of, UUID(res["id"]))) == 1

    # The holder cancels eight times at once: the waiting one is promoted once. A cancellation
    # carries no request id, but the same one by the same holder is one update: every copy,
    # even one arriving once the reservation's workflow has ended, gets the outcome.
    holder = a if mine["status"] == "confirmed" else b
    held, waits = (mine, theirs) if holder is a else (theirs, mine)
    rs = await at_once(
        client.post(
            f"/api/reservations/{held['id']}/cancel",
            json={"reason": "réunion reportée"},
            headers=holder.headers,
        )
        for _ in range(N)
    )
    assert same(rs, 200, "status")["status"] == "cancelled"
    await settled(db, await db.fetchval(wid_of, UUID(waits["id"])), "confirmed")
    statuses = dict(await db.fetch("SELECT id::text, status FROM reservations"))
    assert statuses == {held["id"]: "cancelled", waits["id"]: "confirmed"}
    assert await mails(db, "Réservation confirmée") == 1
    await completed(dev_env.client, await db.fetchval(wid_of, UUID(held["id"])))
    late = await client.post(
        f"/api/reservations/{held['id']}/cancel",
        json={"reason": "réunion reportée"},
        headers=holder.headers,
    )
    assert late.status_code == 200 and late.json()["status"] == "cancelled", late.text
    assert await mails(db, "Réservation confirmée") == 1


# --- the same action eight times at once, and actions before their turn -----------------------


async def test_referral_actions_out_of_order_are_refused_and_repeats_act_once(
    client, actors, campaign, db
):
    staff, member, agency = actors["staff"], actors["member"], actors["agency"]
    r = await client.post(
        f"/api/campaigns/{campaign['id']}/referrals",
        json=candidate("ref-1"),
        headers=agency.headers,
    )
    assert r.status_code == 201, r.text
    url = f"/api/referrals/{r.json()['referral_id']}"
    wid = referral_workflow_id(UUID(campaign["id"]), agency.organisation_id, "ref-1")
    await settled(db, wid, "screening")

    # Before screening: no decision, no interview, no consent.
    at_screening = "n'est pas possible à l'étape « screening »"
    reject = {"request_id": "d0", "hired": False, "reason": "trop tôt"}
    await refused(client, db, f"{url}/decision", reject, staff, f"la décision {at_screening}")
    await refused(
        client,
        db,
        f"{url}/interview-request",
        {"request_id": "i0"},
        staff,
        f"la demande d'entretien {at_screening}",
    )
    consent = {"request_id": "c0", "given": True}
    await refused(client, db, f"{url}/consent", consent, agency, f"le consentement {at_screening}")

    # The screening, eight times at once, half with another reason: one, the first's.
    screen = {"request_id": "s1", "retained": True, "reason": "profil conforme"}
    rs = await at_once(
        client.post(f"{url}/screening", json=s, headers=staff.headers)
        for s in [screen, {**screen, "reason": "expérience solide"}] * 4
    )
    screened = same(rs, 200, "step", "reason")
    assert screened["step"] == "shortlisted"
    assert await db.fetchval("SELECT reason FROM referrals") == screened["reason"]
    await settled(db, wid, "shortlisted")
    assert await tasks_of(db, wid) == {"screen": (1, 1), "request_interview": (1, 0)}

    # No consent before the employer asks for an interview.
    await refused(
        client,
        db,
        f"{url}/consent",
        consent,
        agency,
        "le consentement n'est pas possible à l'étape « shortlisted »",
    )

    # The employer's inbox task completed eight times at once, each click with its own
    # request id: one goes through, the others are told why not.
    task = await only_task(client, member, "request_interview")
    rs = await at_once(complete(client, member, task, {"request_id": f"i-{i}"}) for i in range(N))
    done = one_success(
        rs,
        200,
        "une autre action est en cours sur cette candidature",
        "la demande d'entretien n'est pas possible à l'étape",
        "Cette tâche est déjà close.",
    )
    assert done["result"]["step"] == "interview_requested" and done["task"]["closed_at"]
    await settled(db, wid, "interview_requested")
    assert await mails(db, "Entretien demandé") == 1
    assert await tasks_of(db, wid) == {
        "screen": (1, 1),
        "request_interview": (1, 1),
        "consent": (1, 0),
    }

    # The consent, eight times at once: one.
    rs = await at_once(
        client.post(f"{url}/consent", json=consent, headers=agency.headers) for _ in range(N)
    )
    assert same(rs, 200, "step")["step"] == "interview"
    await settled(db, wid, "interview")
    assert (await tasks_of(db, wid))["consent"] == (1, 1)

    # The decision from the inbox, eight times at once under one request id, half a hire and
    # half a rejection: the first stands, once. A copy that comes once the task (or the
    # referral) is closed is told so.
    task = await only_task(client, member, "decide")
    hire = {
        "request_id": "d1",
        "hired": True,
        "reason": "embauchée en CDI",
        "position_id": campaign["positions"][0]["id"],
    }
    reject = {"request_id": "d1", "hired": False, "reason": "trop loin"}
    rs = await at_once(complete(client, member, task, d) for d in [hire, reject] * 4)
    steps = {r.json()["result"]["step"] for r in rs if r.status_code == 200}
    assert len(steps) == 1 and steps <= {"hired", "rejected"}, [r.text for r in rs]
    for r in rs:
        if r.status_code != 200:
            assert r.json()["detail"] in (
                "Cette tâche est déjà close.",
                "Cette candidature est close.",
            ), r.text
    step = steps.pop()
    await settled(db, wid, step)
    filled = "SELECT sum(filled) FROM campaign_positions WHERE campaign_id = $1"
    assert await db.fetchval(filled, UUID(campaign["id"])) == int(step == "hired")
    assert await db.fetchval("SELECT status FROM referrals") == step
    assert await mails(db, "Candidat embauché") == int(step == "hired")
    assert await mails(db, "Candidature refusée") == int(step == "rejected")
    assert set((await tasks_of(db, wid)).values()) == {(1, 1)}


async def test_pool_actions_out_of_order_are_refused_and_repeats_act_once(
    client, actors, service, provider, dev_env, db
):
    a, b = actors["member"], await _member(db, "Garage des Aygalades")
    url = f"/api/services/{service['code']}/requests"
    mine = {"request_id": "r1", "quantity": 1, "needed_by": next_month().isoformat()}
    # Both members' requests eight times each, all at once; B's copies disagree on the quantity.
    calls = [client.post(url, json=mine, headers=a.headers) for _ in range(N)]
    calls += [
        client.post(url, json={**mine, "quantity": 2 + i % 2}, headers=b.headers) for i in range(N)
    ]
    rs = await at_once(calls)
    ra, rb = same(rs[:N], 201, "id", "quantity"), same(rs[N:], 201, "id", "quantity")
    pool_id = ra["pool_id"]
    assert rb["pool_id"] == pool_id and ra["id"] != rb["id"]
    assert await db.fetchval("SELECT count(*) FROM service_requests") == 2
    quantity = "SELECT quantity FROM service_requests WHERE id = $1"
    assert await db.fetchval(quantity, UUID(rb["id"])) == rb["quantity"]
    assert await executions(dev_env.client, pool_id) == 1
    await settled(db, pool_id, "quoting")
    assert await mails(db, "Devis") == 2
    assert await tasks_of(db, pool_id) == {"accept_quote": (2, 0)}

    # Before the order: no confirmation, no delivery, no rating.
    quoted = await _wait(client, ra["id"], a.headers, "quoted")
    order, delivered = f"/api/pools/{pool_id}/order", f"/api/pools/{pool_id}/delivery"
    confirm = {"confirmed": True, "reference": "CMD-7"}
    await refused(client, db, delivered, {"delivered": True}, provider, "aucune livraison")
    await refused(client, db, order, confirm, provider, "aucune commande n'attend")
    rating_url = f"/api/service-requests/{ra['id']}/rating"
    await refused(client, db, rating_url, {"stars": 4}, a, "l'évaluation suit la livraison")

    # A's acceptance, eight times at once: one.
    accept = {"accept": True, "quote_cents": quoted["quote_cents"]}
    rs = await at_once(
        client.post(f"/api/service-requests/{ra['id']}/quote", json=accept, headers=a.headers)
        for _ in range(N)
    )
    assert same(rs, 200, "status", "accepted_cents")["status"] == "accepted"
    assert await tasks_of(db, pool_id) == {"accept_quote": (2, 1)}
    await refused(
        client,
        db,
        f"/api/service-requests/{ra['id']}/withdraw",
        {"reason": "changement d'avis"},
        a,
        "le retrait n'est possible qu'avant d'accepter le devis",
    )
    quoted_b = await _wait(client, rb["id"], b.headers, "quoted")
    r = await client.post(
        f"/api/service-requests/{rb['id']}/quote",
        json={"accept": True, "quote_cents": quoted_b["quote_cents"]},
        headers=b.headers,
    )
    assert r.status_code == 200, r.text
    await settled(db, pool_id, "ordered")
    # No delivery before the provider confirms the order.
    await refused(client, db, delivered, {"delivered": True}, provider, "aucune livraison")

    # The provider's confirmation, then its delivery, each eight times at once: one order, one
    # invoice per member.
    rs = await at_once(client.post(order, json=confirm, headers=provider.headers) for _ in range(N))
    assert same(rs, 200, "status")["status"] == "confirmed"
    await settled(db, pool_id, "confirmed")
    assert await db.fetchval("SELECT reference FROM service_orders") == "CMD-7"
    rs = await at_once(
        client.post(delivered, json={"delivered": True}, headers=provider.headers) for _ in range(N)
    )
    assert same(rs, 200, "status", "invoiced_cents")["status"] == "rating"
    await settled(db, pool_id, "rating")
    total = await db.fetchval("SELECT total_cents FROM service_orders")
    lines = await db.fetch("SELECT amount_cents FROM invoice_lines")
    assert len(lines) == 2 and sum(line[0] for line in lines) == total
    assert await mails(db, "Facture") == 2 and await mails(db, "Commande passée") == 2
    assert await tasks_of(db, pool_id) == {
        "accept_quote": (2, 2),
        "confirm_order": (1, 1),
        "deliver": (1, 1),
        "rate": (2, 0),
    }

    # A's rating eight times at once, half with another mark: the first mark stands, the other
    # is refused.
    rs = await at_once(
        client.post(rating_url, json={"stars": 4 + i % 2}, headers=a.headers) for i in range(N)
    )
    ok = [r.json()["rating"] for r in rs if r.status_code == 200]
    assert ok and len(set(ok)) == 1, [r.text for r in rs]
    for r in rs:
        if r.status_code != 200:
            assert r.status_code == 409 and "déjà évalué" in r.json()["detail"], r.text
    rating = "SELECT rating FROM service_requests WHERE id = $1"
    assert await db.fetchval(rating, UUID(ra["id"])) == ok[0]
    assert (await tasks_of(db, pool_id))["rate"] == (2, 1)


async def test_one_member_asking_at_once_under_eight_request_ids_makes_one_request(
    client, actors, service, provider, db
):
    # The directory and the catalogue first: the same SIRET or service code created eight
    # times at once is one row, the others a 409 saying it exists.
    staff = actors["staff"].headers
    company = {
        "kind": "member",
        "name": "Transports Phocéens du Nord",
        "siret": siret(),
        "postcode": "13015",
        "territory": "Marseille Nord",
    }
    rs = await at_once(
        client.post("/api/organisations", json=company, headers=staff) for _ in range(N)
    )
    one_success(rs, 201, "est déjà enregistré", "existe déjà")
    siret_rows = "SELECT count(*) FROM organisations WHERE siret = $1"
    assert await db.fetchval(siret_rows, company["siret"]) == 1
    code = service_body(provider.organisation_id, code="transport-mutualise")
    rs = await at_once(client.post("/api/services", json=code, headers=staff) for _ in range(N))
    one_success(rs, 201, "existe déjà")
    assert await db.fetchval("SELECT count(*) FROM services WHERE code = $1", code["code"]) == 1

    url = f"/api/services/{service['code']}/requests"
    needed_by = next_month().isoformat()
    rs = await at_once(
        client.post(
            url,
            json={"request_id": f"r{i}", "quantity": 1 + i, "needed_by": needed_by},
            headers=actors["member"].headers,
        )
        for i in range(N)
    )
    made = one_success(rs, 201, "votre entreprise a déjà une demande dans ce regroupement")
    assert await db.fetchval("SELECT count(*) FROM service_requests") == 1
    assert await db.fetchval("SELECT quantity FROM service_requests") == made["quantity"]
    await settled(db, made["pool_id"], "gathering")
    assert await db.fetchval("SELECT count(*) FROM pools") == 1


async def test_convention_actions_out_of_order_are_refused_and_repeats_act_once(
    client, actors, db, dev_env
):
    manager, partner = actors["manager"], actors["partner"]
    await db.execute(
        "UPDATE organisations SET email = 'contact-' || id || '@example.fr' WHERE id = ANY($1)",
        [manager.organisation_id, partner.organisation_id],
    )
    body = convention_body(actors, request_id="retro")
    past = _phase(
        body,
        starts_on=(today() - timedelta(days=365)).isoformat(),
        ends_on=(today() - timedelta(days=1)).isoformat(),
    )
    r = await client.post(
        "/api/conventions", json={**body, "phase": past}, headers=actors["staff"].headers
    )
    assert r.status_code == 201, r.text
    conv = r.json()
    url, wid = f"/api/conventions/{conv['id']}", f"convention-{conv['id']}"
    await settled(db, wid, "awaiting_signatures")

    # Before the phase is evaluated: no review, no decision.
    note, close = {"note": "Point d'étape"}, {"close_reason": "fin du programme"}
    await refused(
        client, db, f"{url}/review", note, manager, "une revue impossible à l'étape « awaiting"
    )
    await refused(
        client, db, f"{url}/decision", close, manager, "une décision impossible à l'étape « await"
    )

    # The partner signs eight times at once: one signature, audited once.
    rs = await at_once(_sign(client, conv, partner) for _ in range(N))
    assert len(same(rs, 200, "signatures", "step")["signatures"]) == 1
    signed = "SELECT count(*) FROM audit_events WHERE action = 'convention.signed'"
    assert await db.fetchval(signed) == 1
    assert await db.fetchval("SELECT count(*) FROM convention_signatures") == 1
    assert await tasks_of(db, wid) == {"sign_convention": (2, 1)}

    # The last signature: the past phase is evaluated at once. Still no review (it belongs
    # to the running phase); the decision, eight times at once, closes it once.
    assert (await _sign(client, conv, manager)).status_code == 200
    await settled(db, wid, "evaluating")
    await refused(client, db, f"{url}/review", note, manager, "une revue impossible à l'étape « e")
    rs = await at_once(
        client.post(f"{url}/decision", json=close, headers=manager.headers) for _ in range(N)
    )
    # The same act by the same manager is one update: every copy, even one that arrives once
    # the workflow has ended, gets the outcome (Temporal keeps a completed update's answer).
    assert same(rs, 200, "step")["step"] == "closed"
    await settled(db, wid, "closed")
    await completed(dev_env.client, wid)
    late = await client.post(f"{url}/decision", json=close, headers=manager.headers)
    assert late.status_code == 200 and late.json()["step"] == "closed", late.text
    other_act = {"close_reason": "un autre motif"}
    r = await client.post(f"{url}/decision", json=other_act, headers=manager.headers)
    assert r.status_code == 409 and "Cette convention est close" in r.json()["detail"], r.text
    assert await db.fetchval(signed) == 2
    assert await tasks_of(db, wid) == {"sign_convention": (2, 2), "decide_convention": (1, 1)}
    assert await mails(db, "Évaluation de la phase") == 2

    # Another convention, cancelled eight times at once; a signature after that is refused.
    r = await client.post(
        "/api/conventions",
        json=convention_body(actors, request_id="abandon"),
        headers=actors["staff"].headers,
    )
    other = r.json()
    other_wid = f"convention-{other['id']}"
    await settled(db, other_wid, "awaiting_signatures")
    assert (await _sign(client, other, partner)).status_code == 200
    rs = await at_once(
        client.post(
            f"/api/conventions/{other['id']}/cancel",
            json={"reason": "financement retiré"},
            headers=manager.headers,
        )
        for _ in range(N)
    )
    assert same(rs, 200, "step")["step"] == "cancelled"
    await settled(db, other_wid, "cancelled")
    assert await mails(db, "Convention abandonnée") == 2  # one per party
    assert await tasks_of(db, other_wid) == {"sign_convention": (2, 2)}
    await refused(
        client,
        db,
        f"/api/conventions/{other['id']}/signature",
        {},
        manager,
        "cette convention est abandonnée",
        "Cette convention est close",
    )
