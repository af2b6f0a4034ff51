"""Pooled services: the pure rules under the shared-service request process (issue 4).

A pool gathers members' requests for one catalogue service and period; once its rule is
met, the provider's price is split among the members in exact cents.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from enum import StrEnum
from fractions import Fraction
from typing import TypeVar

from pydantic import BaseModel, Field

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


def largest_remainder(total_cents: int, weights: Mapping[K, int]) -> dict[K, int]:
    """Split `total_cents` in proportion to `weights`, in whole cents that sum exactly to the
    total (Hamilton's method): each gets the floor of its exact share, and the cents left go
    to the largest remainders, ties broken by the order of `weights`. All-zero weights split
    equally."""
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
    order = sorted(range(len(keys)), key=lambda i: (-(exact[i] - shares[i]), i))
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


def quote_shares(cost: ServiceCost, rule: SplitRule, demands: list[Demand]) -> dict[str, int]:
    """Each member's share in cents of the provider's price for the pooled quantity."""
    total = cost.total(sum(d.quantity for d in demands))
    return largest_remainder(total, split_weights(rule, demands))
