"""Bookable resources (JSON): staff list rooms and vehicles; members reserve slots (confirmed,
or on the waitlist when taken) and cancel, which promotes the next in line."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.commands import booking as bk
from api.commands.base import Ctx
from api.deps import BookableResource, Context, MemberOrNetwork, VisibleReservation, acting
from api.errors import RESPONSES
from domain.booking import (
    IsoWeek,
    ReservationCancelCreate,
    ReservationCreate,
    ReservationPublic,
    ResourceCreate,
    ResourcePublic,
    ResourceWeek,
)
from domain.common import Page

router = APIRouter(prefix="/api", tags=["réservations"], responses=RESPONSES)


@router.get("/resources", response_model=list[ResourcePublic])
async def list_resources(ctx: Context) -> list[ResourcePublic]:
    return await bk.resources(ctx)


@router.post("/resources", status_code=status.HTTP_201_CREATED, response_model=ResourcePublic)
async def create_resource(
    ctx: Annotated[Ctx, Depends(acting(bk.create_resource))], data: ResourceCreate
) -> ResourcePublic:
    return await bk.create_resource(ctx, data)


@router.get("/resources/{resource_id}/reservations", response_model=Page[ReservationPublic])
async def resource_reservations(
    ctx: Context,
    found: BookableResource,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[ReservationPublic]:
    """The resource's confirmed and waiting reservations: its busy slots."""
    return await bk.busy_slots(ctx, found, limit, offset)


@router.get("/resources/{resource_id}/week", response_model=ResourceWeek)
async def resource_week(
    ctx: Context,
    found: BookableResource,
    week: Annotated[IsoWeek | None, Query(description="Semaine ISO, ex. 2027-W05")] = None,
) -> ResourceWeek:
    """A week of the resource (this one by default, Monday to Monday in Paris): busy slots,
    other members' without who or why, and the free slots that may be booked now."""
    return await bk.week(ctx, found, week)


@router.post(
    "/resources/{resource_id}/reservations",
    status_code=status.HTTP_201_CREATED,
    response_model=ReservationPublic,
)
async def reserve(
    ctx: Annotated[Ctx, Depends(acting(bk.book))],
    found: BookableResource,
    data: ReservationCreate,
) -> ReservationPublic:
    """Reserve a slot: `confirmed` if free, else `waitlisted` (promoted when it frees up).
    `request_id` is the idempotency key."""
    return await bk.book(ctx, found, data)


@router.get("/reservations", response_model=Page[ReservationPublic])
async def list_reservations(
    ctx: MemberOrNetwork,
    active: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[ReservationPublic]:
    """My organisation's reservations (every one, for the network's staff)."""
    return await bk.list_reservations(ctx, active, limit, offset)


@router.post("/reservations/{reservation_id}/cancel", response_model=ReservationPublic)
async def cancel_reservation(
    ctx: Annotated[Ctx, Depends(acting(bk.cancel))],
    found: VisibleReservation,
    data: ReservationCancelCreate,
) -> ReservationPublic:
    return await bk.cancel(ctx, found, data)


@router.get(
    "/reservations/{reservation_id}.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "Fichier iCalendar"}},
)
async def reservation_calendar(ctx: MemberOrNetwork, found: VisibleReservation) -> Response:
    """A confirmed reservation as an iCalendar file (RFC 5545), for its company and the
    network: add it to an agenda."""
    text = await bk.calendar_file(ctx, found)
    return Response(
        text,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reservation-{found.id}.ics"'},
    )
