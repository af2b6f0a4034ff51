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
