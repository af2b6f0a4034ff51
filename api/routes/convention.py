"""Partnership conventions (JSON): staff launch them, signatories sign, managers amend,
review, renew or close; and the company visits with their action projects that the KPIs
count. A party's users see the conventions they are party to; the network sees every one."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import Response

from api.commands import convention as conv
from api.commands import visits
from api.commands.base import Ctx
from api.deps import CatalogueService, Context, VisibleConvention, acting, reading
from api.errors import RESPONSES
from domain.common import BoundedDate, Page
from domain.convention import (
    ActionProjectPublic,
    ActionProjectUpdate,
    AmendmentCreate,
    CancelCreate,
    ConventionCreate,
    ConventionPublic,
    ConventionState,
    ConventionStep,
    DecisionCreate,
    Evaluation,
    ExpenseCreate,
    KpiSnapshot,
    ReviewCreate,
    SignatureCreate,
    VisitCreate,
    VisitPublic,
)
from domain.csv_export import MEDIA_TYPE as CSV_MEDIA_TYPE
from domain.pooling import ServiceRequestCreate
from domain.recruitment import CampaignCreate

router = APIRouter(prefix="/api", tags=["conventions et visites"], responses=RESPONSES)

Phase = Annotated[int | None, Query(ge=1, le=99)]


@router.post("/conventions", status_code=status.HTTP_201_CREATED, response_model=ConventionPublic)
async def create_convention(
    ctx: Annotated[Ctx, Depends(acting(conv.create))], data: ConventionCreate
) -> ConventionPublic:
    """A new convention and its first phase; every party's signatory gets a task to sign.
    `request_id` is the idempotency key: the same request again answers the same convention."""
    return await conv.create(ctx, data)


@router.get("/conventions", response_model=Page[ConventionPublic])
async def list_conventions(
    ctx: Context,
    status_: Annotated[ConventionStep | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[ConventionPublic]:
    return await conv.list_conventions(ctx, status_, limit, offset)


@router.get("/conventions/{convention_id}", response_model=ConventionPublic)
async def get_convention(found: VisibleConvention) -> ConventionPublic:
    return found


@router.get("/conventions/{convention_id}/state", response_model=ConventionState)
async def convention_state(ctx: Context, found: VisibleConvention) -> ConventionState:
    """Live state of the current phase (from the workflow)."""
    return await conv.live_state(ctx, found)


@router.post("/conventions/{convention_id}/signature", response_model=ConventionState)
async def sign(ctx: Context, found: VisibleConvention, data: SignatureCreate) -> ConventionState:
    """The caller signs the current phase for its organisation. Signing again changes
    nothing."""
    return await conv.sign(ctx, found, data)


@router.post("/conventions/{convention_id}/amendments", response_model=ConventionState)
async def amend(
    ctx: Annotated[Ctx, Depends(acting(conv.amend))],
    found: VisibleConvention,
    data: AmendmentCreate,
) -> ConventionState:
    """Targets or annual budget of the running phase (recorded in the audit trail)."""
    return await conv.amend(ctx, found, data)


@router.post("/conventions/{convention_id}/expenses", response_model=ConventionState)
async def record_expense(
    ctx: Annotated[Ctx, Depends(acting(conv.add_expense))],
    found: VisibleConvention,
    data: ExpenseCreate,
) -> ConventionState:
    return await conv.add_expense(ctx, found, data)


@router.post("/conventions/{convention_id}/snapshots", response_model=KpiSnapshot)
async def refresh_kpis(
    ctx: Annotated[Ctx, Depends(acting(conv.refresh_kpis))], found: VisibleConvention
) -> KpiSnapshot:
    """Count the KPIs now, without waiting for the month's snapshot."""
    return await conv.refresh_kpis(ctx, found)


@router.get("/conventions/{convention_id}/snapshots", response_model=list[KpiSnapshot])
async def list_snapshots(
    ctx: Context, found: VisibleConvention, phase: Phase = None
) -> list[KpiSnapshot]:
    return await conv.snapshots(ctx, found, phase)


@router.post("/conventions/{convention_id}/review", response_model=ConventionState)
async def review(
    ctx: Annotated[Ctx, Depends(acting(conv.review))],
    found: VisibleConvention,
    data: ReviewCreate,
) -> ConventionState:
    return await conv.review(ctx, found, data)


@router.post("/conventions/{convention_id}/decision", response_model=ConventionState)
async def decide(
    ctx: Annotated[Ctx, Depends(acting(conv.decide))],
    found: VisibleConvention,
    data: DecisionCreate,
) -> ConventionState:
    """After the evaluation: renew into the next phase (it then awaits its signatures) or
    close the convention."""
    return await conv.decide(ctx, found, data)


@router.post("/conventions/{convention_id}/cancel", response_model=ConventionState)
async def cancel(
    ctx: Annotated[Ctx, Depends(acting(conv.cancel))],
    found: VisibleConvention,
    data: CancelCreate,
) -> ConventionState:
    """Abandon a phase not yet begun (awaiting signatures, or signed before its start)."""
    return await conv.cancel(ctx, found, data)


@router.get("/conventions/{convention_id}/evaluation", response_model=Evaluation)
async def evaluation(found: VisibleConvention, phase: Phase = None) -> Evaluation:
    """A phase's evaluation (the latest evaluated by default): target, actual and percentage
    for each KPI, budget and budget used."""
    return conv.evaluation(found, phase)


@router.get("/conventions/{convention_id}/evaluation.csv", response_class=Response)
async def evaluation_csv(ctx: Context, found: VisibleConvention, phase: Phase = None) -> Response:
    name, text = await conv.evaluation_csv(ctx, found, phase)
    return Response(
        text,
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- company visits and action projects ------------------------------------------------------


@router.post("/visits", status_code=status.HTTP_201_CREATED, response_model=VisitPublic)
async def record_visit(
    ctx: Annotated[Ctx, Depends(acting(visits.record_visit))], data: VisitCreate
) -> VisitPublic:
    """An adviser's visit to a company, member or not, with its needs and action projects.
    `request_id` is the idempotency key."""
    return await visits.record_visit(ctx, data)


@router.get("/visits", response_model=Page[VisitPublic])
async def list_visits(
    ctx: Annotated[Ctx, Depends(reading(*visits.VISIT_READERS))],
    territory: Annotated[str | None, Query(max_length=100)] = None,
    company_id: UUID | None = None,
    since: BoundedDate | None = None,
    until: BoundedDate | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[VisitPublic]:
    """Visits: every one for the network; an adviser's organisation sees its own, a member
    company the visits it received."""
    return await visits.list_visits(ctx, territory, company_id, since, until, limit, offset)


@router.get("/visits/{visit_id}", response_model=VisitPublic)
async def get_visit(ctx: Context, visit_id: UUID) -> VisitPublic:
    return await visits.visible_visit(ctx, visit_id)


@router.patch("/action-projects/{project_id}", response_model=ActionProjectPublic)
async def update_project(
    ctx: Annotated[Ctx, Depends(acting(visits.update_project))],
    project_id: UUID,
    data: ActionProjectUpdate,
) -> ActionProjectPublic:
    return await visits.update_project(ctx, project_id, data)


@router.post("/action-projects/{project_id}/campaign", response_model=ActionProjectPublic)
async def launch_campaign_from_project(
    ctx: Annotated[Ctx, Depends(acting(visits.launch_campaign))],
    project_id: UUID,
    data: CampaignCreate,
) -> ActionProjectPublic:
    """A recruitment project launches its campaign for the visited company, and stays linked
    to it. A project has one campaign: sent again, it finds the same one."""
    return await visits.launch_campaign(ctx, project_id, data)


@router.post(
    "/action-projects/{project_id}/service-requests/{code}", response_model=ActionProjectPublic
)
async def request_service_from_project(
    ctx: Annotated[Ctx, Depends(acting(visits.request_service))],
    project_id: UUID,
    service: CatalogueService,
    data: ServiceRequestCreate,
) -> ActionProjectPublic:
    """A pooled-service project requests the service for the visited company, and stays
    linked to the request (one per project: sent again, it finds the same one)."""
    return await visits.request_service(ctx, project_id, service, data)
