"""Mail to people about their tasks: one mail per task and person when it opens (for those who
chose « immediate »), and a daily digest of overdue tasks (for those who chose it). Both go
through the outbox with a dedup key, so a retried activity mails nobody twice."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from uuid import UUID, uuid4

import asyncpg

from domain.people import digest_mail, task_mail
from domain.processes import TaskOpen
from store.pool import Conn

# Everyone of the task's organisation and role who wants to know at once, greeted by name.
# The tasks just opened come as arrays (one statement for them all).
NOTIFY_TASK = """
INSERT INTO outbox (id, dedup_key, recipient, subject, body, workflow_id)
SELECT gen_random_uuid(), 'task:' || t.id || ':user:' || u.id::text, u.email, t.subject,
       'Bonjour ' || u.name || E',\n\n' || t.body, t.workflow_id
FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
     AS t (id, organisation_id, role, subject, body, workflow_id)
JOIN users u ON u.organisation_id = t.organisation_id AND u.role = t.role
WHERE u.status = 'active' AND u.notify = 'immediate' AND u.email IS NOT NULL
ON CONFLICT (dedup_key) DO NOTHING"""
OVERDUE_FOR_DIGEST = """
SELECT u.id AS user_id, u.name, u.email, t.title, t.due_at
FROM users u
JOIN tasks t ON t.assignee_organisation_id = u.organisation_id AND t.assignee_role = u.role
WHERE u.status = 'active' AND u.notify = 'daily' AND u.email IS NOT NULL
  AND t.closed_at IS NULL AND t.due_at < now()
ORDER BY u.id, t.due_at, t.id"""
ENQUEUE = """
INSERT INTO outbox (id, dedup_key, recipient, subject, body)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (dedup_key) DO NOTHING"""
DIGEST_MAX_LINES = 20


def task_link(base_url: str, task_id: UUID) -> str:
    return f"{base_url}/mes-taches/{task_id}"


class NoticeRepository:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def task_opened(self, task_id: UUID, t: TaskOpen, base_url: str) -> None:
        await self.tasks_opened([(task_id, t)], base_url)

    async def tasks_opened(self, opened: list[tuple[UUID, TaskOpen]], base_url: str) -> None:
        """The mails of tasks just opened, in one statement."""
        if not opened:
            return
        mails = [task_mail(t.title, t.due_at, task_link(base_url, i)) for i, t in opened]
        await self.conn.execute(
            NOTIFY_TASK,
            [str(i) for i, _ in opened],
            [t.assignee_organisation_id for _, t in opened],
            [t.assignee_role.value for _, t in opened],
            [subject for subject, _ in mails],
            [body for _, body in mails],
            [t.workflow_id for _, t in opened],
        )

    async def daily_digests(self, day: date, base_url: str) -> int:
        """One mail per person who chose the digest and has overdue tasks; returns how many
        were queued (a second run the same day queues none)."""
        rows = await self.conn.fetch(OVERDUE_FOR_DIGEST)
        by_user: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
        for r in rows:
            by_user[r["user_id"]].append(r)
        queued = 0
        for user_id, tasks in by_user.items():
            lines = [f"{t['title']} (échéance {t['due_at']:%d/%m/%Y})" for t in tasks]
            if len(lines) > DIGEST_MAX_LINES:
                lines = [
                    *lines[:DIGEST_MAX_LINES],
                    f"… et {len(lines) - DIGEST_MAX_LINES} autre(s)",
                ]
            subject, body = digest_mail(
                tasks[0]["name"], len(tasks), lines, f"{base_url}/mes-taches?retard=1"
            )
            status = await self.conn.execute(
                ENQUEUE,
                uuid4(),
                f"digest:{user_id}:{day.isoformat()}",
                tasks[0]["email"],
                subject,
                body,
            )
            queued += status == "INSERT 0 1"
        return queued
