"""A convention's KPI snapshot taken on demand (`POST /api/conventions/{id}/snapshots`) over a
territory with a year of activity: `VISITS` company visits and their action projects, with as
many again on another territory and before the phase. Against a standing bare workflow
answering an update after one no-op activity, through the Temporal client, in the same run."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from bench.baseline import BASELINE_QUEUE, ReportBaselineWorkflow
from bench.harness import Figure, Stack, alternating_ms, percentile, serving
from domain.auth import Role
from domain.convention import KpiKey
from domain.organisations import OrganisationKind
from store.convention import ConventionRepository
from tests.factories import make_org, make_user, store_visits

VISITS = 20_000  # on the convention's territory, inside the phase
COMPANIES = 8_000  # a company visited more than once counts once
TERRITORY = "Bench Territoire"
KINDS = ["recruitment", "pooled_service", "training", "investment", "digital", "funding"]
STATUSES = ["identified", "in_progress", "done", "abandoned"]


async def _populate(s: Stack, adviser, network_id, starts_on: date, today: date) -> dict:
    """Visits on the territory inside the phase (what counts), then as many before the phase
    and on another territory (what the query must skip). Returns the expected counts."""
    rng = random.Random(7)
    visits, projects = [], []
    expected = {KpiKey.VISITS: 0, KpiKey.ACTION_PROJECTS: 0}
    met: set[str] = set()
    span = (today - starts_on).days
    for i in range(3 * VISITS):
        kind_of_row = i % 3  # 0: counted, 1: before the phase, 2: another territory
        territory = "Autre territoire" if kind_of_row == 2 else TERRITORY
        if kind_of_row == 1:
            on = starts_on - timedelta(days=1 + rng.randrange(365))
        else:
            on = starts_on + timedelta(days=rng.randrange(span))
        siret = f"{rng.randrange(COMPANIES):014d}"
        vid = uuid.uuid4()
        visits.append(
            (vid, adviser, network_id, siret, f"Entreprise {siret[-4:]}", "13015", territory, on)
        )
        counted = kind_of_row == 0
        if counted:
            expected[KpiKey.VISITS] += 1
            met.add(siret)
        for ord_ in range(rng.choice([0, 0, 1, 1, 2])):
            status = rng.choice(STATUSES)
            kind = rng.choice(KINDS)
            cents = rng.randrange(1, 50_000_00) if kind == "investment" else None
            projects.append((uuid.uuid4(), vid, ord_, kind, "Projet", status, cents))
            if counted and status != "abandoned":
                expected[KpiKey.ACTION_PROJECTS] += 1
    expected[KpiKey.COMPANIES_MET] = len(met)
    async with s.pool.acquire() as c:
        await store_visits(c, visits, projects)
        await c.execute("ANALYZE company_visits; ANALYZE action_projects")
    return expected


async def run(s: Stack, rounds: int) -> list[Figure]:
    network = await make_org(s.pool, OrganisationKind.ASSOCIATION, name="Réseau (bench)")
    chamber = await make_org(s.pool, OrganisationKind.CHAMBER, name="CMA (bench)")
    manager_id, manager_token = await make_user(s.pool, network.id, Role.MANAGER)
    partner_id, partner_token = await make_user(s.pool, chamber.id, Role.PARTNER)
    manager = {"Authorization": f"Bearer {manager_token}"}
    partner = {"Authorization": f"Bearer {partner_token}"}
    today = datetime.now(UTC).date()
    starts_on = today - timedelta(days=365)
    t0 = time.perf_counter()
    expected = await _populate(s, manager_id, network.id, starts_on, today)
    print(f"  {3 * VISITS} visits and their projects stored in {time.perf_counter() - t0:.0f} s")
    calls = max(rounds * 20, 60)
    async with serving(s) as http:
        r = await http.post(
            "/api/conventions",
            headers=manager,
            json={
                "request_id": f"bench-{uuid.uuid4().hex[:8]}",
                "title": "Convention (bench)",
                "territory": TERRITORY,
                "parties": [
                    {
                        "organisation_id": str(network.id),
                        "role": "operator",
                        "signatory_id": str(manager_id),
                    },
                    {
                        "organisation_id": str(chamber.id),
                        "role": "partner",
                        "signatory_id": str(partner_id),
                    },
                ],
                "phase": {
                    "starts_on": starts_on.isoformat(),
                    "ends_on": (today + timedelta(days=365)).isoformat(),
                    "annual_budget_cents": 16_500_000,
                    "targets": {"companies_met": 190},
                },
            },
        )
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        for h in (manager, partner):
            r = await http.post(f"/api/conventions/{cid}/signature", json={}, headers=h)
            assert r.status_code == 200, r.text

        async def subject() -> None:
            r = await http.post(f"/api/conventions/{cid}/snapshots", headers=manager)
            assert r.status_code == 200, r.text
            actuals = r.json()["actuals"]
            for key, n in expected.items():
                assert actuals[key] == n, (key, actuals[key], n)

        baseline = await s.env.client.start_workflow(
            ReportBaselineWorkflow.run, id=f"bench-report-{uuid.uuid4()}", task_queue=BASELINE_QUEUE
        )

        async def base() -> None:
            await baseline.execute_update(ReportBaselineWorkflow.refresh, 1)

        for _ in range(100):  # the convention turns active once both have signed
            r = await http.get(f"/api/conventions/{cid}/state", headers=manager)
            if r.json()["step"] == "active":
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"the convention never became active: {r.text}")
        for _ in range(3):  # warm both
            await subject()
            await base()
        a, b = await alternating_ms(calls, subject, base)
        await baseline.signal(ReportBaselineWorkflow.done)

    async with s.pool.acquire() as c:  # the counting alone, in the activity's own terms
        repo = ConventionRepository(c)
        read = []
        for _ in range(calls // 2):
            t1 = time.perf_counter()
            await repo.kpis(TERRITORY, starts_on, today)
            read.append(1000 * (time.perf_counter() - t1))
    print(f"  the counting alone (one SQL statement): p50 {percentile(read, 0.5):.1f} ms")
    name = f"KPI snapshot on demand, {VISITS // 1000}k visits"
    return [
        Figure(
            f"{name} ({label})",
            "ms per snapshot, lower is better",
            percentile(a, q),
            "bare workflow: update + 1 no-op activity",
            percentile(b, q),
        )
        for q, label in ((0.5, "p50"), (0.99, "p99"))
    ]
