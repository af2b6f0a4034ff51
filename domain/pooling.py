"""Pooled services: the pure rules under the shared-service request process (issue 4).

A pool gathers members' requests for one catalogue service and period; once its rule is
met, the provider's price is split among the members in exact cents.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.common import REQUEST_ID_PATTERN, BoundedDate, FreeText
from domain.processes import OutboxMessage, StatusProjection, TaskClose, TaskOpen

K = TypeVar("K", bound=Hashable)


class ServiceUnit(StrEnum):
    DAY = "day"
    MONTH = "month"
    SEAT = "seat"
    HOUR = "hour"
    ITEM = "item"


class SplitRule(StrEnum):
    EQUAL = "equal"
    PRO_RATA_QUANTITY = "pro_rata_quantity"
    HEADCOUNT_WEIGHTED = "headcount_weighted"


class PoolingRule(BaseModel):
    """When a pool may go ahead: enough members and/or enough total quantity."""

    min_participants: int = Field(default=1, ge=1)
    min_quantity: int = Field(default=0, ge=0)


class ServiceCost(BaseModel):
    fixed_cents: int = Field(ge=0)
    per_unit_cents: int = Field(ge=0)

    def total(self, quantity: int) -> int:
        return self.fixed_cents + self.per_unit_cents * quantity


class Demand(BaseModel):
    """One member's request as the split needs it."""

    member_id: str
    quantity: int = Field(gt=0)
    headcount: int = Field(ge=0)


def rule_met(rule: PoolingRule, demands: list[Demand]) -> bool:
    return (
        len(demands) >= rule.min_participants
        and sum(d.quantity for d in demands) >= rule.min_quantity
    )


def largest_remainder(
    total_cents: int, weights: Mapping[K, int], caps: Mapping[K, int] | None = None
) -> dict[K, int]:
    """Split `total_cents` in proportion to `weights`, in whole cents that sum exactly to the
    total (Hamilton's method): each gets the floor of its exact share, and the cents left go
    to the largest remainders, ties broken by the order of `weights`. All-zero weights split
    equally. With `caps` (what some have agreed to pay), a cent left goes first to those it
    keeps at or under their cap: rounding alone never lifts a share above an accepted amount
    while someone else can take the cent."""
    if total_cents < 0:
        raise ValueError("total_cents must be >= 0")
    if not weights:
        if total_cents:
            raise ValueError("nobody to split a non-zero total among")
        return {}
    if any(w < 0 for w in weights.values()):
        raise ValueError("weights must be >= 0")
    keys = list(weights)
    ws = [weights[k] for k in keys]
    if sum(ws) == 0:
        ws = [1] * len(keys)
    whole = sum(ws)
    exact = [Fraction(total_cents * w, whole) for w in ws]
    shares = [int(e) for e in exact]  # floor: exact shares are >= 0
    left = total_cents - sum(shares)
    limit = caps or {}

    def over_cap(i: int) -> bool:
        return keys[i] in limit and shares[i] + 1 > limit[keys[i]]

    order = sorted(range(len(keys)), key=lambda i: (over_cap(i), -(exact[i] - shares[i]), i))
    for i in order[:left]:
        shares[i] += 1
    return dict(zip(keys, shares, strict=True))


def split_weights(rule: SplitRule, demands: list[Demand]) -> dict[str, int]:
    if rule == SplitRule.EQUAL:
        return {d.member_id: 1 for d in demands}
    if rule == SplitRule.PRO_RATA_QUANTITY:
        return {d.member_id: d.quantity for d in demands}
    # Weighted by headcount: a company of 0 employees (a sole trader) counts as 1.
    return {d.member_id: max(d.headcount, 1) for d in demands}


def quote_shares(
    cost: ServiceCost,
    rule: SplitRule,
    demands: list[Demand],
    caps: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Each member's share in cents of the provider's price for the pooled quantity (`caps`:
    see `largest_remainder`)."""
    total = cost.total(sum(d.quantity for d in demands))
    return largest_remainder(total, split_weights(rule, demands), caps)


# --- catalogue ------------------------------------------------------------------------------

ServiceCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")]
RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]
NafPrefix = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{2}(\.[0-9]{1,2}[A-Z]?)?$")
]

# The most members a pool takes, whatever its catalogue entry says: its history stays far
# below Temporal's limits (workflows.pooling).
POOL_CAPACITY = 300

UNIT_LABELS = {
    ServiceUnit.DAY: "jour",
    ServiceUnit.MONTH: "mois",
    ServiceUnit.SEAT: "place",
    ServiceUnit.HOUR: "heure",
    ServiceUnit.ITEM: "unité",
}


class ServiceCreate(BaseModel):
    """A catalogue entry kept by the network's staff."""

    model_config = ConfigDict(extra="forbid")

    code: ServiceCode = Field(description="Identifiant court, ex. comptable-partage")
    name: Annotated[str, FreeText(2, 200, one_line=True)]
    description: Annotated[str, FreeText(0, 2000)] = ""
    unit: ServiceUnit
    pooling: PoolingRule
    window_days: int = Field(
        ge=1,
        le=365,
        description="Fenêtre de mutualisation : les demandes pour un mois sont reçues pendant "
        "les N jours qui précèdent son début.",
    )
    cost: ServiceCost
    split_rule: SplitRule
    acceptance_days: int = Field(ge=1, le=60, description="Délai pour accepter un devis")
    provider_id: UUID
    territories: list[Annotated[str, FreeText(1, 100, one_line=True)]] = Field(
        default_factory=list, description="Territoires éligibles (vide : tous)"
    )
    sectors: list[NafPrefix] = Field(
        default_factory=list, description="Préfixes NAF éligibles, ex. 10 ou 47.11 (vide : tous)"
    )
    max_quantity: int = Field(default=10_000, ge=1, le=1_000_000)
    max_participants: int | None = Field(
        default=None,
        ge=1,
        le=POOL_CAPACITY,
        description="Au plus N entreprises par regroupement (vide : pas de maximum). Le minimum "
        "n'est pas un plafond : les entreprises peuvent rejoindre jusqu'à la commande.",
    )

    @model_validator(mode="after")
    def _max_above_min(self) -> ServiceCreate:
        if self.max_participants is not None and self.max_participants < (
            self.pooling.min_participants
        ):
            raise ValueError(
                "le maximum de participants (max_participants) ne peut être inférieur au "
                "minimum (pooling.min_participants)"
            )
        return self


class ServicePublic(ServiceCreate):
    model_config = ConfigDict(extra="ignore")

    id: UUID
    network_id: UUID
    provider_name: str
    active: bool
    created_at: datetime


class Eligible(BaseModel):
    """What eligibility looks at in a requesting organisation."""

    kind: str
    status: str
    territory: str | None
    naf: str | None
    headcount: int | None


def ineligibility(service: ServicePublic, org: Eligible) -> str | None:
    """Why `org` may not request `service`, in words for the member; None if it may."""
    if org.kind != "member":
        return "seules les entreprises adhérentes demandent des services mutualisés"
    if org.status != "active":
        return "l'adhésion de l'entreprise n'est pas (encore) active"
    if service.territories and (org.territory or "").casefold() not in {
        t.casefold() for t in service.territories
    }:
        return f"« {service.name} » est réservé aux territoires : {', '.join(service.territories)}"
    if service.sectors and not any(
        (org.naf or "").replace(".", "").startswith(s.replace(".", "")) for s in service.sectors
    ):
        return f"« {service.name} » est réservé aux secteurs NAF : {', '.join(service.sectors)}"
    return None


# --- pools and requests -----------------------------------------------------------------------


def period_of(needed_by: date) -> str:
    """The pooling period of a need: its month."""
    return f"{needed_by.year:04d}-{needed_by.month:02d}"


def pooling_window(window_days: int, period: str) -> tuple[datetime, datetime]:
    """When requests for `period` are taken: the `window_days` before the month starts."""
    year, month = (int(x) for x in period.split("-"))
    closes = datetime(year, month, 1, tzinfo=UTC)
    return closes - timedelta(days=window_days), closes


def in_next_month(today: date, day: int) -> date:
    """`day` of the month after `today`'s: a need whose pooling window is open today for any
    window of a month or more."""
    return (today.replace(day=1) + timedelta(days=32)).replace(day=day)


def pool_workflow_id(code: str, period: str) -> str:
    return f"pool-{code}-{period}"


class ServiceRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: RequestId = Field(description="Clé d'idempotence choisie par l'appelant")
    quantity: int = Field(gt=0, le=1_000_000, description="Quantité, dans l'unité du service")
    needed_by: BoundedDate = Field(description="Date à laquelle le service est nécessaire")
    note: Annotated[str, FreeText(0, 1000)] = ""
    member_id: UUID | None = Field(
        default=None, description="Pour l'équipe du réseau : l'entreprise pour qui demander"
    )


class PoolStatus(StrEnum):
    GATHERING = "gathering"  # requests are taken until the rule is met or the window closes
    QUOTING = "quoting"  # members accept or decline their quotes
    ORDERED = "ordered"  # the provider confirms (or refuses) the order
    CONFIRMED = "confirmed"  # awaiting delivery
    RATING = "rating"  # delivered and invoiced; members rate the service
    COMPLETED = "completed"
    FAILED = "failed"


TERMINAL_POOL = (PoolStatus.COMPLETED, PoolStatus.FAILED)


class RequestStatus(StrEnum):
    JOINED = "joined"
    QUOTED = "quoted"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"  # did not answer its quote in time
    COMMITTED = "committed"  # the order is placed
    RELEASED = "released"  # the pool failed or was compensated: nothing billed
    INVOICED = "invoiced"
    REFUSED = "refused"  # not eligible


IN_POOL = (RequestStatus.JOINED, RequestStatus.QUOTED, RequestStatus.ACCEPTED)


class PoolInput(BaseModel):
    pool_id: str
    service: ServicePublic
    period: str
    opens_at: datetime
    closes_at: datetime
    status_seq: int = 0


def pool_for(service: ServicePublic, needed_by: date) -> PoolInput:
    """The pool a need for `service` by `needed_by` belongs to."""
    period = period_of(needed_by)
    opens, closes = pooling_window(service.window_days, period)
    return PoolInput(
        pool_id=pool_workflow_id(service.code, period),
        service=service,
        period=period,
        opens_at=opens,
        closes_at=closes,
    )


class JoinRequest(BaseModel):
    """A member's request, as the pool's `join` update carries it (sent with the start)."""

    request_id: UUID
    idempotency_key: str
    member_id: UUID
    quantity: int = Field(gt=0)
    needed_by: BoundedDate
    note: str = ""
    created_by: UUID


class RecordRequest(BaseModel):
    pool: PoolInput
    join: JoinRequest


class RequestRecord(BaseModel):
    """What the store answers when it records a request."""

    request_id: UUID
    member_id: UUID
    member_name: str
    headcount: int
    refusal: str | None = None


class Participant(BaseModel):
    request_id: UUID
    member_id: UUID
    member_name: str
    quantity: int
    headcount: int
    status: RequestStatus
    quote_cents: int | None = None
    accepted_cents: int | None = None  # the most the member agreed to pay
    invoiced_cents: int | None = None
    rating: int | None = None
    rating_comment: str | None = None
    reason: str | None = None
    # Pools that take members until the order (domain.pool_decisions): when this quote must
    # be answered, and the quote round whose task asks it.
    answer_by: datetime | None = None
    asked_round: int | None = None

    def demand(self) -> Demand:
        return Demand(
            member_id=str(self.request_id), quantity=self.quantity, headcount=self.headcount
        )


class PoolState(BaseModel):
    pool_id: str
    service_code: str
    service_name: str
    period: str
    status: PoolStatus
    closes_at: datetime
    participants: list[Participant] = Field(default_factory=list)
    quote_round: int = 0
    quote_deadline: datetime | None = None
    total_cents: int | None = None
    order_reference: str | None = None
    reason: str | None = None
    compensated: bool = False

    def active(self) -> list[Participant]:
        return [p for p in self.participants if p.status in IN_POOL]

    def participant(self, request_id: UUID) -> Participant | None:
        return next((p for p in self.participants if p.request_id == request_id), None)


class JoinResult(BaseModel):
    request_id: UUID
    pool_id: str
    status: RequestStatus
    refusal: str | None = None
    pool_status: PoolStatus
    participants: int


class MemberAction(BaseModel):
    """A member's (or staff's, for it) answer on a request: accept or decline its quote,
    withdraw, or rate the delivered service."""

    kind: Literal["accept", "decline", "withdraw", "rate"]
    request_id: UUID
    organisation_id: UUID
    role: str
    reason: str | None = None
    quote_cents: int | None = None  # the quote accepted: refused if it changed meanwhile
    stars: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = None


class ProviderAction(BaseModel):
    """The provider's (or staff's, for it) answer on the order: confirm or refuse it, then
    report the delivery done or cancelled."""

    kind: Literal["confirm", "refuse", "delivered", "cancel_delivery"]
    organisation_id: UUID
    role: str
    reason: str | None = None
    reference: str | None = None


class QuoteAnswerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept: bool
    quote_cents: int | None = Field(
        default=None, ge=0, description="Le montant du devis accepté (obligatoire pour accepter)"
    )
    reason: Annotated[str, FreeText(0, 500)] | None = None

    @model_validator(mode="after")
    def _amount_when_accepting(self) -> QuoteAnswerCreate:
        if self.accept and self.quote_cents is None:
            raise ValueError("pour accepter, indiquez le montant du devis (quote_cents)")
        return self


class WithdrawCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, FreeText(1, 500)]


class RatingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stars: int = Field(ge=1, le=5)
    comment: Annotated[str, FreeText(0, 1000)] | None = None


class ProviderAnswerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirmed: bool
    reference: Annotated[str, FreeText(1, 100, one_line=True)] | None = Field(
        default=None, description="Référence de commande"
    )
    reason: Annotated[str, FreeText(0, 500)] | None = None


class DeliveryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivered: bool
    reason: Annotated[str, FreeText(0, 500)] | None = None

    @model_validator(mode="after")
    def _reason_for_cancel(self) -> DeliveryCreate:
        if not self.delivered and not self.reason:
            raise ValueError("une annulation de livraison doit être motivée (reason)")
        return self


class PoolSync(BaseModel):
    """One batch of bookkeeping from a pool workflow, written in one transaction: the pool's
    row, its participants' rows, tasks opened and closed, mail queued. Idempotent: rows are
    overwritten with the same values, tasks and mail have keys."""

    pool: PoolState
    tasks_open: list[TaskOpen] = Field(default_factory=list)
    tasks_close: list[TaskClose] = Field(default_factory=list)
    mails: list[OutboxMessage] = Field(default_factory=list)
    # Where the pool now stands, in the same transaction (pools with one-write-per-step).
    status: StatusProjection | None = None


class OrderPlacement(BaseModel):
    pool_id: str
    provider_id: UUID
    total_cents: int
    service_name: str
    period: str
    lines: list[str]  # what each member takes, for the provider's order


class OrderChange(BaseModel):
    pool_id: str
    status: Literal["confirmed", "delivered", "cancelled"]
    reference: str | None = None
    reason: str | None = None


class InvoiceLine(BaseModel):
    request_id: UUID
    pool_id: str
    member_id: UUID
    description: str
    amount_cents: int = Field(ge=0)
    issued_at: datetime | None = None  # when it was written (read back from the store)


class Invoicing(BaseModel):
    pool_id: str
    lines: list[InvoiceLine]


class ServiceRequestPublic(BaseModel):
    id: UUID
    pool_id: str
    service_code: str
    service_name: str
    unit: ServiceUnit
    period: str
    member_id: UUID
    member_name: str
    quantity: int
    headcount: int | None = None  # as it was when the request joined (a headcount split)
    needed_by: date
    note: str
    status: RequestStatus
    pool_status: PoolStatus
    quote_cents: int | None
    accepted_cents: int | None
    invoiced_cents: int | None
    reason: str | None
    rating: int | None
    created_at: datetime
    updated_at: datetime


class PoolPublic(BaseModel):
    id: str
    service_code: str
    service_name: str
    provider_name: str
    period: str
    status: PoolStatus
    closes_at: datetime
    min_participants: int
    min_quantity: int
    max_participants: int | None = None
    participants: int  # still in the pool (joined, quoted, accepted) or past it to the order
    quantity: int
    total_cents: int | None
    invoiced_cents: int
    quote_round: int
    order_reference: str | None
    reason: str | None
    compensated: bool
    opened_at: datetime
    updated_at: datetime
