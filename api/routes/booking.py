"""Bookable resources: staff list rooms and vehicles; members reserve slots (confirmed, or
on the waitlist when taken) and cancel, which promotes the next in line."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, status
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.deps import (
    AppSettings,
    CurrentUser,
    MemberOrNetwork,
    Pool,
    TemporalClient,
    act_id,
    acting_for,
    not_found,
    require,
    send_update,
)
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
from domain.organisations import OrganisationKind, OrganisationStatus
from store.booking import BookingRepository
from store.organisations import OrganisationRepository
from workflows.booking import ReservationWorkflow
from workflows.clients import book

router = APIRouter(prefix="/api", tags=["réservations"])

Staff = Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF))]
Booker = Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.MEMBER))]
RESERVATION_NS = uuid.UUID("a3c1f1de-3d0e-4d8b-8a8a-3e2b1c9d7f45")


@router.get("/resources", response_model=list[ResourcePublic])
async def list_resources(pool: Pool, principal: CurrentUser):
    async with pool.acquire() as c:
        return await BookingRepository(c).resources()


@router.post("/resources", status_code=status.HTTP_201_CREATED, response_model=ResourcePublic)
async def create_resource(data: ResourceCreate, pool: Pool, principal: Staff):
    async with pool.acquire() as c:
        return await BookingRepository(c).create_resource(principal.organisation_id, data)


def _shown(r: ReservationPublic, p: Principal) -> ReservationPublic:
    """Another member's reservation shows as a busy slot: not who, nor why."""
    if p.sees_everything or r.member_id == p.organisation_id:
        return r
    return r.model_copy(update={"member_id": None, "member_name": None, "reason": None})


@router.get("/resources/{resource_id}/reservations", response_model=Page[ReservationPublic])
async def resource_reservations(
    resource_id: UUID,
    pool: Pool,
    principal: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    """The resource's confirmed and waiting reservations: its busy slots."""
    async with pool.acquire() as c:
        repo = BookingRepository(c)
        if await repo.resource(resource_id) is None:
            raise not_found("Ressource")
        page = await repo.list(
            member_id=None, resource_id=resource_id, active_only=True, limit=limit, offset=offset
        )
    page.items = [_shown(r, principal) for r in page.items]
    return page


@router.post(
    "/resources/{resource_id}/reservations",
    status_code=status.HTTP_201_CREATED,
    response_model=ReservationPublic,
)
async def reserve(
    resource_id: UUID,
    data: ReservationCreate,
    pool: Pool,
    client: TemporalClient,
    settings: AppSettings,
    principal: Booker,
):
    """Reserve a slot: `confirmed` if free, else `waitlisted` (promoted when it frees up).
    `request_id` is the idempotency key."""
    member_id = acting_for(
        principal,
        data.member_id,
        own="Une entreprise ne réserve que pour elle-même.",
        name_it="indiquez l'entreprise pour qui vous réservez",
    )
    reservation_id = uuid.uuid5(RESERVATION_NS, f"{member_id}:{data.request_id}")
    async with pool.acquire() as c:
        repo = BookingRepository(c)
        if known := await repo.get(reservation_id):
            return known
        if await repo.resource(resource_id) is None:
            raise not_found("Ressource")
        org = await OrganisationRepository(c).get(member_id)
    if org is None or org.kind != OrganisationKind.MEMBER:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "Données invalides — member_id : ce n'est pas une entreprise membre.",
        )
    if org.status != OrganisationStatus.ACTIVE:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{org.name} n'est pas adhérente active.")
    if data.starts_at <= datetime.now(UTC):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "Données invalides — starts_at : le créneau doit commencer dans le futur.",
        )
    try:
        await book(
            client,
            settings.task_queue,
            ReservationInput(
                reservation_id=reservation_id,
                resource_id=resource_id,
                member_id=member_id,
                created_by=principal.user_id,
                starts_at=data.starts_at,
                ends_at=data.ends_at,
            ),
        )
    except WorkflowAlreadyStartedError:
        pass  # its own retry, already over: answered from the store
    async with pool.acquire() as c:
        found = await BookingRepository(c).get(reservation_id)
    assert found is not None
    return found


@router.get("/reservations", response_model=Page[ReservationPublic])
async def list_reservations(
    pool: Pool,
    principal: MemberOrNetwork,
    active: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    """My organisation's reservations (every one, for the network's staff)."""
    member = principal.scope
    async with pool.acquire() as c:
        return await BookingRepository(c).list(
            member_id=member, resource_id=None, active_only=active, limit=limit, offset=offset
        )


@router.post("/reservations/{reservation_id}/cancel", response_model=ReservationPublic)
async def cancel_reservation(
    reservation_id: UUID,
    data: ReservationCancelCreate,
    pool: Pool,
    client: TemporalClient,
    principal: Booker,
):
    async with pool.acquire() as c:
        found = await BookingRepository(c).get(reservation_id)
    if found is None or not principal.may_see(found.member_id):
        raise not_found("Réservation")
    handle = client.get_workflow_handle_for(
        ReservationWorkflow.run, reservation_workflow_id(reservation_id)
    )
    await send_update(
        handle,
        ReservationWorkflow.cancel,
        act := ReservationCancel(
            organisation_id=principal.organisation_id, role=principal.role, reason=data.reason
        ),
        id=act_id("cancel", act),
        closed="Cette réservation est close.",
        refused="Annulation refusée : {}.",
    )
    async with pool.acquire() as c:
        found = await BookingRepository(c).get(reservation_id)
    assert found is not None
    return found
