"""Effects of a convention's workflow: its phase records, signatures, amendments, expenses,
KPI snapshots and evaluations. Each is idempotent (keyed on the convention, phase and
request ids) and audits what a person did once."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from domain.convention import (
    AmendmentRecord,
    EvaluationRecord,
    ExpenseRecord,
    ExpenseTotal,
    KpiSnapshot,
    PhaseRecord,
    PhaseStepRecord,
    SignatureRecord,
    SnapshotRequest,
)
from domain.processes import AuditEvent
from store.convention import ConventionRepository
from store.processes import ProcessRepository

AUDITED = """
SELECT 1 FROM audit_events
WHERE workflow_id = $1 AND action = $2 AND data->>'request_id' = $3
  AND (data->>'phase')::int = $4"""


class ConventionActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn
    async def record_phase(self, r: PhaseRecord) -> None:
        async with self.pool.acquire() as c, c.transaction():
            await ConventionRepository(c).record_phase(r)

    @activity.defn
    async def set_step(self, r: PhaseStepRecord) -> None:
        async with self.pool.acquire() as c, c.transaction():
            await ConventionRepository(c).set_step(r)

    @activity.defn
    async def sign(self, s: SignatureRecord) -> None:
        async with self.pool.acquire() as c, c.transaction():
            if await ConventionRepository(c).sign(s):
                await ProcessRepository(c).audit(
                    AuditEvent(
                        actor=str(s.signatory_id),
                        action="convention.signed",
                        workflow_id=s.workflow_id,
                        entity_type="convention",
                        entity_id=str(s.convention_id),
                        data={"phase": s.phase_number, "organisation_id": str(s.organisation_id)},
                    )
                )

    @activity.defn
    async def amend(self, r: AmendmentRecord) -> None:
        a = r.amendment
        async with self.pool.acquire() as c, c.transaction():
            await ConventionRepository(c).amend(r)
            audited = await c.fetchval(
                AUDITED, r.workflow_id, "convention.amended", a.request_id, r.phase_number
            )
            if audited:
                return  # a retry: audited already
            await ProcessRepository(c).audit(
                AuditEvent(
                    actor=str(a.user_id),
                    action="convention.amended",
                    workflow_id=r.workflow_id,
                    entity_type="convention",
                    entity_id=str(r.convention_id),
                    data={
                        "request_id": a.request_id,
                        "phase": r.phase_number,
                        "targets": {k.value: v for k, v in a.targets.items()},
                        "annual_budget_cents": a.annual_budget_cents,
                        "reason": a.reason,
                    },
                )
            )

    @activity.defn
    async def add_expense(self, r: ExpenseRecord) -> ExpenseTotal:
        async with self.pool.acquire() as c, c.transaction():
            repo = ConventionRepository(c)
            if await repo.add_expense(r):
                e = r.expense
                await ProcessRepository(c).audit(
                    AuditEvent(
                        actor=str(e.user_id),
                        action="convention.expense",
                        workflow_id=r.workflow_id,
                        entity_type="convention",
                        entity_id=str(r.convention_id),
                        data={"request_id": e.request_id, "amount_cents": e.amount_cents},
                    )
                )
            return ExpenseTotal(used_cents=await repo.used_cents(r.convention_id, r.phase_number))

    @activity.defn
    async def take_snapshot(self, r: SnapshotRequest) -> KpiSnapshot:
        """Count the territory's activity since the phase began, and keep it."""
        async with self.pool.acquire() as c, c.transaction():
            repo = ConventionRepository(c)
            snapshot = KpiSnapshot(
                phase_number=r.phase_number,
                as_of=r.as_of,
                taken_at=r.taken_at,
                actuals=await repo.kpis(r.territory, r.starts_on, r.as_of),
            )
            await repo.save_snapshot(r.convention_id, snapshot)
        return snapshot

    @activity.defn
    async def save_evaluation(self, r: EvaluationRecord) -> None:
        async with self.pool.acquire() as c, c.transaction():
            await ConventionRepository(c).save_evaluation(r)
