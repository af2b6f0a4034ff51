"""Pooled-service acts: staff keep the catalogue; a member (or staff for it) requests a
service, answers its quote, withdraws, rates; the provider (or staff for it) answers the
order and reports the delivery. A member sees its own requests, the network every pool, a
provider's users the pools of its services."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal
from uuid import UUID

import structlog
from pydantic import BaseModel
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.commands.base import OPERATORS, Ctx, acting_for, command, refusal, send_update
from domain.auth import Role
from domain.common import Page
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.organisations import OrganisationKind
from domain.pool_decisions import ShareEstimate, estimate_share, joining_refusal, newcomer
from domain.pooling import (
    IN_POOL,
    DeliveryCreate,
    Demand,
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
    SplitRule,
    WithdrawCreate,
    in_next_month,
    ineligibility,
    pool_for,
    rule_met,
    split_weights,
)
from store.organisations import OrganisationRepository
from store.pooling import PoolingRepository
from workflows.pooling import ServicePoolWorkflow, join_pool

log = structlog.get_logger(__name__)

REQUEST_NS = uuid.UUID("0f7f2b8e-4f0c-4b0a-9a55-6c1c3e5b2d21")
MEMBER_SIDE = (*OPERATORS, Role.MEMBER)
PROVIDER_SIDE = (*OPERATORS, Role.PARTNER)


def request_id_for(member_id: UUID, request_id: str) -> UUID:
    """A member's request id names one request, whoever sends it again."""
    return uuid.uuid5(REQUEST_NS, f"{member_id}:{request_id}")


class PoolDetail(PoolPublic):
    live: PoolState | None
    invoice_lines: list[InvoiceLine]


class QuoteBreakdown(BaseModel):
    """How a member's quote is made: the provider's price for the whole pool, the split
    rule, the member's weight in it (its quantity, its headcount, or one share each) against
    the pool's, its share, and the same bought alone. Figures of the pool, never another
    member's name."""

    total_cents: int | None
    split_rule: SplitRule
    participants: int
    min_participants: int
    weight: int  # the member's: its quantity, headcount (at least 1), or 1 for an equal split
    pool_weight: int  # the sum over the members still in the pool or past it to the order
    share_cents: int | None
    alone_cents: int
    answer_by: datetime | None = None  # when the member must answer its quote


# --- what a caller may see ---------------------------------------------------------------


async def catalogue_service(ctx: Ctx, code: str) -> ServicePublic:
    service = await PoolingRepository(ctx.conn).service(code)
    if service is None:
        raise NotFound.of("Service")
    return service


async def list_services(ctx: Ctx, include_withdrawn: bool) -> list[ServicePublic]:
    """The catalogue; withdrawn services too for the network, when asked."""
    return await PoolingRepository(ctx.conn).services(
        active_only=not (include_withdrawn and ctx.principal.sees_everything)
    )


async def visible_request(ctx: Ctx, request_id: UUID) -> ServiceRequestPublic:
    r = await PoolingRepository(ctx.conn).request(request_id)
    if r is None or not ctx.principal.may_see(r.member_id):
        raise NotFound.of("Demande")
    return r


async def list_requests(
    ctx: Ctx, pool_id: str | None, status: RequestStatus | None, limit: int, offset: int
) -> Page[ServiceRequestPublic]:
    return await PoolingRepository(ctx.conn).requests(
        member_id=ctx.principal.scope, pool_id=pool_id, status=status, limit=limit, offset=offset
    )


async def visible_pool(ctx: Ctx, pool_id: str) -> PoolPublic:
    """The network sees every pool; a provider's partners the pools of its services."""
    repo = PoolingRepository(ctx.conn)
    found = await repo.pool(pool_id)
    service = await repo.service(found.service_code) if found else None
    if found is None or service is None:
        raise NotFound.of("Regroupement")
    p = ctx.principal
    if not (
        p.sees_everything or (p.role == Role.PARTNER and service.provider_id == p.organisation_id)
    ):
        raise NotFound.of("Regroupement")
    return found


async def list_pools(
    ctx: Ctx, status: PoolStatus | None, service: str | None, limit: int, offset: int
) -> Page[PoolPublic]:
    p = ctx.principal
    if not p.sees_everything and p.role != Role.PARTNER:
        raise Forbidden(
            "Les regroupements sont suivis par le réseau ; chaque entreprise suit ses demandes "
            "(/api/service-requests)."
        )
    return await PoolingRepository(ctx.conn).pools(
        status=status, service_code=service, provider_id=p.scope, limit=limit, offset=offset
    )


async def pool_detail(ctx: Ctx, found: PoolPublic) -> PoolDetail:
    """A pool with its live state (a workflow query, while it runs) and its invoice lines."""
    live = None
    try:
        live = await ctx.client.get_workflow_handle_for(ServicePoolWorkflow.run, found.id).query(
            ServicePoolWorkflow.state
        )
    except (RPCError, WorkflowQueryFailedError) as err:
        # The stored state answers alone when the live one cannot be had (no worker).
        log.warning("pool query failed", pool_id=found.id, error=str(err))
    lines = await PoolingRepository(ctx.conn).invoice_lines(found.id)
    return PoolDetail(**found.model_dump(), live=live, invoice_lines=lines)


# What a pool counts among its members: those still in it, or past it to the order.
COUNTED = (*IN_POOL, RequestStatus.COMMITTED, RequestStatus.INVOICED)


async def pool_requests(ctx: Ctx, found: PoolPublic) -> list[ServiceRequestPublic]:
    """The requests of a pool the caller may see (`visible_pool`): its members, their
    quantities and shares, for the network's pool page and the provider's order."""
    got = await PoolingRepository(ctx.conn).requests(
        member_id=None, pool_id=found.id, status=None, limit=500, offset=0
    )
    return sorted(got.items, key=lambda r: (r.created_at, str(r.id)))


def _demand(r: ServiceRequestPublic) -> Demand:
    return Demand(member_id=str(r.id), quantity=r.quantity, headcount=r.headcount or 0)


async def quote_breakdown(ctx: Ctx, r: ServiceRequestPublic) -> QuoteBreakdown:
    """How the quote of `r` (a request the caller may see) is made, in the pool's figures."""
    repo = PoolingRepository(ctx.conn)
    found, service = await repo.pool(r.pool_id), await repo.service(r.service_code)
    if found is None or service is None:
        raise NotFound.of("Regroupement")
    rows = await repo.requests(member_id=None, pool_id=r.pool_id, status=None, limit=500, offset=0)
    counted = [x for x in rows.items if x.status in COUNTED]
    answer_by = None
    if r.status == RequestStatus.QUOTED:
        try:
            live = await ctx.client.get_workflow_handle_for(
                ServicePoolWorkflow.run, r.pool_id
            ).query(ServicePoolWorkflow.state)
            mine = live.participant(r.id)
            answer_by = (mine.answer_by if mine else None) or live.quote_deadline
        except (RPCError, WorkflowQueryFailedError) as err:
            log.warning("pool query failed", pool_id=r.pool_id, error=str(err))
    return QuoteBreakdown(
        total_cents=found.total_cents,
        split_rule=service.split_rule,
        participants=len(counted),
        min_participants=service.pooling.min_participants,
        # The split's own weights (domain.pooling.split_weights), from the stored rows.
        weight=split_weights(service.split_rule, [_demand(r)])[str(r.id)],
        pool_weight=sum(split_weights(service.split_rule, [_demand(x) for x in counted]).values()),
        share_cents=r.invoiced_cents if r.invoiced_cents is not None else r.quote_cents,
        alone_cents=service.cost.total(r.quantity),
        answer_by=answer_by,
    )


async def invoice_of(ctx: Ctx, r: ServiceRequestPublic) -> list[InvoiceLine]:
    """The invoice lines of a request the caller may see (empty before the delivery)."""
    return await PoolingRepository(ctx.conn).invoice_lines(r.pool_id, r.member_id)


# --- catalogue ---------------------------------------------------------------------------


@command(*OPERATORS)
async def create_service(ctx: Ctx, data: ServiceCreate) -> ServicePublic:
    """Add a service to the catalogue."""
    async with ctx.conn.transaction():
        provider = await OrganisationRepository(ctx.conn).get(data.provider_id)
        if provider is None or provider.kind != OrganisationKind.PROVIDER:
            raise Invalid("provider_id", "ce n'est pas un prestataire de l'annuaire")
        repo = PoolingRepository(ctx.conn)
        if await repo.service(data.code) is not None:
            raise Conflict(f"Le code « {data.code} » existe déjà.")
        return await repo.create_service(ctx.principal.organisation_id, data)


@command(*OPERATORS)
async def withdraw_service(ctx: Ctx, service: ServicePublic) -> ServicePublic:
    """Take a service out of the catalogue: pools under way go on, no new request is taken."""
    await PoolingRepository(ctx.conn).set_service_active(service.code, False)
    return await catalogue_service(ctx, service.code)


# --- a member's requests -----------------------------------------------------------------


async def _answered(ctx: Ctx, request_id: UUID) -> ServiceRequestPublic | None:
    """The answer already given to this request (its idempotency key), if recorded."""
    known = await PoolingRepository(ctx.conn).request(request_id)
    if known is not None and known.status == RequestStatus.REFUSED:
        raise Forbidden(f"Demande impossible : {known.reason}.")
    return known


@command(*MEMBER_SIDE)
async def request_service(
    ctx: Ctx, service: ServicePublic, data: ServiceRequestCreate
) -> ServiceRequestPublic:
    """A member requests a pooled service (staff name the member). `request_id` is the
    idempotency key: the same request sent again answers with the same request, recorded
    once."""
    member_id = acting_for(
        ctx.principal,
        data.member_id,
        own="Une entreprise ne fait de demande que pour elle-même.",
        name_it="indiquez l'entreprise pour qui vous faites la demande",
    )
    return await place_request(ctx, service, member_id, data)


async def place_request(
    ctx: Ctx, service: ServicePublic, member_id: UUID, data: ServiceRequestCreate
) -> ServiceRequestPublic:
    """A request for `member_id` joins the pool of its service and month (the checks of
    the catalogue, the window and eligibility first). Also made from an adviser's action
    project."""
    request_id = request_id_for(member_id, data.request_id)
    if known := await _answered(ctx, request_id):
        return known
    if not service.active:
        raise Conflict(f"« {service.name} » n'est plus proposé.")
    if data.quantity > service.max_quantity:
        raise Invalid("quantity", f"au plus {service.max_quantity} par demande")
    target = pool_for(service, data.needed_by)
    now = datetime.now(UTC)
    if now < target.opens_at:
        raise Invalid(
            "needed_by",
            f"la mutualisation pour {target.period} ouvre le {target.opens_at:%d/%m/%Y} "
            f"(fenêtre de {service.window_days} jours avant le début du mois)",
        )
    if now >= target.closes_at:
        raise Invalid(
            "needed_by",
            f"la fenêtre de mutualisation pour {target.period} est close depuis le "
            f"{target.closes_at:%d/%m/%Y} : choisissez un mois suivant",
        )
    org = await PoolingRepository(ctx.conn).eligible(member_id)
    if org is None:
        raise Invalid("member_id", "entreprise inconnue")
    if why := ineligibility(service, org):
        raise Forbidden(f"Demande impossible : {why}.")
    try:
        result = await join_pool(
            ctx.client,
            ctx.task_queue,
            target,
            JoinRequest(
                request_id=request_id,
                idempotency_key=data.request_id,
                member_id=member_id,
                quantity=data.quantity,
                needed_by=data.needed_by,
                note=data.note,
                created_by=ctx.principal.user_id,
            ),
        )
    except WorkflowUpdateFailedError as err:
        if known := await _answered(ctx, request_id):  # its own retry won the race
            return known
        raise Conflict(f"Demande impossible : {refusal(err)}.") from None
    except WorkflowAlreadyStartedError:
        raise Conflict(
            f"Le regroupement « {service.name} » pour {target.period} est terminé."
        ) from None
    if result.refusal:
        raise Forbidden(f"Demande impossible : {result.refusal}.")
    made = await PoolingRepository(ctx.conn).request(request_id)
    if made is None:  # the workflow records a request before it answers
        raise RuntimeError(f"request {request_id} answered but not recorded")
    return made


async def _pool_update(ctx: Ctx, pool_id: str, update: Any, arg: Any) -> Any:
    return await send_update(
        ctx.client.get_workflow_handle_for(ServicePoolWorkflow.run, pool_id),
        update,
        arg,
        closed="Ce regroupement est clos.",
        refused="Action refusée : {}.",
    )


MemberKind = Literal["accept", "decline", "withdraw", "rate"]
ProviderKind = Literal["confirm", "refuse", "delivered", "cancel_delivery"]


async def _member_act(
    ctx: Ctx, r: ServiceRequestPublic, kind: MemberKind, **fields: Any
) -> ServiceRequestPublic:
    p = ctx.principal
    await _pool_update(
        ctx,
        r.pool_id,
        ServicePoolWorkflow.act,
        MemberAction(
            kind=kind,
            request_id=r.id,
            organisation_id=p.organisation_id,
            role=p.role,
            **fields,
        ),
    )
    return await visible_request(ctx, r.id)


@command(*MEMBER_SIDE)
async def answer_quote(
    ctx: Ctx, r: ServiceRequestPublic, data: QuoteAnswerCreate
) -> ServiceRequestPublic:
    """Accept or decline the quote (`accept`), within the acceptance window."""
    kind: MemberKind = "accept" if data.accept else "decline"
    return await _member_act(ctx, r, kind, reason=data.reason, quote_cents=data.quote_cents)


@command(*MEMBER_SIDE)
async def withdraw_request(
    ctx: Ctx, r: ServiceRequestPublic, data: WithdrawCreate
) -> ServiceRequestPublic:
    """Withdraw before accepting the quote."""
    return await _member_act(ctx, r, "withdraw", reason=data.reason)


@command(*MEMBER_SIDE)
async def rate(ctx: Ctx, r: ServiceRequestPublic, data: RatingCreate) -> ServiceRequestPublic:
    """Rate the service once delivered."""
    return await _member_act(ctx, r, "rate", stars=data.stars, comment=data.comment)


# --- the provider's side -----------------------------------------------------------------


async def _provider_act(
    ctx: Ctx, found: PoolPublic, kind: ProviderKind, reason: str | None, reference: str | None
) -> PoolPublic:
    p = ctx.principal
    await _pool_update(
        ctx,
        found.id,
        ServicePoolWorkflow.provider,
        ProviderAction(
            kind=kind,
            organisation_id=p.organisation_id,
            role=p.role,
            reason=reason,
            reference=reference,
        ),
    )
    return await visible_pool(ctx, found.id)


@command(*PROVIDER_SIDE)
async def answer_order(ctx: Ctx, found: PoolPublic, data: ProviderAnswerCreate) -> PoolPublic:
    """The provider (or staff for it) confirms the order, with its reference, or refuses it."""
    kind: ProviderKind = "confirm" if data.confirmed else "refuse"
    return await _provider_act(ctx, found, kind, data.reason, data.reference)


@command(*PROVIDER_SIDE)
async def report_delivery(ctx: Ctx, found: PoolPublic, data: DeliveryCreate) -> PoolPublic:
    """The provider (or staff for it) reports the delivery done, or cancelled (with why)."""
    kind: ProviderKind = "delivered" if data.delivered else "cancel_delivery"
    return await _provider_act(ctx, found, kind, data.reason, None)


# --- what a member would pay now ---------------------------------------------------------


async def estimate(
    ctx: Ctx,
    service: ServicePublic,
    quantity: int,
    needed_by: date | None,
    member_id: UUID | None,
) -> ShareEstimate:
    """What the member (a member itself; staff name it) would pay if it joined the pool of
    `needed_by`'s month (next month by default) now with `quantity`: its share, split as the
    pool would split it among those still in (what they joined with, what they accepted),
    against the same bought alone; and whether it may join now, or why not."""
    return (await estimates(ctx, [(service, quantity)], needed_by, member_id))[0]


async def estimates(
    ctx: Ctx,
    asks: list[tuple[ServicePublic, int]],
    needed_by: date | None,
    member_id: UUID | None,
) -> list[ShareEstimate]:
    """`estimate` for several services at once (the catalogue's cards), in three reads
    whatever their number: the member, the pools, their members."""
    member = acting_for(
        ctx.principal,
        member_id,
        own="Une entreprise ne consulte que ce qu'elle paierait elle-même.",
        name_it="indiquez l'entreprise pour qui estimer (member_id)",
    )
    for service, quantity in asks:
        if quantity > service.max_quantity:
            raise Invalid("quantity", f"au plus {service.max_quantity} par demande")
    now = datetime.now(UTC)
    targets = [pool_for(service, needed_by or in_next_month(now.date(), 1)) for service, _ in asks]
    repo = PoolingRepository(ctx.conn)
    org = await repo.eligible(member)
    if org is None:
        raise Invalid("member_id", "entreprise inconnue")
    ids = [t.pool_id for t in targets]
    pools = await repo.pools_by_id(ids)
    members = await repo.members_of_pools(ids)
    out = []
    for (service, quantity), target in zip(asks, targets, strict=True):
        found = pools.get(target.pool_id)
        in_pool = members.get(target.pool_id, [])
        others = [p for p in in_pool if p.member_id != member]
        me = newcomer(request_id_for(member, "estimate"), member, quantity, org.headcount or 0)
        rq, alone = estimate_share(service, others, me)
        share = rq.shares[str(me.request_id)]
        joined = [*others, me]
        why = joining_refusal(
            service,
            target,
            found.status if found else None,
            others,
            ineligibility(service, org),
            already=len(others) < len(in_pool),
            now=now,
        )
        out.append(
            ShareEstimate(
                service_code=service.code,
                pool_id=target.pool_id,
                period=target.period,
                opens_at=target.opens_at,
                closes_at=target.closes_at,
                pool_status=found.status if found else None,
                taking_requests=why is None,
                reason=why,
                split_rule=service.split_rule,
                quantity=quantity,
                headcount=me.headcount,
                participants=len(joined),
                rule_met=rule_met(service.pooling, [p.demand() for p in joined]),
                total_cents=rq.total_cents,
                share_cents=share,
                alone_cents=alone,
                savings_cents=alone - share,
                estimated_at=now,
            )
        )
    return out
