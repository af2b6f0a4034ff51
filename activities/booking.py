"""Effects of reservations: the slot taken or waitlisted, cancelled with promotion, ended."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from activities.errors import MissingRow
from domain.booking import (
    Cancelled,
    ReservationCancelling,
    ReservationEnd,
    ReservationInput,
    ReservationState,
    ReservationStatus,
)
from store.booking import BookingRepository


class BookingActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn
    async def reserve(self, i: ReservationInput) -> ReservationState:
        async with self.pool.acquire() as c, c.transaction():
            state = await BookingRepository(c).reserve(i)
        if state is None:
            raise MissingRow(f"resource {i.resource_id}")
        return state

    @activity.defn
    async def cancel_reservation(self, r: ReservationCancelling) -> Cancelled:
        async with self.pool.acquire() as c, c.transaction():
            return await BookingRepository(c).cancel(r.reservation_id, r.reason)

    @activity.defn
    async def end_reservation(self, e: ReservationEnd) -> bool:
        """Expire a reservation still waitlisted, or complete a confirmed one. False when
        it was not in that state any more (promoted in between, for an expiry)."""
        expected = (
            ReservationStatus.WAITLISTED if e.status == "expired" else ReservationStatus.CONFIRMED
        )
        async with self.pool.acquire() as c, c.transaction():
            return await BookingRepository(c).end(e.reservation_id, e.status, expected)
