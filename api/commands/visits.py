"""Company visits and their action projects: advisers (the network's staff, a chamber's or
an association's users) record visits; a recruitment or pooled-service project launches its
campaign or request for the visited company, and stays linked to it.

Who launches: the network's staff (and managers), who run campaigns and pooled services. A
chamber's or an association's adviser records the project; it reaches the network's staff
as a task (« Lancer le projet … », mailed to them), which closes when they launch it."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from uuid import UUID

from api.commands import pooling, recruitment
from api.commands.base import NETWORK, Ctx, command
from domain.actions import TaskAction
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
from domain.processes import ProcessKind, TaskClose, TaskOpen, TaskPublic
from domain.recruitment import CampaignCreate
from store.convention import ConventionRepository
from store.organisations import OrganisationRepository
from store.processes import ProcessRepository

VISIT_NS = uuid.UUID("c1a7e0d2-5b3f-4c6a-8e9d-0f1b2c3d4e5f")
ADVISER_KINDS = {OrganisationKind.CHAMBER, OrganisationKind.ASSOCIATION}
ADVISERS = (*NETWORK, Role.PARTNER)
VISIT_READERS = (*NETWORK, Role.PARTNER, Role.MEMBER)
# The projects that launch something in Relais, and how long staff have to launch them.
LAUNCHABLE = {ProjectKind.RECRUITMENT, ProjectKind.POOLED_SERVICE}
LAUNCH_WITHIN = timedelta(days=7)


def visit_workflow_id(visit_id: UUID) -> str:
    """What a visit's tasks are filed under (a visit is a record, not a workflow)."""
    return f"visite-{visit_id}"


def launch_task_key(project_id: UUID) -> str:
    return f"projet-{project_id}-lancer"


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
    project_ids = [uuid.uuid5(visit_id, str(i)) for i in range(len(data.projects))]
    async with ctx.conn.transaction():
        await ConventionRepository(ctx.conn).record_visit(
            visit_id, p.user_id, p.organisation_id, data, company, project_ids
        )
        if not launch_campaign.allows(p):
            await _hand_to_staff(ctx, visit_id, str(company["name"]), data, project_ids)
    return await visible_visit(ctx, visit_id)


async def _hand_to_staff(
    ctx: Ctx, visit_id: UUID, company: str, data: VisitCreate, project_ids: list[UUID]
) -> None:
    """The projects an adviser outside the network records but may not launch: a task each
    for the network's staff (opened once: a repeated visit finds them there)."""
    network = await OrganisationRepository(ctx.conn).network_of(ctx.principal.organisation_id)
    if network is None:
        return
    tasks = ProcessRepository(ctx.conn)
    for project_id, project in zip(project_ids, data.projects, strict=True):
        if project.kind not in LAUNCHABLE:
            continue
        await tasks.open_task(
            TaskOpen(
                key=launch_task_key(project_id),
                workflow_id=visit_workflow_id(visit_id),
                process=ProcessKind.CONVENTION,  # visits count in the conventions' figures
                action=TaskAction.LAUNCH_PROJECT,
                title=f"Lancer le projet « {project.title} » ({company})",
                assignee_organisation_id=network,
                assignee_role=Role.STAFF,
                due_at=datetime.now(PARIS) + LAUNCH_WITHIN,
                subject_id=str(project_id),
            ),
            base_url=ctx.settings.base_url,
        )


async def handed_tasks(ctx: Ctx, visit: VisitPublic) -> dict[str | None, TaskPublic]:
    """The tasks a visit's projects opened for the network's staff, by project (the visit
    already read as visible to the caller)."""
    found = await ProcessRepository(ctx.conn).tasks_of(visit_workflow_id(visit.id))
    return {t.subject_id: t for t in found}


async def _launched(ctx: Ctx, project_id: UUID, outcome: str) -> None:
    await ProcessRepository(ctx.conn).close_task(
        TaskClose(key=launch_task_key(project_id), outcome=outcome)
    )


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
    await _launched(ctx, project_id, "campaign_launched")
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
    await _launched(ctx, project_id, "service_requested")
    return linked
