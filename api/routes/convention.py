"""Partnership conventions (staff launch them, signatories sign, managers amend, review,
renew or close) and the company visits with their action projects that the KPIs count.
A party's users see the conventions they are party to; the network sees every one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from temporalio.client import WorkflowQueryFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.deps import (
    AppSettings,
    CurrentUser,
    Pool,
    TemporalClient,
    act_id,
    not_found,
    require,
    send_update,
)
from api.routes import pooling, recruitment
from domain.auth import Principal, Role
from domain.common import BoundedDate, Page
from domain.convention import (
    KPI_LABELS,
    ActionProjectPublic,
    ActionProjectUpdate,
    Amendment,
    AmendmentCreate,
    Cancel,
    CancelCreate,
    ConventionCreate,
    ConventionInput,
    ConventionPublic,
    ConventionState,
    ConventionStep,
    Decision,
    DecisionCreate,
    Evaluation,
    Expense,
    ExpenseCreate,
    KpiSnapshot,
    ProjectKind,
    Review,
    ReviewCreate,
    SignatureAct,
    SignatureCreate,
    SnapshotAsk,
    VisitCreate,
    VisitPublic,
    convention_workflow_id,
    evaluation_csv_rows,
)
from domain.csv_export import MEDIA_TYPE as CSV_MEDIA_TYPE
from domain.csv_export import csv_text
from domain.organisations import OrganisationKind
from domain.pooling import ServiceRequestCreate, ServiceRequestPublic
from domain.recruitment import CampaignCreate, CampaignPublic
from store.convention import ConventionRepository
from store.organisations import OrganisationRepository
from store.users import UserRepository
from workflows.clients import start_convention
from workflows.convention import ConventionWorkflow

router = APIRouter(prefix="/api", tags=["conventions et visites"])
pages = APIRouter(include_in_schema=False)

Launcher = Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.MANAGER))]
Manager = Annotated[Principal, Depends(require(Role.ADMIN, Role.MANAGER))]
NetworkUser = Launcher
Adviser = Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.MANAGER, Role.PARTNER))]

PARIS = ZoneInfo("Europe/Paris")  # the advisers' calendar day
CONVENTION_NS = uuid.UUID("8d3f6b1e-2a4c-4e8b-9f10-7c5d2e6a9b31")
VISIT_NS = uuid.UUID("c1a7e0d2-5b3f-4c6a-8e9d-0f1b2c3d4e5f")
CLOSED = "Cette convention est close : plus aucune action n'y est possible."
ADVISER_KINDS = {OrganisationKind.CHAMBER, OrganisationKind.ASSOCIATION}


def _invalid(field: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, f"Données invalides — {field} : {message}."
    )


async def _convention(pool, convention_id: UUID, p: Principal) -> ConventionPublic:
    async with pool.acquire() as c:
        conv = await ConventionRepository(c).get(convention_id)
    if conv is None or not (
        p.sees_everything or any(x.organisation_id == p.organisation_id for x in conv.parties)
    ):
        raise not_found("Convention")
    return conv


def _handle(client, convention_id: UUID):
    return client.get_workflow_handle_for(
        ConventionWorkflow.run, convention_workflow_id(convention_id)
    )


async def _act(
    pool, client, p: Principal, convention_id: UUID, update: Any, arg: Any, **kwargs: Any
) -> Any:
    """An action on a convention the caller may see (404 otherwise), sent to its workflow."""
    await _convention(pool, convention_id, p)
    return await _send(client, convention_id, update, arg, **kwargs)


async def _send(client, convention_id: UUID, update: Any, arg: Any, **kwargs: Any) -> Any:
    return await send_update(
        _handle(client, convention_id),
        update,
        arg,
        **kwargs,
        closed=CLOSED,
        refused="Action impossible : {}.",
    )


# --- conventions ----------------------------------------------------------------------------


@router.post("/conventions", status_code=status.HTTP_201_CREATED, response_model=ConventionPublic)
async def create_convention(
    data: ConventionCreate,
    pool: Pool,
    client: TemporalClient,
    settings: AppSettings,
    principal: Launcher,
):
    """A new convention and its first phase; every party's signatory gets a task to sign.
    `request_id` is the idempotency key: the same request again answers the same convention."""
    async with pool.acquire() as c:
        parties = await ConventionRepository(c).check_parties(data.parties)
    if isinstance(parties, str):
        raise _invalid("parties", parties)
    convention_id = uuid.uuid5(CONVENTION_NS, f"{principal.organisation_id}:{data.request_id}")
    phase = data.phase.model_copy(update={"number": data.phase.number or 1})
    try:
        await start_convention(
            client,
            settings.task_queue,
            ConventionInput(
                convention_id=convention_id,
                network_id=principal.organisation_id,
                created_by=principal.user_id,
                title=data.title,
                territory=data.territory,
                parties=parties,
                phase=phase,
                reminder_days=data.reminder_days,
                escalate_after=data.escalate_after,
                snapshot_months=data.snapshot_months,
            ),
            request_id=f"{principal.organisation_id}:{data.request_id}",
        )
    except WorkflowAlreadyStartedError:
        pass  # a retry of a launch whose convention has ended: the store has it
    return await _convention(pool, convention_id, principal)


@router.get("/conventions", response_model=Page[ConventionPublic])
async def list_conventions(
    pool: Pool,
    principal: CurrentUser,
    status_: Annotated[ConventionStep | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
):
    party = principal.scope
    async with pool.acquire() as c:
        return await ConventionRepository(c).list(party, status_, limit, offset)


@router.get("/conventions/{convention_id}", response_model=ConventionPublic)
async def get_convention(convention_id: UUID, pool: Pool, principal: CurrentUser):
    return await _convention(pool, convention_id, principal)


@router.get("/conventions/{convention_id}/state", response_model=ConventionState)
async def convention_state(
    convention_id: UUID, pool: Pool, client: TemporalClient, principal: CurrentUser
):
    """Live state of the current phase (from the workflow)."""
    await _convention(pool, convention_id, principal)
    try:
        return await _handle(client, convention_id).query(ConventionWorkflow.state)
    except (RPCError, WorkflowQueryFailedError):
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "État en direct indisponible, réessayez."
        ) from None


@router.post("/conventions/{convention_id}/signature", response_model=ConventionState)
async def sign(
    convention_id: UUID,
    data: SignatureCreate,
    pool: Pool,
    client: TemporalClient,
    principal: CurrentUser,
):
    """The caller signs the current phase for its organisation. Signing again changes
    nothing."""
    conv = await _convention(pool, convention_id, principal)
    if not any(p.signatory_id == principal.user_id for p in conv.parties):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Vous n'êtes pas signataire de cette convention."
        )
    return await _send(
        client,
        convention_id,
        ConventionWorkflow.sign,
        SignatureAct(user_id=principal.user_id, organisation_id=principal.organisation_id),
    )


@router.post("/conventions/{convention_id}/amendments", response_model=ConventionState)
async def amend(
    convention_id: UUID,
    data: AmendmentCreate,
    pool: Pool,
    client: TemporalClient,
    principal: Manager,
):
    """Targets or annual budget of the running phase (recorded in the audit trail)."""
    return await _act(
        pool,
        client,
        principal,
        convention_id,
        ConventionWorkflow.amend,
        Amendment(**data.model_dump(), user_id=principal.user_id),
    )


@router.post("/conventions/{convention_id}/expenses", response_model=ConventionState)
async def record_expense(
    convention_id: UUID,
    data: ExpenseCreate,
    pool: Pool,
    client: TemporalClient,
    principal: Launcher,
):
    return await _act(
        pool,
        client,
        principal,
        convention_id,
        ConventionWorkflow.record_expense,
        Expense(**data.model_dump(), user_id=principal.user_id),
    )


@router.post("/conventions/{convention_id}/snapshots", response_model=KpiSnapshot)
async def refresh_kpis(
    convention_id: UUID, pool: Pool, client: TemporalClient, principal: NetworkUser
):
    """Count the KPIs now, without waiting for the month's snapshot."""
    return await _act(
        pool,
        client,
        principal,
        convention_id,
        ConventionWorkflow.refresh,
        SnapshotAsk(user_id=principal.user_id),
    )


@router.get("/conventions/{convention_id}/snapshots", response_model=list[KpiSnapshot])
async def list_snapshots(
    convention_id: UUID,
    pool: Pool,
    principal: CurrentUser,
    phase: Annotated[int | None, Query(ge=1, le=99)] = None,
):
    conv = await _convention(pool, convention_id, principal)
    async with pool.acquire() as c:
        return await ConventionRepository(c).snapshots(convention_id, phase or conv.phase_number)


@router.post("/conventions/{convention_id}/review", response_model=ConventionState)
async def review(
    convention_id: UUID,
    data: ReviewCreate,
    pool: Pool,
    client: TemporalClient,
    principal: Manager,
):
    return await _act(
        pool,
        client,
        principal,
        convention_id,
        ConventionWorkflow.review,
        Review(note=data.note, user_id=principal.user_id),
    )


@router.post("/conventions/{convention_id}/decision", response_model=ConventionState)
async def decide(
    convention_id: UUID,
    data: DecisionCreate,
    pool: Pool,
    client: TemporalClient,
    principal: Manager,
):
    """After the evaluation: renew into the next phase (it then awaits its signatures) or
    close the convention."""
    return await _act(
        pool,
        client,
        principal,
        convention_id,
        ConventionWorkflow.decide,
        decision := Decision(**data.model_dump(), user_id=principal.user_id),
        id=act_id("decide", decision),
    )


@router.post("/conventions/{convention_id}/cancel", response_model=ConventionState)
async def cancel(
    convention_id: UUID,
    data: CancelCreate,
    pool: Pool,
    client: TemporalClient,
    principal: Manager,
):
    """Abandon a phase not yet begun (awaiting signatures, or signed before its start)."""
    return await _act(
        pool,
        client,
        principal,
        convention_id,
        ConventionWorkflow.cancel,
        act := Cancel(reason=data.reason, user_id=principal.user_id),
        id=act_id("cancel", act),
    )


async def _evaluation(
    pool, convention_id: UUID, p: Principal, phase: int | None
) -> tuple[ConventionPublic, Evaluation]:
    conv = await _convention(pool, convention_id, p)
    evaluated = [ph for ph in conv.phases if ph.evaluation is not None]
    chosen = [ph for ph in evaluated if phase in (None, ph.number)]
    if not chosen:
        which = f"La phase {phase}" if phase else "Aucune phase"
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{which} n'est pas encore évaluée.")
    return conv, chosen[-1].evaluation


@router.get("/conventions/{convention_id}/evaluation", response_model=Evaluation)
async def evaluation(
    convention_id: UUID,
    pool: Pool,
    principal: CurrentUser,
    phase: Annotated[int | None, Query(ge=1, le=99)] = None,
):
    """A phase's evaluation (the latest evaluated by default): target, actual and percentage
    for each KPI, budget and budget used."""
    return (await _evaluation(pool, convention_id, principal, phase))[1]


@router.get("/conventions/{convention_id}/evaluation.csv", response_class=Response)
async def evaluation_csv(
    convention_id: UUID,
    pool: Pool,
    principal: CurrentUser,
    phase: Annotated[int | None, Query(ge=1, le=99)] = None,
):
    conv, e = await _evaluation(pool, convention_id, principal, phase)
    return Response(
        csv_text(evaluation_csv_rows(conv.title, e)),
        media_type=CSV_MEDIA_TYPE,
        headers={
            "Content-Disposition": (
                f'attachment; filename="evaluation-{convention_id}-phase-{e.phase_number}.csv"'
            )
        },
    )


@pages.get("/conventions/{convention_id}/evaluation", response_class=HTMLResponse)
async def evaluation_page(
    request: Request,
    convention_id: UUID,
    pool: Pool,
    principal: CurrentUser,
    phase: Annotated[int | None, Query(ge=1, le=99)] = None,
):
    """The printable evaluation, with a chart of targets against actuals."""
    from api.routes.dashboard import templates  # the dashboard owns the templates

    conv, e = await _evaluation(pool, convention_id, principal, phase)
    return templates.TemplateResponse(
        request,
        "evaluation.html",
        {"convention": conv, "e": e, "bars": _bars(e), "me": await _me(pool, principal)},
    )


async def _me(pool, p: Principal):
    async with pool.acquire() as c:
        return await UserRepository(c).get(p.user_id)


def _bars(e: Evaluation) -> list[dict[str, Any]]:
    """Targeted KPIs as bar widths (percent of the larger of target and actual)."""
    out = []
    for line in e.lines:
        if line.target is None:
            continue
        top = max(line.target, line.actual, 1)
        out.append(
            {
                "label": KPI_LABELS[line.key],
                "target": line.target,
                "actual": line.actual,
                "percent": line.percent,
                "target_w": round(100 * line.target / top, 1),
                "actual_w": round(100 * line.actual / top, 1),
            }
        )
    return out


# --- company visits and action projects ------------------------------------------------------


async def _adviser(pool, p: Principal) -> None:
    """Advisers are the network's staff and the users of a chamber or an association."""
    if p.sees_everything:
        return
    async with pool.acquire() as c:
        org = await OrganisationRepository(c).get(p.organisation_id)
    if org is None or org.kind not in ADVISER_KINDS:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Seuls les conseillers d'une chambre ou d'une association enregistrent des visites.",
        )


def _visit_visible(v: VisitPublic, p: Principal) -> bool:
    return p.sees_everything or p.organisation_id in (v.adviser_organisation_id, v.company_id)


async def _visit(pool, visit_id: UUID, p: Principal) -> VisitPublic:
    async with pool.acquire() as c:
        v = await ConventionRepository(c).visit(visit_id)
    if v is None or not _visit_visible(v, p):
        raise not_found("Visite")
    return v


@router.post("/visits", status_code=status.HTTP_201_CREATED, response_model=VisitPublic)
async def record_visit(data: VisitCreate, pool: Pool, principal: Adviser):
    """An adviser's visit to a company, member or not, with its needs and action projects.
    `request_id` is the idempotency key."""
    await _adviser(pool, principal)
    if data.visited_on > datetime.now(PARIS).date():
        raise _invalid("visited_on", "une visite se déclare une fois faite, pas à l'avance")
    visit_id = uuid.uuid5(VISIT_NS, f"{principal.organisation_id}:{data.request_id}")
    async with pool.acquire() as c:
        orgs = OrganisationRepository(c)
        if data.company_id is not None:
            org = await orgs.get(data.company_id)
            if org is None or org.kind != OrganisationKind.MEMBER:
                raise _invalid("company_id", "ce n'est pas une entreprise de l'annuaire")
        else:
            assert data.company is not None
            org = await orgs.get_by_siret(data.company.siret)
            if org is not None and org.kind != OrganisationKind.MEMBER:
                raise _invalid("company.siret", "ce SIRET est celui d'une organisation du réseau")
        if org is not None:
            # A member counts in its own territory, wherever the adviser files the visit.
            if data.territory and org.territory and data.territory != org.territory:
                raise _invalid("territory", f"{org.name} est du territoire « {org.territory} »")
            territory = org.territory or data.territory
            company = {
                "id": org.id,
                "siret": org.siret,
                "name": org.name,
                "postcode": org.postcode,
                "territory": territory,
            }
        else:
            assert data.company is not None
            territory = data.territory
            company = {"id": None, **data.company.model_dump(include={"siret", "name", "postcode"})}
            company["territory"] = territory
        if not territory:
            raise _invalid("territory", "indiquez le territoire de l'entreprise visitée")
        async with c.transaction():
            await ConventionRepository(c).record_visit(
                visit_id,
                principal.user_id,
                principal.organisation_id,
                data,
                company,
                [uuid.uuid5(visit_id, str(i)) for i in range(len(data.projects))],
            )
    return await _visit(pool, visit_id, principal)


@router.get("/visits", response_model=Page[VisitPublic])
async def list_visits(
    pool: Pool,
    principal: Annotated[
        Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.MANAGER, Role.PARTNER, Role.MEMBER))
    ],
    territory: Annotated[str | None, Query(max_length=100)] = None,
    company_id: UUID | None = None,
    since: BoundedDate | None = None,
    until: BoundedDate | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
):
    """Visits: every one for the network; an adviser's organisation sees its own, a member
    company the visits it received."""
    mine = principal.scope
    async with pool.acquire() as c:
        return await ConventionRepository(c).visits(
            organisation_id=mine,
            territory=territory,
            company_id=company_id,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )


@router.get("/visits/{visit_id}", response_model=VisitPublic)
async def get_visit(visit_id: UUID, pool: Pool, principal: CurrentUser):
    return await _visit(pool, visit_id, principal)


async def _project(pool, project_id: UUID, p: Principal) -> tuple[ActionProjectPublic, VisitPublic]:
    async with pool.acquire() as c:
        repo = ConventionRepository(c)
        project = await repo.project(project_id)
        visit = await repo.visit(project.visit_id) if project else None
    # Another organisation's project answers like a missing one (not "Visite introuvable").
    if project is None or visit is None:
        raise not_found("Projet d'action")
    if not (p.sees_everything or p.organisation_id == visit.adviser_organisation_id):
        raise not_found("Projet d'action")  # the company sees its projects, advisers act
    return project, visit


@router.patch("/action-projects/{project_id}", response_model=ActionProjectPublic)
async def update_project(
    project_id: UUID, data: ActionProjectUpdate, pool: Pool, principal: Adviser
):
    project, _ = await _project(pool, project_id, principal)
    if data.investment_cents is not None and project.kind != ProjectKind.INVESTMENT:
        raise _invalid("investment_cents", "ce projet n'est pas un projet d'investissement")
    async with pool.acquire() as c:
        return await ConventionRepository(c).update_project(project_id, data)


@router.post("/action-projects/{project_id}/campaign", response_model=ActionProjectPublic)
async def launch_campaign_from_project(
    project_id: UUID,
    data: CampaignCreate,
    pool: Pool,
    client: TemporalClient,
    settings: AppSettings,
    principal: Launcher,
):
    """A recruitment project launches its campaign for the visited company, and stays linked
    to it. A project has one campaign: sent again, it finds the same one."""
    project, visit = await _project(pool, project_id, principal)
    if project.kind != ProjectKind.RECRUITMENT:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "Ce projet n'est pas un projet de recrutement."
        )
    if visit.company_id is None or data.employer_id != visit.company_id:
        raise _invalid("employer_id", "la campagne est celle de l'entreprise visitée, adhérente")
    # One campaign per project, whatever the request id sent: concurrent or repeated
    # launches meet in the same campaign.
    data = data.model_copy(update={"request_id": f"projet-{project_id}"})
    campaign: CampaignPublic = await recruitment.launch_campaign(
        data, pool, client, settings, principal
    )
    async with pool.acquire() as c:
        linked = await ConventionRepository(c).link_campaign(project_id, campaign.id)
    if linked is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "Ce projet est déjà lié à une autre campagne."
        )
    return linked


@router.post(
    "/action-projects/{project_id}/service-requests/{code}", response_model=ActionProjectPublic
)
async def request_service_from_project(
    project_id: UUID,
    code: str,
    data: ServiceRequestCreate,
    pool: Pool,
    client: TemporalClient,
    settings: AppSettings,
    principal: Launcher,
):
    """A pooled-service project requests the service for the visited company, and stays
    linked to the request (one per project: sent again, it finds the same one)."""
    project, visit = await _project(pool, project_id, principal)
    if project.kind != ProjectKind.POOLED_SERVICE:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "Ce projet n'est pas un projet de service mutualisé."
        )
    if visit.company_id is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "L'entreprise visitée n'est pas adhérente : elle ne peut pas encore demander "
            "un service mutualisé.",
        )
    # One request per project, whatever the request id sent (as for campaigns).
    request = data.model_copy(
        update={"member_id": visit.company_id, "request_id": f"projet-{project_id}"}
    )
    made: ServiceRequestPublic = await pooling.request_service(
        code, request, pool, client, settings, principal
    )
    async with pool.acquire() as c:
        linked = await ConventionRepository(c).link_service_request(project_id, made.id)
    if linked is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "Ce projet est déjà lié à une autre demande de service."
        )
    return linked
