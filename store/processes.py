"""What workflows record about themselves: status projection, tasks, outbox, audit."""

from __future__ import annotations

from uuid import UUID, uuid4

import asyncpg

from domain.common import Page
from domain.processes import (
    AuditEvent,
    OutboxMessage,
    ProcessKind,
    ProcessPublic,
    ProcessStatus,
    StatusProjection,
    TaskClose,
    TaskOpen,
    TaskPublic,
)

# Only a newer state (higher seq) replaces the stored one: retries arrive late.
UPSERT_STATUS = """
INSERT INTO processes (workflow_id, run_id, process, organisation_id, title, status, step,
                       waiting_on, since, seq)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (workflow_id) DO UPDATE
SET run_id = EXCLUDED.run_id, status = EXCLUDED.status, step = EXCLUDED.step,
    waiting_on = EXCLUDED.waiting_on, since = EXCLUDED.since, seq = EXCLUDED.seq,
    title = EXCLUDED.title, organisation_id = EXCLUDED.organisation_id, updated_at = now(),
    started_at = CASE WHEN processes.run_id <> EXCLUDED.run_id THEN now()
                      ELSE processes.started_at END
WHERE processes.seq < EXCLUDED.seq OR processes.run_id <> EXCLUDED.run_id"""
PROCESS_WHERE = """
WHERE ($1::text IS NULL OR p.process = $1)
  AND ($2::text IS NULL OR p.status = $2)
  AND ($3::uuid IS NULL OR p.organisation_id = $3)"""
LIST_PROCESSES = f"""
SELECT p.workflow_id, p.process, p.organisation_id, o.name AS organisation_name, p.title,
       p.status, p.step, p.waiting_on, p.since, p.started_at, p.updated_at
FROM processes p LEFT JOIN organisations o ON o.id = p.organisation_id
{PROCESS_WHERE}
ORDER BY p.updated_at DESC, p.workflow_id LIMIT $4 OFFSET $5"""
COUNT_PROCESSES = f"SELECT count(*) FROM processes p {PROCESS_WHERE}"
GET_PROCESS = """
SELECT p.workflow_id, p.process, p.organisation_id, o.name AS organisation_name, p.title,
       p.status, p.step, p.waiting_on, p.since, p.started_at, p.updated_at
FROM processes p LEFT JOIN organisations o ON o.id = p.organisation_id
WHERE p.workflow_id = $1"""

OPEN_TASK = """
INSERT INTO tasks (id, key, workflow_id, process, action, title, assignee_organisation_id,
                   assignee_role, due_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (key) DO NOTHING"""
CLOSE_TASK = """
UPDATE tasks SET closed_at = now(), outcome = $2 WHERE key = $1 AND closed_at IS NULL"""
TASK_COLUMNS = (
    "id, workflow_id, process, action, title, assignee_organisation_id, assignee_role, due_at, "
    "created_at, closed_at, outcome"
)
OPEN_TASKS_FOR = f"""
SELECT {TASK_COLUMNS} FROM tasks
WHERE closed_at IS NULL AND ($1::uuid IS NULL OR assignee_organisation_id = $1)
  AND ($2::text IS NULL OR assignee_role = $2)
ORDER BY due_at, id LIMIT $3"""

ENQUEUE = """
INSERT INTO outbox (id, dedup_key, recipient, subject, body, workflow_id)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (dedup_key) DO NOTHING"""

APPEND_AUDIT = """
INSERT INTO audit_events (actor, action, workflow_id, entity_type, entity_id, data)
VALUES ($1, $2, $3, $4, $5, $6)"""


class ProcessRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def project(self, s: StatusProjection) -> None:
        await self.conn.execute(
            UPSERT_STATUS,
            s.workflow_id,
            s.run_id,
            s.process,
            s.organisation_id,
            s.title,
            s.status,
            s.step,
            s.waiting_on,
            s.since,
            s.seq,
        )

    async def list(
        self,
        *,
        process: ProcessKind | None,
        status: ProcessStatus | None,
        organisation_id: UUID | None,
        limit: int,
        offset: int,
    ) -> Page[ProcessPublic]:
        args = (process, status, organisation_id)
        rows = await self.conn.fetch(LIST_PROCESSES, *args, limit, offset)
        total = await self.conn.fetchval(COUNT_PROCESSES, *args)
        return Page[ProcessPublic](
            items=[ProcessPublic.model_validate(dict(r)) for r in rows],
            total=total,
            limit=limit,
            offset=offset,
        )

    async def get(self, workflow_id: str) -> ProcessPublic | None:
        row = await self.conn.fetchrow(GET_PROCESS, workflow_id)
        return ProcessPublic.model_validate(dict(row)) if row else None

    async def open_task(self, t: TaskOpen) -> None:
        await self.conn.execute(
            OPEN_TASK,
            uuid4(),
            t.key,
            t.workflow_id,
            t.process,
            t.action,
            t.title,
            t.assignee_organisation_id,
            t.assignee_role,
            t.due_at,
        )

    async def close_task(self, t: TaskClose) -> None:
        await self.conn.execute(CLOSE_TASK, t.key, t.outcome)

    async def open_tasks(
        self, organisation_id: UUID | None, role: str | None = None, limit: int = 100
    ) -> list[TaskPublic]:
        """Open tasks of an organisation (all when None), for one role (any when None)."""
        rows = await self.conn.fetch(OPEN_TASKS_FOR, organisation_id, role, limit)
        return [TaskPublic.model_validate(dict(r)) for r in rows]

    async def enqueue(self, m: OutboxMessage) -> None:
        await self.conn.execute(
            ENQUEUE, uuid4(), m.dedup_key, m.recipient, m.subject, m.body, m.workflow_id
        )

    async def audit(self, e: AuditEvent) -> None:
        await self.conn.execute(
            APPEND_AUDIT, e.actor, e.action, e.workflow_id, e.entity_type, e.entity_id, e.data
        )
