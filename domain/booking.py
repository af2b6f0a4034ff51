"""Bookable resources (meeting rooms, vehicles) reserved by slot, with a waitlist."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.common import REQUEST_ID_PATTERN, BoundedDatetime, FreeText
from domain.formats import PARIS
from domain.ics import Event, calendar

RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]
MAX_SLOT = timedelta(days=14)
IsoWeek = Annotated[str, StringConstraints(pattern=r"^\d{4}-W\d{2}$")]


class ResourceKind(StrEnum):
    ROOM = "room"
    VEHICLE = "vehicle"
    EQUIPMENT = "equipment"


class ResourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ResourceKind
    name: Annotated[str, FreeText(2, 200, one_line=True)]
    location: Annotated[str, FreeText(0, 200, one_line=True)] = ""
    horizon_days: int = Field(
        default=90, ge=1, le=730, description="Réservable au plus N jours à l'avance"
    )
    max_future_bookings: int = Field(
        default=4,
        ge=1,
        le=100,
        description="Réservations confirmées à venir par entreprise, au plus",
    )


class ResourcePublic(ResourceCreate):
    id: UUID
    network_id: UUID
    created_at: datetime


class ReservationStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # still on the waitlist when the slot began
    COMPLETED = "completed"
    REFUSED = "refused"  # past the resource's horizon or its bookings per member


class ReservationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: RequestId = Field(description="Clé d'idempotence choisie par l'appelant")
    starts_at: BoundedDatetime
    ends_at: BoundedDatetime
    member_id: UUID | None = Field(
        default=None, description="Pour l'équipe du réseau : l'entreprise pour qui réserver"
    )

    @model_validator(mode="after")
    def _slot(self) -> ReservationCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("la fin du créneau doit suivre son début")
        if self.ends_at - self.starts_at > MAX_SLOT:
            raise ValueError("un créneau dure au plus 14 jours")
        return self


class ReservationInput(BaseModel):
    reservation_id: UUID
    resource_id: UUID
    member_id: UUID
    created_by: UUID
    starts_at: BoundedDatetime
    ends_at: BoundedDatetime


class ReservationState(BaseModel):
    reservation_id: UUID
    resource_id: UUID
    resource_name: str = ""
    member_id: UUID
    starts_at: datetime
    ends_at: datetime
    status: ReservationStatus
    waitlist_position: int | None = None
    reason: str | None = None


class ReservationCancel(BaseModel):
    organisation_id: UUID
    role: str
    reason: str


class ReservationCancelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, FreeText(1, 500)]


class ReservationCancelling(BaseModel):
    reservation_id: UUID
    reason: str


class Promoted(BaseModel):
    reservation_id: UUID


class Cancelled(BaseModel):
    """A cancellation done in the store, and the waitlisted reservations it promoted."""

    was: ReservationStatus | None
    promoted: list[UUID]


class ReservationEnd(BaseModel):
    reservation_id: UUID
    status: Literal["expired", "completed"]


class ReservationPublic(BaseModel):
    id: UUID
    resource_id: UUID
    resource_name: str
    member_id: UUID | None  # hidden from other members, like the name: a busy slot only
    member_name: str | None
    starts_at: datetime
    ends_at: datetime
    status: ReservationStatus
    reason: str | None
    created_at: datetime
    waitlist_position: int | None = None  # its place in line, for its own company


def reservation_workflow_id(reservation_id: UUID) -> str:
    return f"booking-{reservation_id}"


# --- a resource's limits -------------------------------------------------------------------


class BookingRefusal(BaseModel):
    field: Literal["starts_at", "member_id"]
    message: str


def booking_refusal(
    resource: ResourcePublic, starts_at: datetime, now: datetime, held: int
) -> BookingRefusal | None:
    """Why a member holding `held` future confirmed bookings of `resource` may not ask for
    a slot starting at `starts_at`, in words for the member; None if it may. The same rule
    is checked by the booking command and, where two requests race, by the store."""
    last = now + timedelta(days=resource.horizon_days)
    if starts_at > last:
        return BookingRefusal(
            field="starts_at",
            message=f"« {resource.name} » se réserve au plus {resource.horizon_days} jours à "
            f"l'avance : choisissez un créneau qui commence avant le "
            f"{last.astimezone(PARIS):%d/%m/%Y à %H:%M}",
        )
    if held >= resource.max_future_bookings:
        return BookingRefusal(
            field="member_id",
            message=f"votre entreprise a déjà {held} réservation(s) à venir de "
            f"« {resource.name} » (au plus {resource.max_future_bookings}) : annulez-en une "
            "ou attendez qu'elle soit passée",
        )
    return None


# --- a week of a resource ------------------------------------------------------------------


def iso_week(week: str) -> tuple[datetime, datetime]:
    """The instants (in UTC) a week (« 2027-W05 ») begins and ends, Monday 00:00 to Monday
    00:00 in Paris. Raises ValueError for a week the year does not have."""
    year, number = int(week[:4]), int(week[6:])
    monday = date.fromisocalendar(year, number, 1)
    start = datetime.combine(monday, time(0), PARIS)
    end = datetime.combine(monday + timedelta(days=7), time(0), PARIS)
    return start.astimezone(UTC), end.astimezone(UTC)  # exact arithmetic across DST


def week_of(instant: datetime) -> str:
    year, number, _ = instant.astimezone(PARIS).isocalendar()
    return f"{year:04d}-W{number:02d}"


class WeekSlot(BaseModel):
    starts_at: datetime
    ends_at: datetime
    status: Literal["busy", "free"]
    reservation: ReservationPublic | None = None  # what holds a busy slot (others' hidden)


class ResourceWeek(BaseModel):
    """A resource's week: its confirmed reservations as busy slots, and between them the
    free slots a member may book now (from now to the resource's horizon)."""

    resource: ResourcePublic
    week: str
    starts_at: datetime
    ends_at: datetime
    bookable_from: datetime
    bookable_until: datetime
    slots: list[WeekSlot]
    waiting: list[ReservationPublic]  # waitlisted reservations in the week (others' hidden)


def week_slots(
    start: datetime,
    end: datetime,
    confirmed: list[ReservationPublic],
    bookable_from: datetime,
    bookable_until: datetime,
) -> list[WeekSlot]:
    """Busy slots (the confirmed reservations overlapping [start, end), which never overlap
    each other) and the free ones between them, clipped to what may be booked."""
    slots: list[WeekSlot] = []
    cursor = start
    for r in sorted(confirmed, key=lambda r: r.starts_at):
        slots += _free(cursor, r.starts_at, bookable_from, bookable_until)
        slots.append(
            WeekSlot(starts_at=r.starts_at, ends_at=r.ends_at, status="busy", reservation=r)
        )
        cursor = max(cursor, r.ends_at)
    return slots + _free(cursor, end, bookable_from, bookable_until)


def _free(a: datetime, b: datetime, lo: datetime, hi: datetime) -> list[WeekSlot]:
    a, b = max(a, lo), min(b, hi)
    return [WeekSlot(starts_at=a, ends_at=b, status="free")] if a < b else []


# --- a confirmed reservation in the member's calendar ---------------------------------------


def reservation_ics(r: ReservationPublic, resource: ResourcePublic) -> str:
    """An iCalendar file (RFC 5545) for a confirmed reservation: one event, UTC times, a UID
    stable across downloads (the reservation's id), a French summary."""
    event = Event(
        uid=f"{r.id}@relais",
        stamp=r.created_at,
        starts_at=r.starts_at,
        ends_at=r.ends_at,
        summary=f"Réservation : {resource.name}",
        location=resource.location,
        description=f"{resource.name}, réservé sur Relais"
        + (f" pour {r.member_name}" if r.member_name else "")
        + ".",
    )
    return calendar([event])
