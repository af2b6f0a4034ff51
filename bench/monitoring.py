"""The process list over 10,000 processes: `GET /api/processes` (Postgres projection) against
listing the same page through Temporal's visibility API (`list_workflows`, the dev server's
SQLite visibility store), both holding the same 10,000 executions, in the same run."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

from temporalio.common import SearchAttributePair, TypedSearchAttributes

from bench.harness import Figure, Stack, alternating_ms, percentile, serving
from domain.auth import Role
from domain.organisations import OrganisationKind
from tests.factories import make_org, make_user
from workflows.common import SA_ORGANISATION, SA_PROCESS, SA_STATUS

N = 10_000
PAGE = 50
IDLE_QUEUE = "bench-list-idle"  # no worker polls it: the executions stay open
KINDS = [
    ("referral", 60),
    ("onboarding", 15),
    ("recruitment", 10),
    ("pooling", 10),
    ("convention", 5),
]
STATUSES = [("waiting", 70), ("running", 10), ("completed", 20)]
WORKFLOW_TYPE = {
    "referral": "RecruitmentReferralWorkflow",
    "onboarding": "MemberOnboardingWorkflow",
    "recruitment": "RecruitmentCampaignWorkflow",
    "pooling": "ServicePoolWorkflow",
    "convention": "ConventionWorkflow",
}


def _pick(rng: random.Random, weighted) -> str:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


async def _populate(s: Stack, n: int, org_ids: list) -> None:
    """The same n processes in both stores: a projection row each, and an open execution
    with Relais' search attributes."""
    rng = random.Random(42)
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        kind, st = _pick(rng, KINDS), _pick(rng, STATUSES)
        since = now - timedelta(minutes=n - i)
        org = org_ids[i % len(org_ids)]
        rows.append((f"bench-{kind}-{i:05d}", kind, st, org, since))
    await s.pool.executemany(
        """INSERT INTO processes (workflow_id, run_id, process, organisation_id, title, status,
                                  step, waiting_on, since, seq, started_at, updated_at)
           VALUES ($1, 'r', $2, $4, $1, $3, 'step', CASE WHEN $3 = 'waiting' THEN 'member' END,
                   $5, 1, $5, $5)""",
        rows,
    )
    sem = asyncio.Semaphore(64)

    async def start(wid: str, kind: str, st: str, org, _since) -> None:
        async with sem:
            await s.env.client.start_workflow(
                WORKFLOW_TYPE[kind],
                id=wid,
                task_queue=IDLE_QUEUE,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(SA_PROCESS, kind),
                        SearchAttributePair(SA_STATUS, st),
                        SearchAttributePair(SA_ORGANISATION, str(org)),
                    ]
                ),
            )

    await asyncio.gather(*(start(*r) for r in rows))


async def _visible(s: Stack, n: int) -> None:
    """Visibility is eventually consistent: wait until it counts every execution."""
    for _ in range(600):
        if (await s.env.client.count_workflows(f"TaskQueue = '{IDLE_QUEUE}'")).count >= n:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("visibility never caught up")


async def run(s: Stack, rounds: int, n: int = N) -> list[Figure]:
    network = await make_org(s.pool, OrganisationKind.ASSOCIATION, name="Réseau (bench)")
    orgs = [network.id] + [(await make_org(s.pool)).id for _ in range(19)]
    _, token = await make_user(s.pool, network.id, Role.MANAGER)
    headers = {"Authorization": f"Bearer {token}"}
    t0 = time.perf_counter()
    await _populate(s, n, orgs)
    await _visible(s, n)
    print(f"  {n} processes in Postgres and Temporal in {time.perf_counter() - t0:.0f} s")
    calls = max(rounds * 40, 100)
    figures: list[Figure] = []
    async with serving(s) as http:

        async def first_page(params: dict, query: str):
            async def api() -> None:
                r = await http.get(
                    "/api/processes", params={"limit": PAGE, **params}, headers=headers
                )
                assert r.status_code == 200 and len(r.json()["items"]) == PAGE, r.text

            async def temporal() -> None:
                got = 0
                async for _ in s.env.client.list_workflows(query, page_size=PAGE, limit=PAGE):
                    got += 1
                assert got == PAGE

            return api, temporal

        cases = [
            ("all, newest first", {}, f"TaskQueue = '{IDLE_QUEUE}'"),
            (
                "referrals waiting",
                {"process": "referral", "status": "waiting"},
                f"TaskQueue = '{IDLE_QUEUE}' AND RelaisProcess = 'referral' "
                "AND RelaisStatus = 'waiting'",
            ),
            (
                "one organisation's",
                {"organisation_id": str(orgs[3])},
                f"TaskQueue = '{IDLE_QUEUE}' AND RelaisOrganisation = '{orgs[3]}'",
            ),
        ]
        for name, params, query in cases:
            api, temporal = await first_page(params, query)
            for _ in range(5):  # warm both (connections, caches)
                await api()
                await temporal()
            a, t = await alternating_ms(calls, api, temporal)
            for q, label in ((0.5, "p50"), (0.99, "p99")):
                figures.append(
                    Figure(
                        f"list {PAGE} of {n // 1000}k: {name} ({label})",
                        "ms per page, lower is better",
                        percentile(a, q),
                        "Temporal list_workflows, same page",
                        percentile(t, q),
                    )
                )
    return figures
