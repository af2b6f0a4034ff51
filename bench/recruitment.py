"""Referral intake through the API: referrals per second and p50/p99 latency, against a bare
update-with-start that waits for one no-op activity (the Temporal round trips without the
API, Postgres and codec), on the same server in the same run. Then one campaign takes
5,000 referrals and its histories are measured."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from bench.baseline import BASELINE_QUEUE, BaselineInput, BaselineWorkflow
from bench.harness import Figure, Stack, percentile, serving
from domain.auth import Role
from domain.organisations import OrganisationKind
from tests.factories import make_org, make_user

CONCURRENCY = 16
ROUND = 300
LARGE = 5_000


async def _timed(n: int, one) -> list[float]:
    """Run `one(i)` n times, CONCURRENCY at a time; latencies in ms."""
    sem = asyncio.Semaphore(CONCURRENCY)
    latencies: list[float] = []

    async def guarded(i: int) -> None:
        async with sem:
            t0 = time.perf_counter()
            await one(i)
            latencies.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(guarded(i) for i in range(n)))
    return latencies


async def run(s: Stack, rounds: int, large: int = LARGE) -> list[Figure]:
    network = await make_org(s.pool, OrganisationKind.ASSOCIATION, name="Réseau")
    _, staff = await make_user(s.pool, network.id, Role.STAFF)
    employer = await make_org(s.pool, name="Logistique des Arnavaux")
    agency = await make_org(s.pool, OrganisationKind.AGENCY, name="France Travail")
    _, agency_token = await make_user(s.pool, agency.id, Role.AGENCY)
    staff_h = {"Authorization": f"Bearer {staff}"}
    agency_h = {"Authorization": f"Bearer {agency_token}"}

    async def new_campaign(http: httpx.AsyncClient, positions: int = 40) -> str:
        r = await http.post(
            "/api/campaigns",
            headers=staff_h,
            json={
                "request_id": uuid.uuid4().hex,
                "employer_id": str(employer.id),
                "title": "Entrepôt",
                "territory_postcodes": ["130"],
                "positions": [
                    {
                        "title": "Préparateur",
                        "count": positions,
                        "contract": "cdi",
                        "place_postcode": "13014",
                    }
                ],
                "agency_ids": [str(agency.id)],
                "deadline": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        return r.json()["id"]

    async def refer_all(http, cid: str, n: int) -> list[float]:
        async def one(i: int) -> None:
            r = await http.post(
                f"/api/campaigns/{cid}/referrals",
                headers=agency_h,
                json={
                    "request_id": f"r{i}",
                    "first_name": "Camille",
                    "last_name": f"N{i}",
                    "email": f"c{i}@example.fr",
                    "postcode": "13015",
                    "skills": ["CACES"],
                },
            )
            assert r.status_code == 201, r.text

        return await _timed(n, one)

    async def baseline_all(n: int) -> list[float]:
        async def one(i: int) -> None:
            await s.env.client.execute_update_with_start_workflow(
                BaselineWorkflow.first_done,
                BaselineInput(activities=3),
                start_workflow_operation=WithStartWorkflowOperation(
                    BaselineWorkflow.run,
                    BaselineInput(activities=3),
                    id=f"baseline-{uuid.uuid4()}",
                    task_queue=BASELINE_QUEUE,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                ),
            )

        return await _timed(n, one)

    figures: list[Figure] = []
    async with serving(s) as http:
        subject_rates, base_rates, subject_lat, base_lat = [], [], [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            base_lat += await baseline_all(ROUND)
            base_rates.append(ROUND / (time.perf_counter() - t0))
            cid = await new_campaign(http)
            t0 = time.perf_counter()
            subject_lat += await refer_all(http, cid, ROUND)
            subject_rates.append(ROUND / (time.perf_counter() - t0))
        base_name = "update-with-start of a bare workflow, 1 no-op activity before the answer"
        figures += [
            Figure(
                "referrals taken through the API",
                "per second, median of rounds",
                statistics.median(subject_rates),
                base_name,
                statistics.median(base_rates),
            ),
            Figure(
                "referral latency p50",
                "ms",
                percentile(subject_lat, 0.5),
                base_name,
                percentile(base_lat, 0.5),
            ),
            Figure(
                "referral latency p99",
                "ms",
                percentile(subject_lat, 0.99),
                base_name,
                percentile(base_lat, 0.99),
            ),
        ]

        if large:
            cid = await new_campaign(http)
            t0 = time.perf_counter()
            await refer_all(http, cid, large)
            rate = large / (time.perf_counter() - t0)
            campaign_events = len(
                (await s.env.client.get_workflow_handle(f"campaign-{cid}").fetch_history()).events
            )
            sample = [f"referral-{cid}-{agency.id}-r{i}" for i in range(0, large, large // 20)]
            referral_events = max(
                [
                    len((await s.env.client.get_workflow_handle(w).fetch_history()).events)
                    for w in sample
                ]
            )
            count = await s.pool.fetchval(
                "SELECT count(*) FROM referrals WHERE campaign_id=$1", uuid.UUID(cid)
            )
            assert count == large, count
            figures.append(
                Figure(
                    f"{large} referrals into one campaign",
                    "per second, one pass",
                    rate,
                    "the 300-referral rounds above",
                    statistics.median(subject_rates),
                )
            )
            print(
                f"\n{large} referrals stored; campaign history {campaign_events} events, "
                f"largest sampled referral history {referral_events} events (limit 10,240)"
            )
    return figures
