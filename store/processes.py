"""What workflows record about themselves: status projection, tasks, outbox, audit."""

from __future__ import annotations

import builtins
from typing import TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict

from domain.common import Page
from domain.processes import (
    AuditEvent,
    OutboxMessage,
    OutboxPublic,
    ProcessCount,
    ProcessFilter,
    ProcessPublic,
    StatusProjection,
    TaskClose,
    TaskOpen,
    TaskPublic,
    TimelineEvent,
)
from store.notices import NoticeRepository
from store.pool import Conn
from store.sql import Where, fetch_page

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
# A list's filters, each given one only when set (see store.sql.Where).
PROCESS_FILTERS = {
    "process": "p.process = {}",
    "status": "p.status = {}",
    "organisation_id": "p.organisation_id = {}",
    "waiting_on": "p.waiting_on = {}",
}
OVERDUE = "p.next_due_at < now()"
PROCESS_COLUMNS = """
SELECT p.workflow_id, p.process, p.organisation_id, o.name AS organisation_name, p.title,
       p.status, p.step, p.waiting_on, p.since, p.started_at, p.updated_at, p.next_due_at,
       coalesce(p.next_due_at < now(), false) AS overdue
FROM processes p LEFT JOIN organisations o ON o.id = p.organisation_id"""
# The network's list: `{where}` the filters, then limit and offset.
LIST_PROCESSES = f"""{PROCESS_COLUMNS}
WHERE {{where}}
ORDER BY p.updated_at DESC, p.workflow_id LIMIT {{limit}} OFFSET {{offset}}"""
# An organisation ($1) sees the processes it owns and those it was given a task in
# (process_organisations): read in order from that table's index, its page stops early.
LIST_SEEN = f"""{PROCESS_COLUMNS}
JOIN process_organisations s ON s.workflow_id = p.workflow_id AND s.organisation_id = $1
WHERE {{where}}
ORDER BY s.updated_at DESC, s.workflow_id LIMIT {{limit}} OFFSET {{offset}}"""
# Exact counts from the counters when only kind and status narrow the list; otherwise rows
# are counted up to `{bound}` (then the total is a lower bound).
COUNT_FROM_COUNTERS = "SELECT coalesce(sum(n), 0) FROM process_counts p WHERE {where}"
COUNT_PROCESSES = """
SELECT count(*) FROM (SELECT 1 FROM processes p WHERE {where} LIMIT {bound}) c"""
COUNT_SEEN = """
SELECT count(*) FROM (SELECT 1 FROM process_organisations s
                      JOIN processes p ON p.workflow_id = s.workflow_id
                      WHERE s.organisation_id = $1 AND {where} LIMIT {bound}) c"""
GET_PROCESS = f"{PROCESS_COLUMNS} WHERE p.workflow_id = $1"
COUNT_BY_STATUS = """
SELECT process, status, sum(n)::bigint AS count FROM process_counts
GROUP BY process, status HAVING sum(n) > 0 ORDER BY process, status"""
COUNT_SEEN_BY_STATUS = """
SELECT process, status, sum(n)::bigint AS count FROM process_organisation_counts
WHERE organisation_id = $1 GROUP BY process, status HAVING sum(n) > 0 ORDER BY process, status"""
INVOLVED = """
SELECT EXISTS (SELECT 1 FROM tasks WHERE workflow_id = $1 AND assignee_organisation_id = $2)"""

# Tasks come as arrays: those of one step open (or close) in one statement, so that its
# triggers run once and lock the counters they share with other workflows in key order
# (one statement per task locked them in the step's order, and two pools opening tasks for
# the same members deadlocked).
OPEN_TASK = """
INSERT INTO tasks (id, key, workflow_id, process, action, title, assignee_organisation_id,
                   assignee_role, due_at, subject_id)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::uuid[], $8::text[], $9::timestamptz[], $10::text[])
ON CONFLICT (key) DO NOTHING
RETURNING id, key"""
CLOSE_TASK = """
UPDATE tasks t SET closed_at = now(), outcome = c.outcome
FROM unnest($1::text[], $2::text[]) AS c (key, outcome)
WHERE t.key = c.key AND t.closed_at IS NULL"""
TASK_COLUMNS = """
t.id, t.workflow_id, t.process, t.action, t.title, t.assignee_organisation_id,
t.assignee_role, t.due_at, t.created_at, t.closed_at, t.outcome, t.subject_id,
o.name AS assignee_organisation_name, (t.closed_at IS NULL AND t.due_at < now()) AS overdue"""
TASK_FROM = "FROM tasks t JOIN organisations o ON o.id = t.assignee_organisation_id"
# Open tasks, soonest due first; `{where}`: the organisation, role and lateness asked for.
OPEN_TASKS_FOR = f"""
SELECT {TASK_COLUMNS} {TASK_FROM}
WHERE t.closed_at IS NULL AND {{where}}
ORDER BY t.due_at, t.id LIMIT {{limit}} OFFSET {{offset}}"""
GET_TASK = f"SELECT {TASK_COLUMNS} {TASK_FROM} WHERE t.id = $1"
TASKS_OF = f"SELECT {TASK_COLUMNS} {TASK_FROM} WHERE t.workflow_id = $1 ORDER BY t.created_at, t.id"

# A process's history: its audited acts (with the actor's name when a person) and its tasks.
TIMELINE = """
SELECT a.at, 'audit' AS kind, a.action, coalesce(u.name, a.actor) AS actor,
       a.entity_type || ' ' || a.entity_id AS detail, a.data
FROM audit_events a
LEFT JOIN users u ON u.id = CASE WHEN a.actor ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                                 THEN a.actor::uuid END  -- a person (by key), not "system"
WHERE a.workflow_id = $1
UNION ALL
SELECT t.created_at, 'task_opened', t.action, o.name, t.title, NULL
FROM tasks t JOIN organisations o ON o.id = t.assignee_organisation_id WHERE t.workflow_id = $1
UNION ALL
SELECT t.closed_at, 'task_closed', t.action, o.name, t.outcome, NULL
FROM tasks t JOIN organisations o ON o.id = t.assignee_organisation_id
WHERE t.workflow_id = $1 AND t.closed_at IS NOT NULL
ORDER BY 1, 2 LIMIT 500"""

ENQUEUE = """
INSERT INTO outbox (id, dedup_key, recipient, subject, body, workflow_id, sealed_body)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (dedup_key) DO NOTHING"""

# The outbox sender claims due mails for a while (a lease), so that two senders never send
# the same one; a crashed sender's lease runs out and the mail is claimed again.
CLAIM_DUE_MAIL = """
WITH due AS (
    SELECT id FROM outbox
    WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
      AND (claimed_until IS NULL OR claimed_until < now())
    ORDER BY next_attempt_at, created_at LIMIT $1 FOR UPDATE SKIP LOCKED)
UPDATE outbox o SET claimed_until = now() + make_interval(secs => $2)
FROM due WHERE o.id = due.id
RETURNING o.id, o.dedup_key, o.recipient, o.subject, o.body, o.workflow_id, o.attempts,
          o.sealed_body"""
MAIL_SENT = """
UPDATE outbox SET sent_at = now(), recipients = $2, attempts = attempts + 1,
                  claimed_until = NULL, last_error = NULL, sealed_body = NULL
WHERE id = $1 AND sent_at IS NULL"""
MAIL_RETRY = """
UPDATE outbox SET attempts = attempts + 1, last_error = $2, claimed_until = NULL,
                  next_attempt_at = now() + make_interval(secs => $3)
WHERE id = $1 AND sent_at IS NULL"""
MAIL_RELEASE = """
UPDATE outbox SET claimed_until = NULL WHERE id = ANY($1::uuid[]) AND sent_at IS NULL"""
MAIL_FAILED = """
UPDATE outbox SET attempts = attempts + 1, last_error = $2, claimed_until = NULL,
                  failed_at = now(), sealed_body = NULL
WHERE id = $1 AND sent_at IS NULL"""
NEXT_MAIL_DUE = """
SELECT CASE WHEN count(*) > 0
            THEN greatest(extract(epoch FROM min(greatest(
                next_attempt_at, coalesce(claimed_until, next_attempt_at))) - now()), 0)::float8
       END
FROM outbox
WHERE sent_at IS NULL AND failed_at IS NULL"""
ORGANISATION_EMAIL = "SELECT email FROM organisations WHERE id = $1"
OUTBOX_COLUMNS = """
id, recipient, recipients, subject, body, workflow_id, created_at, sent_at, failed_at, attempts,
last_error"""
LIST_OUTBOX = f"""
SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY created_at DESC, id LIMIT $1 OFFSET $2"""
LIST_OUTBOX_OF = f"""
SELECT {OUTBOX_COLUMNS} FROM outbox WHERE workflow_id = $1 ORDER BY created_at DESC, id LIMIT $2"""

APPEND_AUDIT = """
INSERT INTO audit_events (actor, action, workflow_id, entity_type, entity_id, data, dedup_key)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING"""


class ClaimedMail(BaseModel):
    """A mail the sender claimed (leased) to send now."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    dedup_key: str
    recipient: str
    subject: str
    body: str
    workflow_id: str | None
    attempts: int
    sealed_body: bytes | None = None  # a mail carrying a secret: its body, sealed


KeyedT = TypeVar("KeyedT", TaskOpen, TaskClose)


def _first_of_each_key(items: builtins.list[KeyedT]) -> builtins.list[KeyedT]:
    """One per key, the first given (as one statement per item did: the first one won)."""
    first: dict[str, KeyedT] = {}
    for i in items:
        first.setdefault(i.key, i)
    return list(first.values())


class ProcessRepository:
    def __init__(self, conn: Conn) -> None:
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

    async def list(self, f: ProcessFilter, viewer: UUID | None = None) -> Page[ProcessPublic]:
        """Processes matching `f`, newest change first; `viewer` (None: all) restricts them to
        an organisation's own and those it was given a task in. The total is exact from the
        counters for the network's list by kind and status, else counted up to a bound."""
        w = Where(viewer) if viewer else Where()
        for name, fragment in PROCESS_FILTERS.items():
            w.when(getattr(f, name) is not None, fragment, getattr(f, name))
        w.when(f.overdue, OVERDUE)
        if viewer is None and f.organisation_id is None and f.waiting_on is None and not f.overdue:
            # Only kind and status narrow the network's list: the counters know its total.
            page = Where(*w.args)
            sql = LIST_PROCESSES.format(
                where=w.sql, limit=page.param(f.limit), offset=page.param(f.offset)
            )
            rows = await self.conn.fetch(sql, *page.args)
            total = await self.conn.fetchval(COUNT_FROM_COUNTERS.format(where=w.sql), *w.args)
            lower = False
        else:
            rows_sql, count_sql = (
                (LIST_SEEN, COUNT_SEEN) if viewer else (LIST_PROCESSES, COUNT_PROCESSES)
            )
            rows, total, lower = await fetch_page(
                self.conn, w, rows_sql, count_sql, f.limit, f.offset
            )
        return Page[ProcessPublic](
            items=[ProcessPublic.model_validate(dict(r)) for r in rows],
            total=total,
            total_is_lower_bound=lower,
            limit=f.limit,
            offset=f.offset,
        )

    async def counts(self, viewer: UUID | None = None) -> builtins.list[ProcessCount]:
        if viewer is None:
            rows = await self.conn.fetch(COUNT_BY_STATUS)
        else:
            rows = await self.conn.fetch(COUNT_SEEN_BY_STATUS, viewer)
        return [ProcessCount.model_validate(dict(r)) for r in rows]

    async def get(self, workflow_id: str) -> ProcessPublic | None:
        row = await self.conn.fetchrow(GET_PROCESS, workflow_id)
        return ProcessPublic.model_validate(dict(row)) if row else None

    async def involved(self, workflow_id: str, organisation_id: UUID) -> bool:
        """Whether the organisation was given a task in the process."""
        return await self.conn.fetchval(INVOLVED, workflow_id, organisation_id)

    async def timeline(self, workflow_id: str) -> builtins.list[TimelineEvent]:
        rows = await self.conn.fetch(TIMELINE, workflow_id)
        return [TimelineEvent.model_validate(dict(r)) for r in rows]

    async def tasks_of(self, workflow_id: str) -> builtins.list[TaskPublic]:
        rows = await self.conn.fetch(TASKS_OF, workflow_id)
        return [TaskPublic.model_validate(dict(r)) for r in rows]

    async def task(self, task_id: UUID) -> TaskPublic | None:
        row = await self.conn.fetchrow(GET_TASK, task_id)
        return TaskPublic.model_validate(dict(row)) if row else None

    async def open_task(self, t: TaskOpen, *, base_url: str) -> None:
        """Open a task once (a retried activity finds it there) and, in the same
        transaction, mail its organisation's people of its role who want to know at once
        (links to it start with `base_url`)."""
        await self.open_task_batch([t], base_url=base_url)

    async def open_task_batch(self, tasks: builtins.list[TaskOpen], *, base_url: str) -> None:
        """`open_task` for several tasks at once, in two statements whatever their number."""
        tasks = _first_of_each_key(tasks)
        if not tasks:
            return
        rows = await self.conn.fetch(
            OPEN_TASK,
            [uuid4() for _ in tasks],
            [t.key for t in tasks],
            [t.workflow_id for t in tasks],
            [t.process.value for t in tasks],
            [str(t.action) for t in tasks],
            [t.title for t in tasks],
            [t.assignee_organisation_id for t in tasks],
            [t.assignee_role.value for t in tasks],
            [t.due_at for t in tasks],
            [t.subject_id for t in tasks],
        )
        opened = {r["key"]: r["id"] for r in rows}  # not those a retry finds there
        await NoticeRepository(self.conn).tasks_opened(
            [(opened[t.key], t) for t in tasks if t.key in opened], base_url
        )

    async def close_task(self, t: TaskClose) -> None:
        await self.close_task_batch([t])

    async def close_task_batch(self, closing: builtins.list[TaskClose]) -> None:
        closing = _first_of_each_key(closing)
        if closing:
            await self.conn.execute(
                CLOSE_TASK, [t.key for t in closing], [t.outcome for t in closing]
            )

    async def enqueue_batch(self, mails: builtins.list[OutboxMessage]) -> None:
        """`enqueue` for several mails (none carrying a secret), sent together."""
        if mails:
            await self.conn.executemany(
                ENQUEUE,
                [
                    (uuid4(), m.dedup_key, m.recipient, m.subject, m.body, m.workflow_id, None)
                    for m in mails
                ],
            )

    async def open_tasks(
        self,
        organisation_id: UUID | None,
        role: str | None = None,
        *,
        overdue: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[TaskPublic]:
        """Open tasks of an organisation (all when None), for one role (any when None), the
        overdue ones only when `overdue`; soonest due first."""
        w = Where()
        w.when(organisation_id is not None, "t.assignee_organisation_id = {}", organisation_id)
        w.when(role is not None, "t.assignee_role = {}", role)
        w.when(overdue, "t.due_at < now()")
        sql = OPEN_TASKS_FOR.format(where=w.sql, limit=w.param(limit), offset=w.param(offset))
        rows = await self.conn.fetch(sql, *w.args)
        return [TaskPublic.model_validate(dict(r)) for r in rows]

    async def enqueue(self, m: OutboxMessage, sealed_body: bytes | None = None) -> None:
        """Queue a mail once per dedup key. `sealed_body`: the real body of a mail carrying a
        secret (sealed with the data key, bound to the dedup key), sent instead of `body`
        — which shows it masked — and forgotten once sent."""
        await self.conn.execute(
            ENQUEUE,
            uuid4(),
            m.dedup_key,
            m.recipient,
            m.subject,
            m.body,
            m.workflow_id,
            sealed_body,
        )

    async def claim_due_mail(self, limit: int, lease_seconds: float) -> builtins.list[ClaimedMail]:
        rows = await self.conn.fetch(CLAIM_DUE_MAIL, limit, lease_seconds)
        return [ClaimedMail.model_validate(dict(r)) for r in rows]

    async def mail_sent(self, mail_id: UUID, recipients: builtins.list[str]) -> None:
        await self.conn.execute(MAIL_SENT, mail_id, recipients)

    async def mail_retry(self, mail_id: UUID, error: str, delay_seconds: float) -> None:
        await self.conn.execute(MAIL_RETRY, mail_id, error, delay_seconds)

    async def mail_release(self, mail_ids: builtins.list[UUID]) -> None:
        await self.conn.execute(MAIL_RELEASE, mail_ids)

    async def mail_failed(self, mail_id: UUID, error: str) -> None:
        await self.conn.execute(MAIL_FAILED, mail_id, error)

    async def next_mail_due_in(self) -> float | None:
        return await self.conn.fetchval(NEXT_MAIL_DUE)

    async def organisation_email(self, organisation_id: UUID) -> str | None:
        return await self.conn.fetchval(ORGANISATION_EMAIL, organisation_id)

    async def outbox(
        self, workflow_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> builtins.list[OutboxPublic]:
        if workflow_id is None:
            rows = await self.conn.fetch(LIST_OUTBOX, limit, offset)
        else:
            rows = await self.conn.fetch(LIST_OUTBOX_OF, workflow_id, limit)
        return [OutboxPublic.model_validate(dict(r)) for r in rows]

    async def audit(self, e: AuditEvent) -> None:
        await self.conn.execute(
            APPEND_AUDIT,
            e.actor,
            e.action,
            e.workflow_id,
            e.entity_type,
            e.entity_id,
            e.data,
            e.dedup_key,
        )
