"""What a pool decides when its members change, pure: the pool workflow runs these, the
property tests drive them through every order of joins, declines and withdrawals, and the
catalogue's estimate uses the same split.

A pool takes members until its order is placed (issue 17: a minimum is not a cap). Each
time its members change — a late joiner, a decline, a withdrawal, a quote left unanswered —
the provider's price is split again among those still in, and each member's new share is
weighed against what it has agreed to:

- a member that has accepted and whose share falls stands accepted at the lower amount (it
  is told, nothing is asked);
- a member that has accepted and whose share rises above what it accepted is asked again;
- a member still to answer gets its new quote;
- a member that just joined is quoted.

So nobody is ever billed more than the amount it last accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel

from domain.pooling import (
    POOL_CAPACITY,
    Participant,
    PoolInput,
    PoolStatus,
    RequestStatus,
    ServicePublic,
    SplitRule,
    quote_shares,
    rule_met,
)


class Change(StrEnum):
    """What a new split means for one member."""

    ASKED = "asked"  # joined: its first quote, to accept or decline
    ASKED_AGAIN = "asked_again"  # accepted, but its share rose above that: asked again
    LOWERED = "lowered"  # accepted, its share fell: stands accepted at the lower amount
    MOVED = "moved"  # quoted, not answered yet: its quote moved (up or down)
    KEPT = "kept"  # nothing changes for it


class Requote(BaseModel):
    """A new split of the provider's price among the members still in the pool."""

    total_cents: int
    shares: dict[str, int]  # by request id
    previous: dict[str, int | None]  # each member's quote before this split
    changes: dict[str, Change]

    def of(self, change: Change) -> list[str]:
        return [k for k, c in self.changes.items() if c == change]


def accepted_caps(members: Sequence[Participant]) -> dict[str, int]:
    """What each member that has accepted agreed to pay: no rounding cent lifts it above."""
    return {
        str(p.request_id): p.accepted_cents
        for p in members
        if p.status == RequestStatus.ACCEPTED and p.accepted_cents is not None
    }


def requote(service: ServicePublic, members: Sequence[Participant]) -> Requote:
    """The new shares of `members` (those still in the pool, in the order they joined) and
    what each means for each member."""
    shares = quote_shares(
        service.cost,
        service.split_rule,
        [p.demand() for p in members],
        caps=accepted_caps(members),
    )
    changes: dict[str, Change] = {}
    for p in members:
        key, share = str(p.request_id), shares[str(p.request_id)]
        if p.status == RequestStatus.ACCEPTED:
            accepted = p.accepted_cents if p.accepted_cents is not None else 0
            if share > accepted:
                changes[key] = Change.ASKED_AGAIN
            elif share < (p.quote_cents if p.quote_cents is not None else accepted):
                changes[key] = Change.LOWERED
            else:
                changes[key] = Change.KEPT
        elif p.status == RequestStatus.QUOTED:
            changes[key] = Change.KEPT if share == p.quote_cents else Change.MOVED
        elif p.status == RequestStatus.JOINED:
            changes[key] = Change.ASKED
        else:
            raise ValueError(f"request {key} is not in the pool ({p.status})")
    return Requote(
        total_cents=sum(shares.values()),
        shares=shares,
        previous={str(p.request_id): p.quote_cents for p in members},
        changes=changes,
    )


def apply_requote(members: Sequence[Participant], rq: Requote) -> None:
    """Give each member its new share: asked (again) members wait for their answer; a member
    whose share fell now stands accepted at that lower amount."""
    for p in members:
        key = str(p.request_id)
        share, change = rq.shares[key], rq.changes[key]
        p.quote_cents = share
        if change in (Change.ASKED, Change.ASKED_AGAIN):
            p.status = RequestStatus.QUOTED
        elif change == Change.LOWERED:
            p.accepted_cents = share


def ready_to_order(members: Sequence[Participant]) -> bool:
    """Every member still in has accepted its current share."""
    return bool(members) and all(
        p.status == RequestStatus.ACCEPTED
        and p.quote_cents is not None
        and p.accepted_cents is not None
        and p.quote_cents <= p.accepted_cents
        for p in members
    )


# --- what a member would pay now (the catalogue) -------------------------------------------


class ShareEstimate(BaseModel):
    """What a member would pay if it joined the pool now with `quantity`, against buying the
    same alone."""

    service_code: str
    pool_id: str
    period: str
    opens_at: datetime  # the pooling window of the period
    closes_at: datetime
    pool_status: PoolStatus | None  # None: no request yet, the member would open the pool
    taking_requests: bool
    reason: str | None = None  # why it could not join now, in words for the member
    split_rule: SplitRule
    quantity: int
    headcount: int
    participants: int  # in the pool with the member
    rule_met: bool  # the pool's rule holds with the member
    total_cents: int  # the provider's price for the pool with the member's quantity
    share_cents: int  # the member's share of it
    alone_cents: int  # fixed + per unit for the member's quantity, bought alone
    savings_cents: int  # alone - share (negative: the pool costs it more)
    estimated_at: datetime


def estimate_share(
    service: ServicePublic,
    members: Sequence[Participant],
    newcomer: Participant,
) -> tuple[Requote, int]:
    """The split if `newcomer` joined `members` now (the same split as the pool's), and what
    it would pay alone."""
    rq = requote(service, [*members, newcomer])
    return rq, service.cost.total(newcomer.quantity)


def joining_refusal(
    service: ServicePublic,
    pool: PoolInput,
    pool_status: PoolStatus | None,
    members: Sequence[Participant],
    eligibility: str | None,
    already: bool,
    now: datetime,
) -> str | None:
    """Why the member could not join this pool now, in words for it; None if it could."""
    if not service.active:
        return f"« {service.name} » n'est plus proposé"
    if eligibility:
        return eligibility
    if now < pool.opens_at:
        return f"la mutualisation pour {pool.period} ouvre le {pool.opens_at:%d/%m/%Y}"
    if now >= pool.closes_at:
        return f"la fenêtre de mutualisation pour {pool.period} est close"
    if pool_status not in (None, PoolStatus.GATHERING, PoolStatus.QUOTING):
        return f"le regroupement pour {pool.period} ne prend plus de demandes"
    if already:
        return "votre entreprise a déjà une demande dans ce regroupement"
    most = service.max_participants or POOL_CAPACITY
    if len(members) >= most:
        return f"le regroupement est complet ({most} entreprises)"
    return None


def newcomer(request_id: UUID, member_id: UUID, quantity: int, headcount: int) -> Participant:
    return Participant(
        request_id=request_id,
        member_id=member_id,
        member_name="",
        quantity=quantity,
        headcount=headcount,
        status=RequestStatus.JOINED,
    )


def holds(service: ServicePublic, members: Sequence[Participant]) -> bool:
    """The pool's rule holds with `members`."""
    return rule_met(service.pooling, [p.demand() for p in members])
