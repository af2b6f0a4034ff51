"""Pooled services (JSON): staff keep the catalogue; members request, accept or decline their
quotes, withdraw, rate; the provider confirms the order and the delivery."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status

from api.commands import pooling as pl
from api.commands.base import Ctx
from api.commands.pooling import PoolDetail
from api.deps import (
    CatalogueService,
    Context,
    MemberOrNetwork,
    VisiblePool,
    VisibleServiceRequest,
    acting,
)
from api.errors import RESPONSES
from domain.common import Page
from domain.pool_decisions import ShareEstimate
from domain.pooling import (
    DeliveryCreate,
    PoolPublic,
    PoolStatus,
    ProviderAnswerCreate,
    QuoteAnswerCreate,
    RatingCreate,
    RequestStatus,
    ServiceCreate,
    ServicePublic,
    ServiceRequestCreate,
    ServiceRequestPublic,
    WithdrawCreate,
)

router = APIRouter(prefix="/api", tags=["services mutualisés"], responses=RESPONSES)


@router.get("/services", response_model=list[ServicePublic])
async def list_services(ctx: Context, all: bool = False) -> list[ServicePublic]:
    """The catalogue; `all=true` (staff) includes withdrawn services."""
    return await pl.list_services(ctx, include_withdrawn=all)


@router.post("/services", status_code=status.HTTP_201_CREATED, response_model=ServicePublic)
async def create_service(
    ctx: Annotated[Ctx, Depends(acting(pl.create_service))], data: ServiceCreate
) -> ServicePublic:
    return await pl.create_service(ctx, data)


@router.get("/services/{code}", response_model=ServicePublic)
async def get_service(service: CatalogueService) -> ServicePublic:
    return service


@router.get("/services/{code}/estimate", response_model=ShareEstimate)
async def estimate(
    ctx: MemberOrNetwork,
    service: CatalogueService,
    quantity: Annotated[int, Query(gt=0, le=1_000_000, description="Quantité demandée")],
    needed_by: Annotated[
        date | None,
        Query(ge=date(2000, 1, 1), le=date(2100, 12, 31), description="Mois du besoin"),
    ] = None,
    member_id: Annotated[UUID | None, Query(description="Pour l'équipe : l'entreprise")] = None,
) -> ShareEstimate:
    """What a member would pay if it joined the current pool now with `quantity` (split as
    the pool would), against buying the same alone — and whether it may join now."""
    return await pl.estimate(ctx, service, quantity, needed_by, member_id)


@router.post("/services/{code}/withdraw", response_model=ServicePublic)
async def withdraw_service(
    ctx: Annotated[Ctx, Depends(acting(pl.withdraw_service))], service: CatalogueService
) -> ServicePublic:
    """Take a service out of the catalogue: pools under way go on, no new request is taken."""
    return await pl.withdraw_service(ctx, service)


@router.post(
    "/services/{code}/requests",
    status_code=status.HTTP_201_CREATED,
    response_model=ServiceRequestPublic,
)
async def request_service(
    ctx: Annotated[Ctx, Depends(acting(pl.request_service))],
    service: CatalogueService,
    data: ServiceRequestCreate,
) -> ServiceRequestPublic:
    """A member requests a pooled service. `request_id` is the idempotency key: the same
    request sent again answers with the same request, recorded once."""
    return await pl.request_service(ctx, service, data)


@router.get("/service-requests", response_model=Page[ServiceRequestPublic])
async def list_requests(
    ctx: MemberOrNetwork,
    pool_id: str | None = None,
    status_: Annotated[RequestStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[ServiceRequestPublic]:
    return await pl.list_requests(ctx, pool_id, status_, limit, offset)


@router.get("/service-requests/{request_id}", response_model=ServiceRequestPublic)
async def get_request(request: VisibleServiceRequest) -> ServiceRequestPublic:
    return request


@router.post("/service-requests/{request_id}/quote", response_model=ServiceRequestPublic)
async def answer_quote(
    ctx: Annotated[Ctx, Depends(acting(pl.answer_quote))],
    request: VisibleServiceRequest,
    data: QuoteAnswerCreate,
) -> ServiceRequestPublic:
    """Accept or decline the quote (`accept`), within the acceptance window."""
    return await pl.answer_quote(ctx, request, data)


@router.post("/service-requests/{request_id}/withdraw", response_model=ServiceRequestPublic)
async def withdraw_request(
    ctx: Annotated[Ctx, Depends(acting(pl.withdraw_request))],
    request: VisibleServiceRequest,
    data: WithdrawCreate,
) -> ServiceRequestPublic:
    """Withdraw before accepting the quote."""
    return await pl.withdraw_request(ctx, request, data)


@router.post("/service-requests/{request_id}/rating", response_model=ServiceRequestPublic)
async def rate_service(
    ctx: Annotated[Ctx, Depends(acting(pl.rate))],
    request: VisibleServiceRequest,
    data: RatingCreate,
) -> ServiceRequestPublic:
    return await pl.rate(ctx, request, data)


@router.get("/pools", response_model=Page[PoolPublic])
async def list_pools(
    ctx: Context,
    status_: Annotated[PoolStatus | None, Query(alias="status")] = None,
    service: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[PoolPublic]:
    """Every pool (network roles) or the pools of a provider's services (its partners)."""
    return await pl.list_pools(ctx, status_, service, limit, offset)


@router.get("/pools/{pool_id}", response_model=PoolDetail)
async def get_pool(ctx: Context, found: VisiblePool) -> PoolDetail:
    """A pool with its live state (a workflow query, while it runs) and its invoice lines."""
    return await pl.pool_detail(ctx, found)


# The provider's acts are checked on the pool first (404 for a pool one may not see), then
# on the role: a pool's own partners may answer, as may the network's operators.
@router.post("/pools/{pool_id}/order", response_model=PoolPublic)
async def answer_order(ctx: Context, found: VisiblePool, data: ProviderAnswerCreate) -> PoolPublic:
    """The provider (or staff for it) confirms the order, with its reference, or refuses it."""
    return await pl.answer_order(ctx, found, data)


@router.post("/pools/{pool_id}/delivery", response_model=PoolPublic)
async def report_delivery(ctx: Context, found: VisiblePool, data: DeliveryCreate) -> PoolPublic:
    """The provider (or staff for it) reports the delivery done, or cancelled (with why)."""
    return await pl.report_delivery(ctx, found, data)
