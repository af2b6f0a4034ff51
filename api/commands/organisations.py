"""Directory acts: staff create organisations; staff, or an organisation itself, correct its
details. Everyone reads the directory as far as their role lets them."""

from __future__ import annotations

from uuid import UUID

from api.commands.base import OPERATORS, Ctx, command
from domain.auth import Role
from domain.common import Page
from domain.errors import Conflict, Forbidden, NotFound
from domain.organisations import (
    OrganisationCreate,
    OrganisationFilter,
    OrganisationPublic,
    OrganisationUpdate,
)
from store.organisations import OrganisationRepository

# A member, agency or partner may correct its own organisation's details.
SELF_EDITORS = (*OPERATORS, Role.MEMBER, Role.AGENCY, Role.PARTNER)


async def visible_organisation(ctx: Ctx, organisation_id: UUID) -> OrganisationPublic:
    org = await OrganisationRepository(ctx.conn).get(organisation_id)
    if org is None or not ctx.principal.may_see(org.id):
        raise NotFound.of("Organisation")
    return org


async def directory(ctx: Ctx, f: OrganisationFilter) -> Page[OrganisationPublic]:
    return await OrganisationRepository(ctx.conn).list(f, only_id=ctx.principal.scope)


@command(*OPERATORS)
async def create(ctx: Ctx, data: OrganisationCreate) -> OrganisationPublic:
    """Add an organisation to the directory; a SIRET is there once."""
    async with ctx.conn.transaction():
        repo = OrganisationRepository(ctx.conn)
        existing = await repo.get_by_siret(data.siret)
        if existing:
            raise Conflict(
                f"Le SIRET {data.siret} est déjà enregistré ({existing.name}, id {existing.id})."
            )
        return await repo.create(data)


@command(*SELF_EDITORS)
async def update(ctx: Ctx, organisation_id: UUID, data: OrganisationUpdate) -> OrganisationPublic:
    """Correct an organisation's details (its status: the network only)."""
    p = ctx.principal
    if not p.may_see(organisation_id):
        raise NotFound.of("Organisation")
    if data.status is not None and not p.sees_everything:
        raise Forbidden("Seule l'équipe du réseau peut changer le statut.")
    async with ctx.conn.transaction():
        org = await OrganisationRepository(ctx.conn).update(organisation_id, data)
    if org is None:
        raise NotFound.of("Organisation")
    return org
