"""Directory of organisations (JSON): create, read, update, search."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status

from api.commands import organisations as orgs
from api.commands.base import Ctx
from api.deps import Context, acting
from domain.common import Page
from domain.organisations import (
    OrganisationCreate,
    OrganisationFilter,
    OrganisationPublic,
    OrganisationUpdate,
)

router = APIRouter(prefix="/api/organisations", tags=["organisations"])


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
