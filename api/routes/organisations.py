"""Directory of organisations: create, read, update, search."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, status

from api.deps import CurrentUser, Pool, not_found, require
from domain.auth import Principal, Role
from domain.common import Page
from domain.organisations import (
    OrganisationCreate,
    OrganisationFilter,
    OrganisationPublic,
    OrganisationUpdate,
)
from store.organisations import OrganisationRepository

router = APIRouter(prefix="/api/organisations", tags=["organisations"])

Editor = Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF))]
# A member, agency or partner may correct its own organisation's details.
SelfEditor = Annotated[
    Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.MEMBER, Role.AGENCY, Role.PARTNER))
]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrganisationPublic)
async def create_organisation(data: OrganisationCreate, pool: Pool, _: Editor):
    async with pool.acquire() as c, c.transaction():
        repo = OrganisationRepository(c)
        existing = await repo.get_by_siret(data.siret)
        if existing:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"Le SIRET {data.siret} est déjà enregistré ({existing.name}, id {existing.id}).",
            )
        return await repo.create(data)


@router.get("", response_model=Page[OrganisationPublic])
async def list_organisations(
    f: Annotated[OrganisationFilter, Query()], pool: Pool, principal: CurrentUser
):
    only = principal.scope
    async with pool.acquire() as c:
        return await OrganisationRepository(c).list(f, only_id=only)


@router.get("/{organisation_id}", response_model=OrganisationPublic)
async def get_organisation(organisation_id: UUID, pool: Pool, principal: CurrentUser):
    async with pool.acquire() as c:
        org = await OrganisationRepository(c).get(organisation_id)
    if org is None or not principal.may_see(org.id):
        raise not_found("Organisation")
    return org


@router.patch("/{organisation_id}", response_model=OrganisationPublic)
async def update_organisation(
    organisation_id: UUID, data: OrganisationUpdate, pool: Pool, principal: SelfEditor
):
    if not principal.may_see(organisation_id):
        raise not_found("Organisation")
    if data.status is not None and not principal.sees_everything:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Seule l'équipe du réseau peut changer le statut."
        )
    async with pool.acquire() as c, c.transaction():
        org = await OrganisationRepository(c).update(organisation_id, data)
    if org is None:
        raise not_found("Organisation")
    return org
