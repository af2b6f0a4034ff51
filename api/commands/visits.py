"""Company visits and their action projects: advisers (the network's staff, a chamber's or
an association's users) record visits; a recruitment or pooled-service project launches its
campaign or request for the visited company, and stays linked to it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from uuid import UUID

from api.commands import pooling, recruitment
from api.commands.base import NETWORK, Ctx, command
from domain.auth import Role
from domain.common import Page
from domain.convention import (
    ActionProjectPublic,
    ActionProjectUpdate,
    ProjectKind,
    VisitCreate,
    VisitPublic,
)
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.formats import PARIS
from domain.organisations import OrganisationKind
from domain.pooling import ServicePublic, ServiceRequestCreate
from domain.recruitment import CampaignCreate
from store.convention import ConventionRepository
from store.organisations import OrganisationRepository

VISIT_NS = uuid.UUID("c1a7e0d2-5b3f-4c6a-8e9d-0f1b2c3d4e5f")
ADVISER_KINDS = {OrganisationKind.CHAMBER, OrganisationKind.ASSOCIATION}
ADVISERS = (*NETWORK, Role.PARTNER)
VISIT_READERS = (*NETWORK, Role.PARTNER, Role.MEMBER)


def visit_id_for(organisation_id: UUID, request_id: str) -> UUID:
    return uuid.uuid5(VISIT_NS, f"{organisation_id}:{request_id}")


async def _adviser(ctx: Ctx) -> None:
    """Advisers are the network's staff and the users of a chamber or an association."""
    p = ctx.principal
    if p.sees_everything:
        return
    org = await OrganisationRepository(ctx.conn).get(p.organisation_id)
    if org is None or org.kind not in ADVISER_KINDS:
        raise Forbidden(
            "Seuls les conseillers d'une chambre ou d'une association enregistrent des visites."
        )


async def visible_visit(ctx: Ctx, visit_id: UUID) -> VisitPublic:
    v = await ConventionRepository(ctx.conn).visit(visit_id)
    p = ctx.principal
    if v is None or not (
        p.sees_everything or p.organisation_id in (v.adviser_organisation_id, v.company_id)
    ):
        raise NotFound.of("Visite")
    return v


async def list_visits(
    ctx: Ctx,
    territory: str | None,
    company_id: UUID | None,
    since: date | None,
    until: date | None,
    limit: int,
    offset: int,
) -> Page[VisitPublic]:
    """Visits: every one for the network; an adviser's organisation sees its own, a member
    company the visits it received."""
    return await ConventionRepository(ctx.conn).visits(
        organisation_id=ctx.principal.scope,
        territory=territory,
        company_id=company_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )


async def visible_project(ctx: Ctx, project_id: UUID) -> tuple[ActionProjectPublic, VisitPublic]:
    """A project the caller may act on: the network's, or its adviser organisation's."""
    repo = ConventionRepository(ctx.conn)
    project = await repo.project(project_id)
    visit = await repo.visit(project.visit_id) if project else None
    # Another organisation's project answers like a missing one (not "Visite introuvable").
    if project is None or visit is None:
        raise NotFound.of("Projet d'action")
    p = ctx.principal
    if not (p.sees_everything or p.organisation_id == visit.adviser_organisation_id):
        raise NotFound.of("Projet d'action")  # the company sees its projects, advisers act
    return project, visit


@command(*ADVISERS)
async def record_visit(ctx: Ctx, data: VisitCreate) -> VisitPublic:
    """An adviser's visit to a company, member or not, with its needs and action projects.
    `request_id` is the idempotency key."""
    await _adviser(ctx)
    p = ctx.principal
    if data.visited_on > datetime.now(PARIS).date():
        raise Invalid("visited_on", "une visite se déclare une fois faite, pas à l'avance.")
    visit_id = visit_id_for(p.organisation_id, data.request_id)
    orgs = OrganisationRepository(ctx.conn)
    if data.company_id is not None:
        org = await orgs.get(data.company_id)
        if org is None or org.kind != OrganisationKind.MEMBER:
            raise Invalid("company_id", "ce n'est pas une entreprise de l'annuaire.")
    elif data.company is not None:
        org = await orgs.get_by_siret(data.company.siret)
        if org is not None and org.kind != OrganisationKind.MEMBER:
            raise Invalid("company.siret", "ce SIRET est celui d'une organisation du réseau.")
    else:  # VisitCreate requires one of them
        raise Invalid("company", "indiquez l'entreprise visitée.")
    if org is not None:
        # A member counts in its own territory, wherever the adviser files the visit.
        if data.territory and org.territory and data.territory != org.territory:
            raise Invalid("territory", f"{org.name} est du territoire « {org.territory} ».")
        territory = org.territory or data.territory
        company: dict[str, object] = {
            "id": org.id,
            "siret": org.siret,
            "name": org.name,
            "postcode": org.postcode,
            "territory": territory,
        }
    else:
        assert data.company is not None  # narrowed above
        territory = data.territory
        company = {"id": None, **data.company.model_dump(include={"siret", "name", "postcode"})}
        company["territory"] = territory
    if not territory:
        raise Invalid("territory", "indiquez le territoire de l'entreprise visitée.")
    async with ctx.conn.transaction():
        await ConventionRepository(ctx.conn).record_visit(
            visit_id,
            p.user_id,
            p.organisation_id,
            data,
            company,
            [uuid.uuid5(visit_id, str(i)) for i in range(len(data.projects))],
        )
    return await visible_visit(ctx, visit_id)


@command(*ADVISERS)
async def update_project(
    ctx: Ctx, project_id: UUID, data: ActionProjectUpdate
) -> ActionProjectPublic:
    """A project's progress (status, investment amount, note)."""
    project, _ = await visible_project(ctx, project_id)
    if data.investment_cents is not None and project.kind != ProjectKind.INVESTMENT:
        raise Invalid("investment_cents", "ce projet n'est pas un projet d'investissement.")
    return await ConventionRepository(ctx.conn).update_project(project_id, data)


@command(*NETWORK)
async def launch_campaign(ctx: Ctx, project_id: UUID, data: CampaignCreate) -> ActionProjectPublic:
    """A recruitment project launches its campaign for the visited company, and stays linked
    to it. A project has one campaign: sent again, it finds the same one."""
    project, visit = await visible_project(ctx, project_id)
    if project.kind != ProjectKind.RECRUITMENT:
        raise Conflict("Ce projet n'est pas un projet de recrutement.")
    if visit.company_id is None or data.employer_id != visit.company_id:
        raise Invalid("employer_id", "la campagne est celle de l'entreprise visitée, adhérente.")
    # One campaign per project, whatever the request id sent: concurrent or repeated
    # launches meet in the same campaign.
    data = data.model_copy(update={"request_id": f"projet-{project_id}"})
    campaign = await recruitment.launch(ctx, data)
    linked = await ConventionRepository(ctx.conn).link_campaign(project_id, campaign.id)
    if linked is None:
        raise Conflict("Ce projet est déjà lié à une autre campagne.")
    return linked


@command(*NETWORK)
async def request_service(
    ctx: Ctx, project_id: UUID, service: ServicePublic, data: ServiceRequestCreate
) -> ActionProjectPublic:
    """A pooled-service project requests the service for the visited company, and stays
    linked to the request (one per project: sent again, it finds the same one)."""
    project, visit = await visible_project(ctx, project_id)
    if project.kind != ProjectKind.POOLED_SERVICE:
        raise Conflict("Ce projet n'est pas un projet de service mutualisé.")
    if visit.company_id is None:
        raise Conflict(
            "L'entreprise visitée n'est pas adhérente : elle ne peut pas encore demander "
            "un service mutualisé."
        )
    # One request per project, whatever the request id sent (as for campaigns).
    request = data.model_copy(
        update={"member_id": visit.company_id, "request_id": f"projet-{project_id}"}
    )
    made = await pooling.place_request(ctx, service, visit.company_id, request)
    linked = await ConventionRepository(ctx.conn).link_service_request(project_id, made.id)
    if linked is None:
        raise Conflict("Ce projet est déjà lié à une autre demande de service.")
    return linked
