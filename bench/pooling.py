"""Pooled service requests end to end through the API: `POOLS` pools of `MEMBERS` members at
once, each from the members' requests to their ratings (join, quote, accept, order, confirm,
deliver, invoice, rate). Against a bare workflow with the same number of updates and
activities as a real pool's history (counted from it), driven through the Temporal client
only, on the same server in the same run."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from bench.baseline import BASELINE_QUEUE, PoolBaselineInput, PoolBaselineWorkflow
from bench.harness import Figure, Stack, serving
from domain.auth import Role
from domain.organisations import OrganisationKind
from domain.pooling import PoolStatus, in_next_month
from tests.factories import make_org, make_user
from workflows.pooling import ServicePoolWorkflow

MEMBERS = 10
POOLS = 6


def _next_month() -> str:
    today = datetime.now(UTC).date()
    return in_next_month(today, 3).isoformat()


async def run(s: Stack, rounds: int) -> list[Figure]:
    network = await make_org(s.pool, OrganisationKind.ASSOCIATION, name="Réseau")
    _, staff = await make_user(s.pool, network.id, Role.STAFF)
    provider = await make_org(s.pool, OrganisationKind.PROVIDER, name="Cabinet")
    _, provider_token = await make_user(s.pool, provider.id, Role.PARTNER)
    members = []
    for i in range(MEMBERS):
        org = await make_org(s.pool, name=f"Atelier {i}")
        members.append(
            {"Authorization": f"Bearer {(await make_user(s.pool, org.id, Role.MEMBER))[1]}"}
        )
    staff_h = {"Authorization": f"Bearer {staff}"}
    provider_h = {"Authorization": f"Bearer {provider_token}"}
    needed_by = _next_month()

    async def one_pool(http: httpx.AsyncClient) -> str:
        code = f"svc-{uuid.uuid4().hex[:10]}"
        r = await http.post(
            "/api/services",
            headers=staff_h,
            json={
                "code": code,
                "name": "Comptable partagé",
                "unit": "day",
                "pooling": {"min_participants": MEMBERS},
                "window_days": 60,
                "cost": {"fixed_cents": 120_000, "per_unit_cents": 42_000},
                "split_rule": "headcount_weighted",
                "acceptance_days": 7,
                "provider_id": str(provider.id),
            },
        )
        assert r.status_code == 201, r.text
        body = {"request_id": code, "quantity": 2, "needed_by": needed_by}
        reqs = await asyncio.gather(
            *(http.post(f"/api/services/{code}/requests", headers=h, json=body) for h in members)
        )
        ids = [r.json()["id"] for r in reqs]
        pool_id = reqs[0].json()["pool_id"]
        # The join that met the rule was answered once the quotes were out: no polling.
        assert any(r.json()["status"] == "quoted" for r in reqs), [r.json() for r in reqs]
        quotes = await asyncio.gather(
            *(
                http.get(f"/api/service-requests/{i}", headers=h)
                for i, h in zip(ids, members, strict=True)
            )
        )
        await asyncio.gather(
            *(
                http.post(
                    f"/api/service-requests/{i}/quote",
                    headers=h,
                    json={"accept": True, "quote_cents": q.json()["quote_cents"]},
                )
                for i, h, q in zip(ids, members, quotes, strict=True)
            )
        )
        # The acceptance that completed the pool was answered once the order was placed.
        r = await http.get(f"/api/pools/{pool_id}", headers=staff_h)
        assert r.json()["status"] == "ordered", r.json()["status"]
        r = await http.post(
            f"/api/pools/{pool_id}/order", headers=provider_h, json={"confirmed": True}
        )
        assert r.status_code == 200, r.text
        r = await http.post(
            f"/api/pools/{pool_id}/delivery", headers=provider_h, json={"delivered": True}
        )
        assert r.status_code == 200, r.text
        await asyncio.gather(
            *(
                http.post(f"/api/service-requests/{i}/rating", headers=h, json={"stars": 4})
                for i, h in zip(ids, members, strict=True)
            )
        )
        final = await s.env.client.get_workflow_handle_for(
            ServicePoolWorkflow.run, pool_id
        ).result()
        assert final.status == PoolStatus.COMPLETED, final
        return pool_id

    async def one_baseline(shape: PoolBaselineInput) -> None:
        wid = f"pool-baseline-{uuid.uuid4()}"

        def start() -> WithStartWorkflowOperation:
            return WithStartWorkflowOperation(
                PoolBaselineWorkflow.run,
                shape,
                id=wid,
                task_queue=BASELINE_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )

        await asyncio.gather(
            *(
                s.env.client.execute_update_with_start_workflow(
                    PoolBaselineWorkflow.member, shape, start_workflow_operation=start()
                )
                for _ in range(MEMBERS)
            )
        )
        h = s.env.client.get_workflow_handle_for(PoolBaselineWorkflow.run, wid)
        await h.execute_update(PoolBaselineWorkflow.reached, 1)
        await asyncio.gather(
            *(h.execute_update(PoolBaselineWorkflow.member, shape) for _ in range(MEMBERS))
        )
        await h.execute_update(PoolBaselineWorkflow.reached, 2)
        await h.execute_update(PoolBaselineWorkflow.provider)
        await h.execute_update(PoolBaselineWorkflow.provider)
        await asyncio.gather(
            *(h.execute_update(PoolBaselineWorkflow.member, shape) for _ in range(MEMBERS))
        )
        await h.result()

    figures: list[Figure] = []
    async with serving(s) as http:
        # One pool first, to count what a pool does: the baseline does as much.
        pool_id = await one_pool(http)
        history = await s.env.client.get_workflow_handle(pool_id).fetch_history()
        kinds = [e.event_type for e in history.events]
        # Local activities only (a patch's marker is recorded the same way).
        local = sum(
            e.marker_recorded_event_attributes.marker_name == "core_local_activity"
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        )
        regular = kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
        updates = kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
        shape = PoolBaselineInput(
            members=MEMBERS, local_activities=max(local - 3 * MEMBERS, 0), activities=regular
        )
        # The baseline runs one local activity in each member's update, whatever the pool
        # does (members' acts that arrive together share one): never fewer than 3 a member.
        base_local = 3 * MEMBERS + shape.local_activities
        subject, base = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            await asyncio.gather(*(one_baseline(shape) for _ in range(POOLS)))
            base.append(POOLS * MEMBERS / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            await asyncio.gather(*(one_pool(http) for _ in range(POOLS)))
            subject.append(POOLS * MEMBERS / (time.perf_counter() - t0))
        figures.append(
            Figure(
                f"pooled requests completed ({POOLS}x{MEMBERS} at once)",
                "requests per second, join to rating, median of rounds",
                statistics.median(subject),
                f"bare workflow, {updates} updates, {base_local} local + {regular} activities "
                f"(the pool's: {local} local)",
                statistics.median(base),
            )
        )
        print(
            f"\none pool of {MEMBERS}: {len(history.events)} history events, {updates} updates, "
            f"{local} local activities, {regular} activities"
        )
    return figures
