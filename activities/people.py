"""People's housekeeping: the daily digest of overdue tasks, and forgetting what has expired
(sessions, sign-in links, rate-limit counters)."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from domain.people import DigestResult, DigestRun
from relais.settings import Settings
from store.limits import LimitRepository
from store.notices import NoticeRepository
from store.sessions import SessionRepository


class PeopleActivities:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    @activity.defn
    async def send_digests(self, run: DigestRun) -> DigestResult:
        """Queue one mail per person who chose the digest and has overdue tasks (keyed by
        person and day: a retry, or a second run that day, queues nothing more)."""
        async with self.pool.acquire() as c, c.transaction():
            queued = await NoticeRepository(c).daily_digests(run.day, self.settings.base_url)
        activity.logger.info("daily digests queued", extra={"queued": queued})
        return DigestResult(queued=queued)

    @activity.defn
    async def purge_expired(self, run: DigestRun) -> None:
        async with self.pool.acquire() as c, c.transaction():
            await SessionRepository(c).purge()
            await LimitRepository(c).purge()
