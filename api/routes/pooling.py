"""Pooled services: staff keep the catalogue; members request, accept or decline their
quotes, withdraw, rate; the provider confirms the order and the delivery. A member sees only
its own requests; staff see every pool and request; a provider sees its own pools."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, HTTPException, Query, status
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.deps import (
    AppSettings,
    CurrentUser,
    MemberOrNetwork,
    Pool,
    TemporalClient,
    acting_for,
    not_found,
    refusal,
    require,
    send_update,
)
from domain.auth import Principal, Role
from domain.common import Page
from domain.organisations import OrganisationKind
from domain.pooling import (
    DeliveryCreate,
    InvoiceLine,
    JoinRequest,
    MemberAction,
    PoolPublic,
    PoolState,
    PoolStatus,
    ProviderAction,
    ProviderAnswerCreate,
    QuoteAnswerCreate,
    RatingCreate,
    RequestStatus,
    ServiceCreate,
    ServicePublic,
    ServiceRequestCreate,
    ServiceRequestPublic,
    WithdrawCreate,
    ineligibility,
    pool_for,
)
from store.organisations import OrganisationRepository
from store.pooling import PoolingRepository
from workflows.clients import join_pool
from workflows.pooling import ServicePoolWorkflow

router = APIRouter(prefix="/api", tags=["services mutualisés"])
log = structlog.get_logger(__name__)

Staff = Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF))]
Requester = Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.MEMBER))]


def _invalid(field: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, f"Données invalides — {field} : {message}"
    )


async def _service(pool, code: str) -> ServicePublic:
    async with pool.acquire() as c:
        service = await PoolingRepository(c).service(code)
    if service is None:
        raise not_found("Service")
    return service


# --- catalogue ------------------------------------------------------------------------------


@router.get("/services", response_model=list[ServicePublic])
async def list_services(pool: Pool, principal: CurrentUser, all: bool = False):
    """The catalogue; `all=true` (staff) includes withdrawn services."""
    async with pool.acquire() as c:
        return await PoolingRepository(c).services(
            active_only=not (all and principal.sees_everything)
        )


@router.post("/services", status_code=status.HTTP_201_CREATED, response_model=ServicePublic)
async def create_service(data: ServiceCreate, pool: Pool, principal: Staff):
    async with pool.acquire() as c, c.transaction():
        provider = await OrganisationRepository(c).get(data.provider_id)
        if provider is None or provider.kind != OrganisationKind.PROVIDER:
            raise _invalid("provider_id", "ce n'est pas un prestataire de l'annuaire")
        repo = PoolingRepository(c)
        if await repo.service(data.code) is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"Le code « {data.code} » existe déjà.")
        return await repo.create_service(principal.organisation_id, data)


@router.get("/services/{code}", response_model=ServicePublic)
async def get_service(code: str, pool: Pool, principal: CurrentUser):
    return await _service(pool, code)


@router.post("/services/{code}/withdraw", response_model=ServicePublic)
async def withdraw_service(code: str, pool: Pool, principal: Staff):
    """Take a service out of the catalogue: pools under way go on, no new request is taken."""
    await _service(pool, code)
    async with pool.acquire() as c:
        await PoolingRepository(c).set_service_active(code, False)
    return await _service(pool, code)


# --- requests -------------------------------------------------------------------------------

REQUEST_NS = uuid.UUID("0f7f2b8e-4f0c-4b0a-9a55-6c1c3e5b2d21")


@router.post(
    "/services/{code}/requests",
    status_code=status.HTTP_201_CREATED,
    response_model=ServiceRequestPublic,
)
async def request_service(
    code: str,
    data: ServiceRequestCreate,
    pool: Pool,
    client: TemporalClient,
    settings: AppSettings,
    principal: Requester,
):
    """A member requests a pooled service. `request_id` is the idempotency key: the same
    request sent again answers with the same request, recorded once."""
    member_id = acting_for(
        principal,
        data.member_id,
        own="Une entreprise ne fait de demande que pour elle-même.",
        name_it="indiquez l'entreprise pour qui vous faites la demande",
    )
    request_id = uuid.uuid5(REQUEST_NS, f"{member_id}:{data.request_id}")
    if known := await _answered(pool, request_id):
        return known

    service = await _service(pool, code)
    if not service.active:
        raise HTTPException(status.HTTP_409_CONFLICT, f"« {service.name} » n'est plus proposé.")
    if data.quantity > service.max_quantity:
        raise _invalid("quantity", f"au plus {service.max_quantity} par demande")
    target = pool_for(service, data.needed_by)
    now = datetime.now(UTC)
    if now < target.opens_at:
        raise _invalid(
            "needed_by",
            f"la mutualisation pour {target.period} ouvre le {target.opens_at:%d/%m/%Y} "
            f"(fenêtre de {service.window_days} jours avant le début du mois)",
        )
    if now >= target.closes_at:
        raise _invalid(
            "needed_by",
            f"la fenêtre de mutualisation pour {target.period} est close depuis le "
            f"{target.closes_at:%d/%m/%Y} : choisissez un mois suivant",
        )
    async with pool.acquire() as c:
        org = await PoolingRepository(c).eligible(member_id)
    if org is None:
        raise _invalid("member_id", "entreprise inconnue")
    if why := ineligibility(service, org):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Demande impossible : {why}.")
    try:
        result = await join_pool(
            client,
            settings.task_queue,
            target,
            JoinRequest(
                request_id=request_id,
                idempotency_key=data.request_id,
                member_id=member_id,
                quantity=data.quantity,
                needed_by=data.needed_by,
                note=data.note,
                created_by=principal.user_id,
            ),
        )
    except WorkflowUpdateFailedError as err:
        if known := await _answered(pool, request_id):  # its own retry won the race
            return known
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"Demande impossible : {refusal(err)}."
        ) from None
    except WorkflowAlreadyStartedError:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"Le regroupement « {service.name} » pour {target.period} est terminé.",
        ) from None
    if result.refusal:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Demande impossible : {result.refusal}.")
    known = await _request(pool, request_id)
    assert known is not None
    return known


async def _answered(pool, request_id: UUID) -> ServiceRequestPublic | None:
    """The answer already given to this request (its idempotency key), if recorded."""
    known = await _request(pool, request_id)
    if known is not None and known.status == RequestStatus.REFUSED:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Demande impossible : {known.reason}.")
    return known


async def _request(pool, request_id: UUID) -> ServiceRequestPublic | None:
    async with pool.acquire() as c:
        return await PoolingRepository(c).request(request_id)


async def _visible_request(pool, request_id: UUID, p: Principal) -> ServiceRequestPublic:
    r = await _request(pool, request_id)
    if r is None or not (p.sees_everything or r.member_id == p.organisation_id):
        raise not_found("Demande")
    return r


@router.get("/service-requests", response_model=Page[ServiceRequestPublic])
async def list_requests(
    pool: Pool,
    principal: MemberOrNetwork,
    pool_id: str | None = None,
    status_: Annotated[RequestStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    member = principal.scope
    async with pool.acquire() as c:
        return await PoolingRepository(c).requests(
            member_id=member, pool_id=pool_id, status=status_, limit=limit, offset=offset
        )


@router.get("/service-requests/{request_id}", response_model=ServiceRequestPublic)
async def get_request(request_id: UUID, pool: Pool, principal: CurrentUser):
    return await _visible_request(pool, request_id, principal)


async def _update(client, pool_id: str, update: Any, arg: Any) -> Any:
    return await send_update(
        client.get_workflow_handle_for(ServicePoolWorkflow.run, pool_id),
        update,
        arg,
        closed="Ce regroupement est clos.",
        refused="Action refusée : {}.",
    )


async def _member_act(pool, client, request_id: UUID, p: Principal, kind: str, **kw):
    r = await _visible_request(pool, request_id, p)
    await _update(
        client,
        r.pool_id,
        ServicePoolWorkflow.act,
        MemberAction(
            kind=kind, request_id=request_id, organisation_id=p.organisation_id, role=p.role, **kw
        ),
    )
    return await _visible_request(pool, request_id, p)


@router.post("/service-requests/{request_id}/quote", response_model=ServiceRequestPublic)
async def answer_quote(
    request_id: UUID,
    data: QuoteAnswerCreate,
    pool: Pool,
    client: TemporalClient,
    principal: Requester,
):
    """Accept or decline the quote (`accept`), within the acceptance window."""
    kind = "accept" if data.accept else "decline"
    return await _member_act(
        pool, client, request_id, principal, kind, reason=data.reason, quote_cents=data.quote_cents
    )


@router.post("/service-requests/{request_id}/withdraw", response_model=ServiceRequestPublic)
async def withdraw_request(
    request_id: UUID, data: WithdrawCreate, pool: Pool, client: TemporalClient, principal: Requester
):
    """Withdraw before accepting the quote."""
    return await _member_act(pool, client, request_id, principal, "withdraw", reason=data.reason)


@router.post("/service-requests/{request_id}/rating", response_model=ServiceRequestPublic)
async def rate_service(
    request_id: UUID, data: RatingCreate, pool: Pool, client: TemporalClient, principal: Requester
):
    return await _member_act(
        pool, client, request_id, principal, "rate", stars=data.stars, comment=data.comment
    )


# --- pools ----------------------------------------------------------------------------------


class PoolDetail(PoolPublic):
    live: PoolState | None
    invoice_lines: list[InvoiceLine]


async def _pool(pool, pool_id: str, p: Principal) -> tuple[PoolPublic, ServicePublic]:
    async with pool.acquire() as c:
        repo = PoolingRepository(c)
        found = await repo.pool(pool_id)
        service = await repo.service(found.service_code) if found else None
    if found is None or service is None:
        raise not_found("Regroupement")
    if not (
        p.sees_everything or (p.role == Role.PARTNER and service.provider_id == p.organisation_id)
    ):
        raise not_found("Regroupement")
    return found, service


@router.get("/pools", response_model=Page[PoolPublic])
async def list_pools(
    pool: Pool,
    principal: CurrentUser,
    status_: Annotated[PoolStatus | None, Query(alias="status")] = None,
    service: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    """Every pool (network roles) or the pools of a provider's services (its partners)."""
    if not principal.sees_everything and principal.role != Role.PARTNER:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Les regroupements sont suivis par le réseau ; chaque entreprise suit ses demandes "
            "(/api/service-requests).",
        )
    provider = principal.scope
    async with pool.acquire() as c:
        return await PoolingRepository(c).pools(
            status=status_, service_code=service, provider_id=provider, limit=limit, offset=offset
        )


@router.get("/pools/{pool_id}", response_model=PoolDetail)
async def get_pool(pool_id: str, pool: Pool, client: TemporalClient, principal: CurrentUser):
    """A pool with its live state (a workflow query, while it runs) and its invoice lines."""
    found, _ = await _pool(pool, pool_id, principal)
    live = None
    try:
        live = await client.get_workflow_handle_for(ServicePoolWorkflow.run, pool_id).query(
            ServicePoolWorkflow.state
        )
    except (RPCError, WorkflowQueryFailedError) as err:
        # The stored state answers alone when the live one cannot be had (no worker).
        log.warning("pool query failed", pool_id=pool_id, error=str(err))
    async with pool.acquire() as c:
        lines = await PoolingRepository(c).invoice_lines(pool_id)
    return PoolDetail(**found.model_dump(), live=live, invoice_lines=lines)


@router.post("/pools/{pool_id}/order", response_model=PoolPublic)
async def answer_order(
    pool_id: str,
    data: ProviderAnswerCreate,
    pool: Pool,
    client: TemporalClient,
    principal: CurrentUser,
):
    """The provider (or staff for it) confirms the order, with its reference, or refuses it."""
    await _pool(pool, pool_id, principal)
    kind = "confirm" if data.confirmed else "refuse"
    await _provider(client, pool_id, principal, kind, data.reason, data.reference)
    return (await _pool(pool, pool_id, principal))[0]


@router.post("/pools/{pool_id}/delivery", response_model=PoolPublic)
async def report_delivery(
    pool_id: str, data: DeliveryCreate, pool: Pool, client: TemporalClient, principal: CurrentUser
):
    """The provider (or staff for it) reports the delivery done, or cancelled (with why)."""
    await _pool(pool, pool_id, principal)
    kind = "delivered" if data.delivered else "cancel_delivery"
    await _provider(client, pool_id, principal, kind, data.reason, None)
    return (await _pool(pool, pool_id, principal))[0]


async def _provider(client, pool_id: str, p: Principal, kind: str, reason, reference) -> None:
    if p.role not in (Role.ADMIN, Role.STAFF, Role.PARTNER):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Réservé au prestataire et à l'équipe du réseau."
        )
    await _update(
        client,
        pool_id,
        ServicePoolWorkflow.provider,
        ProviderAction(
            kind=kind,
            organisation_id=p.organisation_id,
            role=p.role,
            reason=reason,
            reference=reference,
        ),
    )
