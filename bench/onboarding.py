"""Onboardings completed per second through the API (start, then the member's acceptance,
answered once the membership is active), against a bare workflow with the same number of
no-op activities and one update, on the same dev server in the same run."""

from __future__ import annotations

import asyncio
import uuid

from bench.baseline import BASELINE_QUEUE, BaselineInput, BaselineWorkflow
from bench.harness import Figure, Stack, serving, timed_rounds
from domain.auth import Role
from domain.organisations import OrganisationKind, OrganisationStatus
from tests.factories import make_org, make_user

ACTIVITIES_PER_ONBOARDING = 9  # project ×3, check, record, mail, open task, activate, close task
N = 60
CONCURRENCY = 12


async def _bounded(n: int, one) -> int:
    sem = asyncio.Semaphore(CONCURRENCY)

    async def guarded(i: int) -> None:
        async with sem:
            await one(i)

    await asyncio.gather(*(guarded(i) for i in range(n)))
    return n


async def run(s: Stack, rounds: int) -> list[Figure]:
    staff_org = await make_org(s.pool, OrganisationKind.ASSOCIATION, name="Réseau")
    _, staff_token = await make_user(s.pool, staff_org.id, Role.STAFF)

    async def subject() -> int:
        members = [await make_org(s.pool, status=OrganisationStatus.PENDING) for _ in range(N)]
        headers = {"Authorization": f"Bearer {staff_token}"}

        async def one(i: int) -> None:
            org = members[i]
            r = await http.post(
                "/api/onboardings",
                headers=headers,
                json={
                    "organisation_id": str(org.id),
                    "contact_name": "Nadia Benali",
                    "contact_email": "nadia@example.fr",
                },
            )
            assert r.status_code == 202, r.text
            r = await http.post(
                f"/api/onboardings/{org.id}/charter",
                headers=headers,
                json={"request_id": f"b-{org.id}"},
            )
            assert r.status_code == 200 and r.json()["step"] == "active", r.text

        return await _bounded(N, one)

    async def baseline() -> int:
        async def one(i: int) -> None:
            h = await s.env.client.start_workflow(
                BaselineWorkflow.run,
                BaselineInput(activities=ACTIVITIES_PER_ONBOARDING, wait_after=5),
                id=f"baseline-{uuid.uuid4()}",
                task_queue=BASELINE_QUEUE,
            )
            await h.execute_update(BaselineWorkflow.go_on)
            await h.result()

        return await _bounded(N, one)

    async with serving(s) as http:
        value, base, _ = await timed_rounds(rounds, subject, baseline)
    return [
        Figure(
            "onboardings completed through the API",
            "per second, median",
            value,
            f"bare workflow, {ACTIVITIES_PER_ONBOARDING} no-op activities + 1 update",
            base,
        )
    ]
