"""Bookable resources (meeting rooms, vehicles) reserved by slot, with a waitlist."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.common import REQUEST_ID_PATTERN, BoundedDatetime, FreeText

RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]
MAX_SLOT = timedelta(days=14)


class ResourceKind(StrEnum):
    ROOM = "room"
    VEHICLE = "vehicle"
    EQUIPMENT = "equipment"


class ResourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ResourceKind
    name: Annotated[str, FreeText(2, 200, one_line=True)]
    location: Annotated[str, FreeText(0, 200, one_line=True)] = ""


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


def reservation_workflow_id(reservation_id: UUID) -> str:
    return f"booking-{reservation_id}"
