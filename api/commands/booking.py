"""Booking acts: staff list rooms and vehicles; a member (or staff for it) reserves a slot —
confirmed, or on the waitlist when taken — and cancels, which promotes the next in line."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
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
    ResourceCreate,
    ResourcePublic,
    reservation_workflow_id,
)
from domain.common import Page
from domain.errors import Forbidden, Invalid, NotFound
from domain.organisations import OrganisationKind, OrganisationStatus
from store.booking import BookingRepository
from store.organisations import OrganisationRepository
from workflows.booking import ReservationWorkflow
from workflows.clients import book as start_booking

RESERVATION_NS = uuid.UUID("a3c1f1de-3d0e-4d8b-8a8a-3e2b1c9d7f45")
BOOKERS = (*OPERATORS, Role.MEMBER)


def reservation_id_for(member_id: UUID, request_id: str) -> UUID:
    return uuid.uuid5(RESERVATION_NS, f"{member_id}:{request_id}")


def shown(r: ReservationPublic, p: Principal) -> ReservationPublic:
    """Another member's reservation shows as a busy slot: not who, nor why."""
    if p.sees_everything or r.member_id == p.organisation_id:
        return r
    return r.model_copy(update={"member_id": None, "member_name": None, "reason": None})


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
    ctx: Ctx, active: bool, limit: int, offset: int
) -> Page[ReservationPublic]:
    """My organisation's reservations (every one, for the network)."""
    return await BookingRepository(ctx.conn).list(
        member_id=ctx.principal.scope,
        resource_id=None,
        active_only=active,
        limit=limit,
        offset=offset,
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
        return known
    org = await OrganisationRepository(ctx.conn).get(member_id)
    if org is None or org.kind != OrganisationKind.MEMBER:
        raise Invalid("member_id", "ce n'est pas une entreprise membre.")
    if org.status != OrganisationStatus.ACTIVE:
        raise Forbidden(f"{org.name} n'est pas adhérente active.")
    if data.starts_at <= datetime.now(UTC):
        raise Invalid("starts_at", "le créneau doit commencer dans le futur.")
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
    return made


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
