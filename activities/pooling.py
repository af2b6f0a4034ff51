"""Effects of pooled-service requests: the pool's records, the order with the provider, the
invoices. Each is idempotent: a retried activity finds its rows and keys already there."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from activities.errors import PoolRequestRefused
from activities.recruitment import org_recipient
from domain.pooling import (
    Invoicing,
    OrderChange,
    OrderPlacement,
    PoolInput,
    PoolSync,
    RecordRequest,
    RequestRecord,
)
from domain.processes import OutboxMessage
from relais.settings import Settings
from store.pooling import PoolingRepository
from store.processes import ProcessRepository


class PoolingActivities:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    @activity.defn
    async def create_pool(self, p: PoolInput) -> None:
        async with self.pool.acquire() as c, c.transaction():
            await PoolingRepository(c).create_pool(p)

    @activity.defn
    async def record_request(self, r: RecordRequest) -> RequestRecord:
        """Record a member's request; raises `PoolRequestRefused` when the pool does not take
        it (the refused request is stored first, so that a retry answers the same)."""
        async with self.pool.acquire() as c, c.transaction():
            record = await PoolingRepository(c).record_request(r)
        if record.refusal:
            raise PoolRequestRefused(record.refusal)
        return record

    @activity.defn
    async def sync_pool(self, s: PoolSync) -> None:
        """The pool's and its members' rows, tasks, mail and status, in one transaction."""
        async with self.pool.acquire() as c, c.transaction():
            await PoolingRepository(c).sync(s.pool)
            processes = ProcessRepository(c)
            await processes.close_task_batch(s.tasks_close)
            await processes.open_task_batch(s.tasks_open, base_url=self.settings.base_url)
            await processes.enqueue_batch(s.mails)
            if s.status is not None:
                await processes.project(s.status)

    @activity.defn
    async def place_order(self, o: OrderPlacement) -> None:
        """Place the order with the provider: one order row per pool, sent once."""
        async with self.pool.acquire() as c, c.transaction():
            await PoolingRepository(c).place_order(o)
            lines = "\n".join(f"- {line}" for line in o.lines)
            await ProcessRepository(c).enqueue(
                OutboxMessage(
                    dedup_key=f"{o.pool_id}:order",
                    recipient=org_recipient(o.provider_id),
                    subject=f"Commande groupée : {o.service_name} ({o.period})",
                    body=(
                        f"Le réseau commande {o.service_name} pour {o.period}, "
                        f"total {o.total_cents / 100:.2f} EUR HT :\n{lines}\n"
                        "Merci de confirmer ou de refuser la commande sur Relais."
                    ),
                    workflow_id=o.pool_id,
                )
            )

    @activity.defn
    async def set_order(self, o: OrderChange) -> None:
        async with self.pool.acquire() as c, c.transaction():
            await PoolingRepository(c).set_order(o)

    @activity.defn
    async def write_invoices(self, i: Invoicing) -> None:
        """One invoice line per member (keyed by its request: written once)."""
        async with self.pool.acquire() as c, c.transaction():
            await PoolingRepository(c).invoice(i.lines)
