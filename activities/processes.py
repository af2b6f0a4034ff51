"""Bookkeeping every workflow does: status projection, human tasks, audit, outbox."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from domain.processes import OutboxMessage, StatusProjection, TaskClose, TaskOpen
from relais.settings import Settings
from store.processes import ProcessRepository


class ProcessActivities:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    @activity.defn
    async def project_status(self, s: StatusProjection) -> None:
        async with self.pool.acquire() as c, c.transaction():
            await ProcessRepository(c).project(s)

    @activity.defn
    async def open_task(self, t: TaskOpen) -> None:
        async with self.pool.acquire() as c, c.transaction():
            await ProcessRepository(c).open_task(t, base_url=self.settings.base_url)

    @activity.defn
    async def close_task(self, t: TaskClose) -> None:
        async with self.pool.acquire() as c, c.transaction():
            await ProcessRepository(c).close_task(t)

    @activity.defn
    async def enqueue_mail(self, m: OutboxMessage) -> None:
        async with self.pool.acquire() as c, c.transaction():
            await ProcessRepository(c).enqueue(m)
        activity.logger.info("mail queued", extra={"dedup_key": m.dedup_key})
