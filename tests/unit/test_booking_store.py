"""The exclusion constraint holds under concurrency: of many overlapping reservations made
at once on separate connections, exactly one is confirmed; the rest wait in line."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from domain.auth import Role
from domain.booking import ReservationInput, ResourceCreate, ResourceKind
from domain.organisations import OrganisationKind
from store.booking import BookingRepository
from tests.factories import make_org, make_user


async def test_overlapping_reservations_at_once_confirm_exactly_one(db):
    network = await make_org(db, OrganisationKind.ASSOCIATION)
    member = await make_org(db)
    user, _ = await make_user(db, member.id, Role.MEMBER)
    async with db.acquire() as c:
        repo = BookingRepository(c)
        van = await repo.create_resource(
            network.id, ResourceCreate(kind=ResourceKind.VEHICLE, name="Utilitaire")
        )
        other = await repo.create_resource(
            network.id, ResourceCreate(kind=ResourceKind.ROOM, name="Salle")
        )
    start = datetime.now(UTC) + timedelta(days=1)

    async def reserve(resource_id, i: int):
        async with db.acquire() as c, c.transaction():
            return await BookingRepository(c).reserve(
                ReservationInput(
                    reservation_id=uuid.uuid4(),
                    resource_id=resource_id,
                    member_id=member.id,
                    created_by=user,
                    starts_at=start + timedelta(minutes=10 * i),
                    ends_at=start + timedelta(hours=2, minutes=10 * i),
                )
            )

    states = await asyncio.gather(*(reserve(van.id, i) for i in range(12)))
    assert sorted(s.status for s in states).count("confirmed") == 1
    # Another resource, same slots: its own confirmation; adjacent slots do not overlap.
    assert (await reserve(other.id, 0)).status == "confirmed"
    assert (await reserve(van.id, 40)).status == "confirmed"  # after every slot above
    overlapping = await db.fetchval(
        "SELECT count(*) FROM reservations a JOIN reservations b "
        "ON a.resource_id = b.resource_id AND a.id < b.id AND a.slot && b.slot "
        "WHERE a.status = 'confirmed' AND b.status = 'confirmed'"
    )
    assert overlapping == 0


async def _setup(db, **limits):
    network = await make_org(db, OrganisationKind.ASSOCIATION)
    members = [await make_org(db) for _ in range(2)]
    users = [(await make_user(db, m.id, Role.MEMBER))[0] for m in members]
    async with db.acquire() as c:
        van = await BookingRepository(c).create_resource(
            network.id, ResourceCreate(kind=ResourceKind.VEHICLE, name="Utilitaire", **limits)
        )
    return van, members, users


async def _reserve(db, van, member, user, start, hours=2):
    async with db.acquire() as c, c.transaction():
        return await BookingRepository(c).reserve(
            ReservationInput(
                reservation_id=uuid.uuid4(),
                resource_id=van.id,
                member_id=member.id,
                created_by=user,
                starts_at=start,
                ends_at=start + timedelta(hours=hours),
            )
        )


async def test_a_members_future_bookings_are_capped_even_when_its_requests_race(db):
    van, (member, other), (user, other_user) = await _setup(db, max_future_bookings=3)
    start = datetime.now(UTC) + timedelta(days=1)
    # Eight fortnights' worth of separate days asked at once, each on its own connection.
    states = await asyncio.gather(
        *(_reserve(db, van, member, user, start + timedelta(days=2 * i)) for i in range(8))
    )
    assert sorted(s.status for s in states).count("confirmed") == 3
    refused = [s for s in states if s.status == "refused"]
    assert len(refused) == 5
    assert "déjà 3 réservation(s) à venir de « Utilitaire » (au plus 3)" in refused[0].reason
    # Another company is not held back by it: on a slot the member holds (which three won
    # the race is the database's choice) it waits in line, it is not refused.
    taken = next(s.starts_at for s in states if s.status == "confirmed")
    assert (await _reserve(db, van, other, other_user, taken)).status == "waitlisted"
    held = "SELECT count(*) FROM reservations WHERE member_id = $1 AND status = 'confirmed'"
    assert await db.fetchval(held, member.id) == 3


async def test_a_slot_beyond_the_horizon_is_refused_where_the_reservation_is_made(db):
    van, (member, _), (user, _) = await _setup(db, horizon_days=30)
    now = datetime.now(UTC)
    far = await _reserve(db, van, member, user, now + timedelta(days=31))
    assert far.status == "refused"
    assert "se réserve au plus 30 jours à l'avance" in far.reason
    assert (await _reserve(db, van, member, user, now + timedelta(days=29))).status == ("confirmed")


async def test_the_waitlist_passes_over_a_member_already_at_its_maximum(db):
    van, (a, b), (user_a, user_b) = await _setup(db, max_future_bookings=1)
    start = datetime.now(UTC) + timedelta(days=2)
    held_by_b = await _reserve(db, van, b, user_b, start)
    waiting_a = await _reserve(db, van, a, user_a, start)  # a holds nothing yet: it may wait
    assert (held_by_b.status, waiting_a.status) == ("confirmed", "waitlisted")
    assert waiting_a.waitlist_position == 1
    assert (await _reserve(db, van, a, user_a, start + timedelta(days=3))).status == "confirmed"
    async with db.acquire() as c, c.transaction():
        done = await BookingRepository(c).cancel(held_by_b.reservation_id, "reportée")
    assert done.promoted == []  # a holds its one booking already
    status = "SELECT status FROM reservations WHERE id = $1"
    assert await db.fetchval(status, waiting_a.reservation_id) == "waitlisted"
