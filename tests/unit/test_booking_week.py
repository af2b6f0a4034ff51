"""A resource's week, pure: Paris' Monday to Monday (a week with the clocks going forward is
an hour short), busy slots and the free slots between them that may still be booked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.booking import (
    ReservationPublic,
    ReservationStatus,
    ResourcePublic,
    booking_refusal,
    iso_week,
    week_of,
    week_slots,
)


def test_a_week_is_paris_monday_to_monday():
    start, end = iso_week("2027-W12")  # the clocks go forward on Sunday 28 March 2027
    assert start == datetime(2027, 3, 21, 23, 0, tzinfo=UTC)
    assert end - start == timedelta(days=7, hours=-1)
    assert week_of(start) == "2027-W12" and week_of(end) == "2027-W13"
    assert week_of(datetime(2027, 1, 3, 23, 30, tzinfo=UTC)) == "2027-W01"  # Monday in Paris
    with pytest.raises(ValueError):
        iso_week("2027-W53")  # 2027 has 52 weeks


def _held(start: datetime, hours: int) -> ReservationPublic:
    return ReservationPublic(
        id=uuid.uuid4(),
        resource_id=uuid.uuid4(),
        resource_name="Salle",
        member_id=None,
        member_name=None,
        starts_at=start,
        ends_at=start + timedelta(hours=hours),
        status=ReservationStatus.CONFIRMED,
        reason=None,
        created_at=start,
    )


def test_free_slots_lie_between_busy_ones_and_within_what_may_be_booked():
    start, end = iso_week("2027-W10")
    now = start + timedelta(days=1, hours=10)  # Tuesday, 10:00
    a, b = _held(start + timedelta(days=2), 3), _held(start + timedelta(days=2, hours=3), 2)
    slots = week_slots(start, end, [b, a], now, start + timedelta(days=5))
    assert [(s.status, s.starts_at - start, s.ends_at - start) for s in slots] == [
        ("free", now - start, timedelta(days=2)),
        ("busy", timedelta(days=2), timedelta(days=2, hours=3)),
        ("busy", timedelta(days=2, hours=3), timedelta(days=2, hours=5)),
        ("free", timedelta(days=2, hours=5), timedelta(days=5)),  # the horizon
    ]


def test_the_horizon_and_the_bookings_per_member_are_said_in_french():
    van = ResourcePublic(
        id=uuid.uuid4(),
        network_id=uuid.uuid4(),
        created_at=datetime.now(UTC),
        kind="vehicle",
        name="Utilitaire",
        horizon_days=60,
        max_future_bookings=3,
    )
    now = datetime(2027, 5, 1, 10, tzinfo=UTC)
    assert booking_refusal(van, now + timedelta(days=60), now, 2) is None
    far = booking_refusal(van, now + timedelta(days=61), now, 0)
    assert far and far.field == "starts_at"
    assert far.message.endswith("avant le 30/06/2027 à 12:00")  # Paris time
    full = booking_refusal(van, now + timedelta(days=1), now, 3)
    assert full and full.field == "member_id" and "(au plus 3)" in full.message
