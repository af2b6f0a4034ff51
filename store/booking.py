"""Resources and their reservations. Double booking is impossible by construction: the
exclusion constraint `reservations_no_double_booking` refuses two confirmed reservations of
one resource whose slots overlap, whatever the concurrency."""

from __future__ import annotations

from uuid import UUID, uuid4

import asyncpg

from domain.booking import (
    Cancelled,
    ReservationInput,
    ReservationPublic,
    ReservationState,
    ReservationStatus,
    ResourceCreate,
    ResourcePublic,
    reservation_workflow_id,
)
from domain.common import Page
from store.pool import Conn

INSERT_RESOURCE = """
INSERT INTO resources (id, network_id, kind, name, location) VALUES ($1, $2, $3, $4, $5)
RETURNING id, network_id, kind, name, location, created_at"""
INSERT_RESERVATION = """
INSERT INTO reservations (id, workflow_id, resource_id, resource_no, member_id, slot, status,
                          created_by)
SELECT $1, $2, r.id, r.no, $4, tstzrange($5, $6), $7, $8 FROM resources r WHERE r.id = $3
ON CONFLICT (id) DO NOTHING"""
STATE = """
SELECT v.id AS reservation_id, v.resource_id, r.name AS resource_name, v.member_id,
       lower(v.slot) AS starts_at, upper(v.slot) AS ends_at, v.status, v.reason,
       CASE WHEN v.status = 'waitlisted' THEN
           (SELECT count(*) FROM reservations w
            WHERE w.resource_id = v.resource_id AND w.status = 'waitlisted'
              AND w.slot && v.slot AND (w.created_at, w.id) <= (v.created_at, v.id))
       END AS waitlist_position
FROM reservations v JOIN resources r ON r.id = v.resource_id WHERE v.id = $1"""
LOCK = "SELECT status, resource_id, slot FROM reservations WHERE id = $1 FOR UPDATE"
CANCEL = """
UPDATE reservations SET status = 'cancelled', reason = $2, updated_at = now() WHERE id = $1"""
PROMOTED_BY = "SELECT id FROM reservations WHERE promoted_by = $1 ORDER BY created_at, id"
WAITING_FOR = """
SELECT id FROM reservations
WHERE resource_id = $1 AND status = 'waitlisted' AND slot && $2
ORDER BY created_at, id"""
PROMOTE = """
UPDATE reservations SET status = 'confirmed', promoted_by = $2, updated_at = now()
WHERE id = $1 AND status = 'waitlisted'"""
END = """
UPDATE reservations SET status = $2, updated_at = now()
WHERE id = $1 AND status = $3"""
PUBLIC = """
SELECT v.id, v.resource_id, r.name AS resource_name, v.member_id, o.name AS member_name,
       lower(v.slot) AS starts_at, upper(v.slot) AS ends_at, v.status, v.reason, v.created_at
FROM reservations v JOIN resources r ON r.id = v.resource_id
JOIN organisations o ON o.id = v.member_id
"""


class BookingRepository:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def create_resource(self, network_id: UUID, r: ResourceCreate) -> ResourcePublic:
        row = await self.conn.fetchrow(
            INSERT_RESOURCE, uuid4(), network_id, r.kind, r.name, r.location
        )
        assert row is not None  # INSERT … RETURNING answers the row or raises
        return ResourcePublic.model_validate(dict(row))

    async def resources(self) -> list[ResourcePublic]:
        rows = await self.conn.fetch(
            "SELECT id, network_id, kind, name, location, created_at FROM resources ORDER BY name"
        )
        return [ResourcePublic.model_validate(dict(r)) for r in rows]

    async def resource(self, resource_id: UUID) -> ResourcePublic | None:
        row = await self.conn.fetchrow(
            "SELECT id, network_id, kind, name, location, created_at FROM resources WHERE id = $1",
            resource_id,
        )
        return ResourcePublic.model_validate(dict(row)) if row else None

    async def reserve(self, i: ReservationInput) -> ReservationState | None:
        """Confirmed if the slot is free, else on the waitlist (None: no such resource). Call
        in a transaction."""
        args = (
            i.reservation_id,
            reservation_workflow_id(i.reservation_id),
            i.resource_id,
            i.member_id,
            i.starts_at,
            i.ends_at,
        )
        try:
            async with self.conn.transaction():  # a savepoint: the conflict undoes only this
                await self.conn.execute(
                    INSERT_RESERVATION, *args, ReservationStatus.CONFIRMED, i.created_by
                )
        except asyncpg.ExclusionViolationError:
            await self.conn.execute(
                INSERT_RESERVATION, *args, ReservationStatus.WAITLISTED, i.created_by
            )
        return await self.state(i.reservation_id)

    async def state(self, reservation_id: UUID) -> ReservationState | None:
        row = await self.conn.fetchrow(STATE, reservation_id)
        return ReservationState.model_validate(dict(row)) if row else None

    async def cancel(self, reservation_id: UUID, reason: str) -> Cancelled:
        """Cancel, and if it held its slot, give the slot to the waitlist in order: each
        waiting reservation whose slot is now entirely free is confirmed."""
        row = await self.conn.fetchrow(LOCK, reservation_id)
        if row is None or row["status"] not in (
            ReservationStatus.CONFIRMED,
            ReservationStatus.WAITLISTED,
        ):
            # Cancelled already (a retry): the promotions it made, to signal them again.
            earlier = [r["id"] for r in await self.conn.fetch(PROMOTED_BY, reservation_id)]
            return Cancelled(was=None, promoted=earlier)
        await self.conn.execute(CANCEL, reservation_id, reason)
        promoted: list[UUID] = []
        if row["status"] == ReservationStatus.CONFIRMED:
            for (waiting,) in await self.conn.fetch(WAITING_FOR, row["resource_id"], row["slot"]):
                try:
                    async with self.conn.transaction():
                        done = await self.conn.execute(PROMOTE, waiting, reservation_id)
                        if done.endswith(" 1"):
                            promoted.append(waiting)
                except asyncpg.ExclusionViolationError:
                    continue  # another confirmed reservation still overlaps it
        return Cancelled(was=ReservationStatus(row["status"]), promoted=promoted)

    async def end(self, reservation_id: UUID, status: str, expected: str) -> bool:
        done = await self.conn.execute(END, reservation_id, status, expected)
        return done.endswith(" 1")

    async def get(self, reservation_id: UUID) -> ReservationPublic | None:
        row = await self.conn.fetchrow(PUBLIC + "WHERE v.id = $1", reservation_id)
        return ReservationPublic.model_validate(dict(row)) if row else None

    async def list(
        self,
        *,
        member_id: UUID | None,
        resource_id: UUID | None,
        active_only: bool,
        limit: int,
        offset: int,
    ) -> Page[ReservationPublic]:
        where = """
WHERE ($1::uuid IS NULL OR v.member_id = $1) AND ($2::uuid IS NULL OR v.resource_id = $2)
  AND (NOT $3 OR v.status IN ('confirmed', 'waitlisted'))"""
        rows = await self.conn.fetch(
            PUBLIC + where + " ORDER BY lower(v.slot), v.created_at LIMIT $4 OFFSET $5",
            member_id,
            resource_id,
            active_only,
            limit,
            offset,
        )
        total = await self.conn.fetchval(
            "SELECT count(*) FROM reservations v" + where, member_id, resource_id, active_only
        )
        return Page[ReservationPublic](
            items=[ReservationPublic.model_validate(dict(r)) for r in rows],
            total=total,
            limit=limit,
            offset=offset,
        )
