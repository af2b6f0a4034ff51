"""The fair split of a pooled service's price, property-tested."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.pooling import (
    Demand,
    PoolingRule,
    ServiceCost,
    SplitRule,
    largest_remainder,
    quote_shares,
    rule_met,
)

weights = st.dictionaries(
    st.text(min_size=1, max_size=4), st.integers(0, 10_000), min_size=1, max_size=40
)
totals = st.integers(0, 10_000_000)


@given(totals, weights)
def test_shares_sum_exactly_to_the_total(total, w):
    assert sum(largest_remainder(total, w).values()) == total


@given(totals, weights)
def test_each_share_is_within_a_cent_of_its_exact_part(total, w):
    shares = largest_remainder(total, w)
    whole = sum(w.values()) or len(w)
    for k, share in shares.items():
        exact = Fraction(total * (w[k] if sum(w.values()) else 1), whole)
        assert abs(share - exact) < 1


@given(totals, weights)
def test_more_weight_never_pays_less(total, w):
    shares = largest_remainder(total, w)
    for a in w:
        for b in w:
            if w[a] > w[b]:
                assert shares[a] >= shares[b]


@given(totals, st.integers(1, 50))
def test_equal_split_differs_by_at_most_a_cent(total, n):
    shares = largest_remainder(total, {f"m{i}": 1 for i in range(n)})
    assert max(shares.values()) - min(shares.values()) <= 1


def test_twelve_companies_share_an_accountant_to_the_cent():
    # The system test of issue 4 in miniature: 12 members, 1,000 EUR a month + 250 EUR each.
    demands = [Demand(member_id=f"m{i}", quantity=1, headcount=3 + i) for i in range(12)]
    cost = ServiceCost(fixed_cents=100_000, per_unit_cents=25_000)
    for rule in SplitRule:
        shares = quote_shares(cost, rule, demands)
        assert sum(shares.values()) == 400_000
    equal = quote_shares(cost, SplitRule.EQUAL, demands)
    assert sorted(set(equal.values())) == [33_333, 33_334]
    weighted = quote_shares(cost, SplitRule.HEADCOUNT_WEIGHTED, demands)
    assert weighted["m11"] > weighted["m0"]


def test_a_sole_trader_still_pays_its_part():
    shares = quote_shares(
        ServiceCost(fixed_cents=1_000, per_unit_cents=0),
        SplitRule.HEADCOUNT_WEIGHTED,
        [
            Demand(member_id="solo", quantity=1, headcount=0),
            Demand(member_id="pme", quantity=1, headcount=9),
        ],
    )
    assert shares == {"solo": 100, "pme": 900}


def test_rule_needs_members_and_quantity():
    rule = PoolingRule(min_participants=3, min_quantity=10)
    few = [Demand(member_id=str(i), quantity=5, headcount=1) for i in range(2)]
    assert not rule_met(rule, few)
    assert rule_met(rule, [*few, Demand(member_id="x", quantity=1, headcount=1)])
    assert not rule_met(rule, [Demand(member_id=str(i), quantity=1, headcount=1) for i in range(3)])


def test_refuses_what_cannot_be_split():
    with pytest.raises(ValueError):
        largest_remainder(100, {})
    with pytest.raises(ValueError):
        largest_remainder(100, {"a": -1})
    assert largest_remainder(0, {}) == {}


def _service(**over):
    from datetime import UTC, datetime
    from uuid import uuid4

    from domain.pooling import ServicePublic, ServiceUnit

    return ServicePublic(
        id=uuid4(),
        network_id=uuid4(),
        provider_id=uuid4(),
        provider_name="Cabinet",
        active=True,
        created_at=datetime.now(UTC),
        code="compta",
        name="Comptable partagé",
        unit=ServiceUnit.DAY,
        pooling=PoolingRule(min_participants=2),
        window_days=30,
        cost=ServiceCost(fixed_cents=1, per_unit_cents=1),
        split_rule=SplitRule.EQUAL,
        acceptance_days=7,
        **over,
    )


def _org(**over):
    from domain.pooling import Eligible

    base = {"kind": "member", "status": "active", "territory": "Marseille Nord"}
    return Eligible(**{**base, "naf": "10.71C", "headcount": 4, **over})


def test_eligibility_names_what_is_missing():
    from domain.pooling import ineligibility

    assert ineligibility(_service(), _org()) is None
    assert "adhérentes" in ineligibility(_service(), _org(kind="agency"))
    assert "pas (encore) active" in ineligibility(_service(), _org(status="pending"))
    local = _service(territories=["marseille nord", "Aubagne"])
    assert ineligibility(local, _org()) is None  # territories compare without case
    assert "Aubagne" in ineligibility(local, _org(territory="Vitrolles"))
    bakers = _service(sectors=["10.71"])
    assert ineligibility(bakers, _org()) is None
    assert "NAF" in ineligibility(bakers, _org(naf="47.11F"))
    assert "NAF" in ineligibility(bakers, _org(naf=None))


def test_pool_of_a_need_is_its_month_with_its_window():
    from datetime import UTC, date, datetime

    from domain.pooling import pool_for

    p = pool_for(_service(), date(2027, 1, 20))
    assert p.pool_id == "pool-compta-2027-01" and p.period == "2027-01"
    assert p.closes_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert p.opens_at == datetime(2026, 12, 2, tzinfo=UTC)
