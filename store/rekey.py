"""`relais rekey`: every value sealed at rest re-sealed with the current data key.

Today the sealed values are the referrals' identity and CV (and their keyed hashes, which
the same key derives). Page by page, one transaction each: stopped at any point, the next
run goes on from where the data still needs it; run again, it changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias
from uuid import UUID

import asyncpg

from domain.processes import AuditEvent
from store.crypto import Sealer
from store.processes import ProcessRepository
from store.recruitment import RecruitmentRepository

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


@dataclass
class RekeyReport:
    key_id: str
    read: int = 0
    resealed: int = 0
    unreadable: list[UUID] = field(default_factory=list)
    rehash_conflicts: list[UUID] = field(default_factory=list)


async def rekey(conn: Conn, sealer: Sealer, *, batch: int = 200) -> RekeyReport:
    report = RekeyReport(key_id=sealer.current.id)
    after = UUID(int=0)
    while True:
        async with conn.transaction():
            page = await RecruitmentRepository(conn).reseal_page(sealer, after, batch)
        report.read += page.read
        report.resealed += page.resealed
        report.unreadable += page.unreadable
        report.rehash_conflicts += page.rehash_conflicts
        if page.last is None:
            break
        after = page.last
    if report.resealed:
        await ProcessRepository(conn).audit(
            AuditEvent(
                actor="system",
                action="data_rekeyed",
                entity_type="data_key",
                entity_id=report.key_id,
                data={"resealed": report.resealed, "unreadable": len(report.unreadable)},
            )
        )
    return report
