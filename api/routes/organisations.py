"""Directory of organisations (JSON): create, read, update, search."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status

from api.commands import organisations as orgs
from api.commands.base import Ctx
from api.deps import Context, acting
from api.errors import RESPONSES
from domain.common import Page
from domain.organisations import (
    ChangeDecisionCreate,
    ChangeRequestCreate,
    ChangeRequestPublic,
    OrganisationCreate,
    OrganisationFilter,
    OrganisationPublic,
    OrganisationUpdate,
)

router = APIRouter(prefix="/api/organisations", tags=["organisations"], responses=RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrganisationPublic)
async def create_organisation(
    ctx: Annotated[Ctx, Depends(acting(orgs.create))], data: OrganisationCreate
) -> OrganisationPublic:
    return await orgs.create(ctx, data)


@router.get("", response_model=Page[OrganisationPublic])
async def list_organisations(
    ctx: Context, f: Annotated[OrganisationFilter, Query()]
) -> Page[OrganisationPublic]:
    return await orgs.directory(ctx, f)


@router.get("/{organisation_id}", response_model=OrganisationPublic)
async def get_organisation(ctx: Context, organisation_id: UUID) -> OrganisationPublic:
    return await orgs.visible_organisation(ctx, organisation_id)


@router.patch("/{organisation_id}", response_model=OrganisationPublic)
async def update_organisation(
    ctx: Annotated[Ctx, Depends(acting(orgs.update))],
    organisation_id: UUID,
    data: OrganisationUpdate,
) -> OrganisationPublic:
    return await orgs.update(ctx, organisation_id, data)


@router.post(
    "/{organisation_id}/change-requests",
    status_code=status.HTTP_201_CREATED,
    response_model=ChangeRequestPublic,
)
async def propose_change(
    ctx: Annotated[Ctx, Depends(acting(orgs.propose_change))],
    organisation_id: UUID,
    data: ChangeRequestCreate,
) -> ChangeRequestPublic:
    """Ask the network's staff to change the name, NAF, headcount or territory (what decides
    eligibility and shares of bills), with a reason."""
    return await orgs.propose_change(ctx, organisation_id, data)


changes = APIRouter(prefix="/api/organisation-changes", tags=["organisations"], responses=RESPONSES)


@changes.get("", response_model=list[ChangeRequestPublic])
async def list_change_requests(
    ctx: Context, organisation_id: UUID | None = None, pending: bool = True
) -> list[ChangeRequestPublic]:
    """Proposed changes: every organisation's for the network, one's own otherwise."""
    return await orgs.change_requests(ctx, organisation_id, pending)


@changes.post("/{change_id}/decision", response_model=ChangeRequestPublic)
async def decide_change(
    ctx: Annotated[Ctx, Depends(acting(orgs.decide_change))],
    change_id: UUID,
    data: ChangeDecisionCreate,
) -> ChangeRequestPublic:
    """Staff approve (the change is applied, audited) or refuse a proposed change."""
    return await orgs.decide_change(ctx, await orgs.visible_change(ctx, change_id), data)
