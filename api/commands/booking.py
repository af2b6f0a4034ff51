"""Booking acts: staff list rooms and vehicles; a member (or staff for it) reserves a slot —
confirmed, or on the waitlist when taken, within the resource's horizon and its future
bookings per member — and cancels, which promotes the next in line. Reads: a resource's week
(busy and free slots), a confirmed reservation as an iCalendar file."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

from temporalio.exceptions import WorkflowAlreadyStartedError

from api.commands.base import OPERATORS, Ctx, act_id, acting_for, command, send_update
from domain.auth import Principal, Role
from domain.booking import (
    ReservationCancel,
    ReservationCancelCreate,
    ReservationCreate,
    ReservationInput,
    ReservationPublic,
    ReservationStatus,
    ResourceCreate,
    ResourcePublic,
    ResourceWeek,
    booking_refusal,
    iso_week,
    reservation_ics,
    reservation_workflow_id,
    week_of,
    week_slots,
)
from domain.common import Page
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.labels import RESERVATION_STATUS_LABELS
from domain.organisations import OrganisationKind, OrganisationStatus
from store.booking import BookingRepository
from store.organisations import OrganisationRepository
from workflows.booking import ReservationWorkflow
from workflows.booking import book as start_booking

RESERVATION_NS = uuid.UUID("a3c1f1de-3d0e-4d8b-8a8a-3e2b1c9d7f45")
BOOKERS = (*OPERATORS, Role.MEMBER)


def reservation_id_for(member_id: UUID, request_id: str) -> UUID:
    return uuid.uuid5(RESERVATION_NS, f"{member_id}:{request_id}")


def shown(r: ReservationPublic, p: Principal) -> ReservationPublic:
    """Another member's reservation shows as a busy slot: not who, nor why, nor its place in
    line."""
    if p.sees_everything or r.member_id == p.organisation_id:
        return r
    return r.model_copy(
        update={"member_id": None, "member_name": None, "reason": None, "waitlist_position": None}
    )


async def resources(ctx: Ctx) -> list[ResourcePublic]:
    return await BookingRepository(ctx.conn).resources()


async def resource(ctx: Ctx, resource_id: UUID) -> ResourcePublic:
    found = await BookingRepository(ctx.conn).resource(resource_id)
    if found is None:
        raise NotFound.of("Ressource")
    return found


async def visible_reservation(ctx: Ctx, reservation_id: UUID) -> ReservationPublic:
    found = await BookingRepository(ctx.conn).get(reservation_id)
    if found is None or found.member_id is None or not ctx.principal.may_see(found.member_id):
        raise NotFound.of("Réservation")
    return found


async def busy_slots(
    ctx: Ctx, found: ResourcePublic, limit: int, offset: int
) -> Page[ReservationPublic]:
    """The resource's confirmed and waiting reservations, others' shown as busy slots."""
    page = await BookingRepository(ctx.conn).list(
        member_id=None, resource_id=found.id, active_only=True, limit=limit, offset=offset
    )
    page.items = [shown(r, ctx.principal) for r in page.items]
    return page


async def list_reservations(
    ctx: Ctx, active: bool, limit: int, offset: int, ended: bool = False
) -> Page[ReservationPublic]:
    """My organisation's reservations (every one, for the network); `ended`: only those
    cancelled, passed, expired or refused, the latest first."""
    return await BookingRepository(ctx.conn).list(
        member_id=ctx.principal.scope,
        resource_id=None,
        active_only=active,
        limit=limit,
        offset=offset,
        ended_only=ended,
    )


@command(*OPERATORS)
async def create_resource(ctx: Ctx, data: ResourceCreate) -> ResourcePublic:
    """A room or a vehicle members may book."""
    return await BookingRepository(ctx.conn).create_resource(ctx.principal.organisation_id, data)


@command(*BOOKERS)
async def book(ctx: Ctx, found: ResourcePublic, data: ReservationCreate) -> ReservationPublic:
    """Reserve a slot: confirmed if free, else waitlisted (promoted when it frees up).
    `request_id` is the idempotency key."""
    member_id = acting_for(
        ctx.principal,
        data.member_id,
        own="Une entreprise ne réserve que pour elle-même.",
        name_it="indiquez l'entreprise pour qui vous réservez",
    )
    reservation_id = reservation_id_for(member_id, data.request_id)
    repo = BookingRepository(ctx.conn)
    if known := await repo.get(reservation_id):
        return _answer(known)
    org = await OrganisationRepository(ctx.conn).get(member_id)
    if org is None or org.kind != OrganisationKind.MEMBER:
        raise Invalid("member_id", "ce n'est pas une entreprise membre.")
    if org.status != OrganisationStatus.ACTIVE:
        raise Forbidden(f"{org.name} n'est pas adhérente active.")
    now = datetime.now(UTC)
    if data.starts_at <= now:
        raise Invalid("starts_at", "le créneau doit commencer dans le futur.")
    no = booking_refusal(found, data.starts_at, now, await repo.held(found.id, member_id))
    if no is not None and no.field == "starts_at":
        raise Invalid("starts_at", f"{no.message}.")
    if no is not None:
        raise Conflict(f"Réservation impossible : {no.message}.")
    try:
        await start_booking(
            ctx.client,
            ctx.task_queue,
            ReservationInput(
                reservation_id=reservation_id,
                resource_id=found.id,
                member_id=member_id,
                created_by=ctx.principal.user_id,
                starts_at=data.starts_at,
                ends_at=data.ends_at,
            ),
        )
    except WorkflowAlreadyStartedError:
        pass  # its own retry, already over: answered from the store
    made = await repo.get(reservation_id)
    if made is None:  # the workflow records a reservation before it answers
        raise RuntimeError(f"reservation {reservation_id} answered but not recorded")
    return _answer(made)


def _answer(r: ReservationPublic) -> ReservationPublic:
    """A reservation the store refused (two requests raced past the resource's limits) is
    answered as the check before would have."""
    if r.status == ReservationStatus.REFUSED:
        raise Conflict(f"Réservation impossible : {r.reason}.")
    return r


@command(*BOOKERS)
async def cancel(
    ctx: Ctx, found: ReservationPublic, data: ReservationCancelCreate
) -> ReservationPublic:
    """Cancel a reservation: a held slot goes to the next in line."""
    p = ctx.principal
    handle = ctx.client.get_workflow_handle_for(
        ReservationWorkflow.run, reservation_workflow_id(found.id)
    )
    act = ReservationCancel(organisation_id=p.organisation_id, role=p.role, reason=data.reason)
    await send_update(
        handle,
        ReservationWorkflow.cancel,
        act,
        id=act_id("cancel", act),
        closed="Cette réservation est close.",
        refused="Annulation refusée : {}.",
    )
    return await visible_reservation(ctx, found.id)


async def week(ctx: Ctx, found: ResourcePublic, iso: str | None) -> ResourceWeek:
    """The resource's week (« 2027-W05 », this week by default, Monday to Monday in Paris):
    busy slots (other members' shown without who or why) and the free slots between them
    that may be booked now, within the resource's horizon; the reservations waiting there,
    with their place in line for the caller's own."""
    now = datetime.now(UTC)
    name = iso or week_of(now)
    try:
        start, end = iso_week(name)
    except ValueError:
        raise Invalid("week", f"la semaine {name} n'existe pas (format AAAA-Wnn)") from None
    found_there = await BookingRepository(ctx.conn).between(found.id, start, end)
    seen = [shown(r, ctx.principal) for r in found_there]
    until = now + timedelta(days=found.horizon_days)
    return ResourceWeek(
        resource=found,
        week=name,
        starts_at=start,
        ends_at=end,
        bookable_from=now,
        bookable_until=until,
        slots=week_slots(
            start, end, [r for r in seen if r.status == ReservationStatus.CONFIRMED], now, until
        ),
        waiting=[r for r in seen if r.status == ReservationStatus.WAITLISTED],
    )


async def calendar_file(ctx: Ctx, found: ReservationPublic) -> str:
    """A confirmed reservation as an iCalendar file, for its company and the network."""
    if found.status != ReservationStatus.CONFIRMED:
        raise Conflict(
            "Seule une réservation confirmée s'ajoute à un agenda (cette réservation : "
            f"{RESERVATION_STATUS_LABELS[found.status]})."
        )
    return reservation_ics(found, await resource(ctx, found.resource_id))
