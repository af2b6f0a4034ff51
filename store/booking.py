"""Resources and their reservations. Double booking is impossible by construction: the
exclusion constraint `reservations_no_double_booking` refuses two confirmed reservations of
one resource whose slots overlap, whatever the concurrency. A resource's limits (how far
ahead, how many future bookings per member) are checked where the reservation is inserted,
under a lock per resource and member: two requests of one member at once are counted one
after the other."""

from __future__ import annotations

from datetime import datetime
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
    booking_refusal,
    reservation_workflow_id,
)
from domain.common import Page
from store.pool import Conn
from store.sql import Where, fetch_page

RESOURCE_COLUMNS = (
    "id, network_id, kind, name, location, horizon_days, max_future_bookings, created_at"
)
INSERT_RESOURCE = f"""
INSERT INTO resources (id, network_id, kind, name, location, horizon_days, max_future_bookings)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING {RESOURCE_COLUMNS}"""
# One member's reservations of one resource are decided one at a time.
LOCK_BOOKER = """
SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text || $2::uuid::text, 17))"""
# What the limits are weighed on: the resource, the member's confirmed bookings still to
# come (or under way), and the database's clock.
LIMITS = f"""
SELECT {RESOURCE_COLUMNS}, now() AS now,
       (SELECT count(*) FROM reservations v
        WHERE v.resource_id = r.id AND v.member_id = $2 AND v.status = 'confirmed'
          AND upper(v.slot) > now()) AS held
FROM resources r WHERE r.id = $1"""
INSERT_REFUSED = """
INSERT INTO reservations (id, workflow_id, resource_id, resource_no, member_id, slot, status,
                          created_by, reason)
SELECT $1, $2, r.id, r.no, $4, tstzrange($5, $6), 'refused', $7, $8 FROM resources r
WHERE r.id = $3
ON CONFLICT (id) DO NOTHING"""
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
# A waiting member already holding its resource's maximum of future bookings is passed over
# (it stays in line). Not under the member's lock, which could deadlock against a booking
# waiting on this promotion's slot: a booking of the same member at the same instant may
# leave it one over the maximum, never two on one slot.
PROMOTE = """
UPDATE reservations w SET status = 'confirmed', promoted_by = $2, updated_at = now()
FROM resources r
WHERE w.id = $1 AND w.status = 'waitlisted' AND r.id = w.resource_id
  AND (SELECT count(*) FROM reservations h
       WHERE h.resource_id = w.resource_id AND h.member_id = w.member_id
         AND h.status = 'confirmed' AND upper(h.slot) > now()) < r.max_future_bookings"""
END = """
UPDATE reservations SET status = $2, updated_at = now()
WHERE id = $1 AND status = $3"""
PUBLIC = """
SELECT v.id, v.resource_id, r.name AS resource_name, v.member_id, o.name AS member_name,
       lower(v.slot) AS starts_at, upper(v.slot) AS ends_at, v.status, v.reason, v.created_at,
       CASE WHEN v.status = 'waitlisted' THEN
           (SELECT count(*) FROM reservations w
            WHERE w.resource_id = v.resource_id AND w.status = 'waitlisted'
              AND w.slot && v.slot AND (w.created_at, w.id) <= (v.created_at, v.id))
       END AS waitlist_position
FROM reservations v JOIN resources r ON r.id = v.resource_id
JOIN organisations o ON o.id = v.member_id
"""
HELD = """
SELECT count(*) FROM reservations
WHERE resource_id = $1 AND member_id = $2 AND status = 'confirmed' AND upper(slot) > now()"""
# A list: `{where}` the filters given (each with its index), soonest slot first.
ACTIVE = "v.status IN ('confirmed', 'waitlisted')"
ENDED = "v.status NOT IN ('confirmed', 'waitlisted')"
LIST = (
    PUBLIC
    + """WHERE {where}
ORDER BY lower(v.slot), v.created_at, v.id LIMIT {limit} OFFSET {offset}"""
)
# The ended ones (cancelled, passed, expired, refused): the latest slot first.
LIST_ENDED = (
    PUBLIC
    + """WHERE {where}
ORDER BY lower(v.slot) DESC, v.created_at DESC, v.id LIMIT {limit} OFFSET {offset}"""
)
COUNT = "SELECT count(*) FROM (SELECT 1 FROM reservations v WHERE {where} LIMIT {bound}) c"


class BookingRepository:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def create_resource(self, network_id: UUID, r: ResourceCreate) -> ResourcePublic:
        row = await self.conn.fetchrow(
            INSERT_RESOURCE,
            uuid4(),
            network_id,
            r.kind,
            r.name,
            r.location,
            r.horizon_days,
            r.max_future_bookings,
        )
        assert row is not None  # INSERT … RETURNING answers the row or raises
        return ResourcePublic.model_validate(dict(row))

    async def resources(self) -> list[ResourcePublic]:
        rows = await self.conn.fetch(f"SELECT {RESOURCE_COLUMNS} FROM resources ORDER BY name")
        return [ResourcePublic.model_validate(dict(r)) for r in rows]

    async def resource(self, resource_id: UUID) -> ResourcePublic | None:
        row = await self.conn.fetchrow(
            f"SELECT {RESOURCE_COLUMNS} FROM resources WHERE id = $1", resource_id
        )
        return ResourcePublic.model_validate(dict(row)) if row else None

    async def reserve(self, i: ReservationInput) -> ReservationState | None:
        """Confirmed if the slot is free, else on the waitlist; refused (and recorded so) past
        the resource's limits (None: no such resource). Call in a transaction."""
        await self.conn.execute(LOCK_BOOKER, i.resource_id, i.member_id)
        if (known := await self.state(i.reservation_id)) is not None:
            return known  # a retry: decided already
        limits = await self.conn.fetchrow(LIMITS, i.resource_id, i.member_id)
        if limits is not None:
            found = {k: v for k, v in dict(limits).items() if k not in ("now", "held")}
            resource = ResourcePublic.model_validate(found)
            no = booking_refusal(resource, i.starts_at, limits["now"], limits["held"])
            if no is not None:
                await self.conn.execute(
                    INSERT_REFUSED,
                    i.reservation_id,
                    reservation_workflow_id(i.reservation_id),
                    i.resource_id,
                    i.member_id,
                    i.starts_at,
                    i.ends_at,
                    i.created_by,
                    no.message,
                )
                return await self.state(i.reservation_id)
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

    async def held(self, resource_id: UUID, member_id: UUID) -> int:
        """The member's confirmed bookings of the resource still to come or under way."""
        count: int = await self.conn.fetchval(HELD, resource_id, member_id)
        return count

    async def between(
        self, resource_id: UUID, starts_at: datetime, ends_at: datetime
    ) -> list[ReservationPublic]:
        """The resource's confirmed and waiting reservations overlapping [starts_at, ends_at)."""
        rows = await self.conn.fetch(
            PUBLIC + "WHERE v.resource_id = $1 AND v.status IN ('confirmed', 'waitlisted') "
            "AND v.slot && tstzrange($2, $3) ORDER BY lower(v.slot), v.created_at, v.id",
            resource_id,
            starts_at,
            ends_at,
        )
        return [ReservationPublic.model_validate(dict(r)) for r in rows]

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
        ended_only: bool = False,
    ) -> Page[ReservationPublic]:
        """Soonest slot first; `ended_only`: the ones no longer held or waiting, latest
        first."""
        w = Where()
        w.when(member_id is not None, "v.member_id = {}", member_id)
        w.when(resource_id is not None, "v.resource_id = {}", resource_id)
        w.when(active_only, ACTIVE)
        w.when(ended_only, ENDED)
        rows_sql = LIST_ENDED if ended_only else LIST
        rows, total, lower = await fetch_page(self.conn, w, rows_sql, COUNT, limit, offset)
        return Page[ReservationPublic](
            items=[ReservationPublic.model_validate(dict(r)) for r in rows],
            total=total,
            total_is_lower_bound=lower,
            limit=limit,
            offset=offset,
        )
