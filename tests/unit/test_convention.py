"""Pure convention rules: the phase calendar (snapshot dates, midpoint, budget of a phase)
and KPI aggregation on a territory's realistic year of activity."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.convention import (
    ActivityFacts,
    KpiKey,
    KpiSnapshot,
    PhaseSpec,
    ProjectFact,
    VisitFact,
    add_months,
    aggregate_kpis,
    evaluate,
    midpoint,
    next_snapshot_at,
    phase_budget_cents,
    phase_end,
)

PHASE4 = PhaseSpec(
    number=4,
    starts_on=date(2025, 1, 1),
    ends_on=date(2026, 12, 31),
    annual_budget_cents=16_500_000,
    targets={KpiKey.COMPANIES_MET: 190, KpiKey.INVESTMENT_CENTS: 150_000_000},
)


def test_month_arithmetic_clamps_to_the_months_end():
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 11, 15), 3) == date(2026, 2, 15)


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "expected"),
    [
        (date(2025, 1, 1), date(2026, 12, 31), 2 * 16_500_000),  # two calendar years
        (date(2024, 1, 1), date(2024, 12, 31), 16_500_000),  # a leap year is one year
        (date(2025, 3, 15), date(2025, 6, 14), 16_500_000 // 4),  # three months
        (date(2025, 1, 1), date(2025, 1, 31), 16_500_000 // 12),
        (date(2025, 1, 1), date(2025, 1, 10), round(16_500_000 * 10 / 365)),  # days pro rata
    ],
)
def test_budget_of_a_phase(starts_on, ends_on, expected):
    phase = PhaseSpec(starts_on=starts_on, ends_on=ends_on, annual_budget_cents=16_500_000)
    assert phase_budget_cents(phase) == expected


@given(
    start=st.dates(date(2001, 1, 1), date(2090, 1, 1)),
    days=st.integers(1, 6 * 365),
    annual=st.integers(0, 10**10),
)
def test_budget_grows_with_the_phase_and_stays_near_the_days_pro_rata(start, days, annual):
    phase = PhaseSpec(
        starts_on=start, ends_on=start + timedelta(days=days), annual_budget_cents=annual
    )
    longer = phase.model_copy(update={"ends_on": phase.ends_on + timedelta(days=1)})
    assert phase_budget_cents(longer) >= phase_budget_cents(phase) >= 0
    exact = annual * (days + 1) / 365.25
    assert abs(phase_budget_cents(phase) - exact) <= annual * 3 / 365 + 1


def test_snapshots_fall_on_the_first_of_each_month_until_the_phase_ends():
    at, dates = datetime(2025, 1, 1, tzinfo=UTC), []
    while at < phase_end(PHASE4):
        at = next_snapshot_at(at, PHASE4, 1)
        dates.append(at)
    assert len(dates) == 24 and dates[0] == datetime(2025, 2, 1, tzinfo=UTC)
    assert dates[-1] == datetime(2027, 1, 1, tzinfo=UTC) == phase_end(PHASE4)
    quarterly = next_snapshot_at(datetime(2025, 2, 10, tzinfo=UTC), PHASE4, 3)
    assert quarterly == datetime(2025, 4, 1, tzinfo=UTC)
    assert midpoint(PHASE4) == datetime(2026, 1, 1, tzinfo=UTC)


def test_phase_dates_are_checked():
    with pytest.raises(ValidationError, match="doit suivre"):
        PhaseSpec(starts_on=date(2025, 1, 1), ends_on=date(2025, 1, 1), annual_budget_cents=0)
    with pytest.raises(ValidationError, match="six ans"):
        PhaseSpec(starts_on=date(2025, 1, 1), ends_on=date(2035, 1, 1), annual_budget_cents=0)
    with pytest.raises(ValidationError):
        PhaseSpec(starts_on=date(2025, 1, 1), ends_on=date(2026, 1, 1), annual_budget_cents=-5)


def _year_of_activity(seed: int = 7) -> ActivityFacts:
    """A CMA delegation's year: 150 companies, some met several times; projects of each kind,
    some abandoned; hires and deliveries spread over the year, a few outside it."""
    rnd = random.Random(seed)
    days = [date(2025, 1, 1) + timedelta(days=d) for d in range(365)]
    companies = [f"{80000000000000 + i}" for i in range(150)]
    visits = [
        VisitFact(company_key=rnd.choice(companies), visited_on=rnd.choice(days))
        for _ in range(260)
    ]
    visits += [VisitFact(company_key=companies[0], visited_on=date(2024, 12, 31))]  # before
    kinds = [
        "recruitment",
        "pooled_service",
        "training",
        "investment",
        "digital",
        "funding",
        "other",
    ]
    projects = [
        ProjectFact(
            kind=rnd.choice(kinds),
            status=rnd.choice(["identified", "in_progress", "done", "abandoned"]),
            investment_cents=rnd.randrange(0, 10_000_000),
            on=rnd.choice(days),
        )
        for _ in range(120)
    ]
    return ActivityFacts(
        visits=visits,
        projects=projects,
        campaigns=[rnd.choice(days) for _ in range(9)],
        hires=[rnd.choice(days) for _ in range(40)] + [date(2026, 1, 5)],  # one after
        deliveries=[rnd.choice(days) for _ in range(33)],
    )


def test_kpi_aggregation_on_a_year_of_activity():
    facts = _year_of_activity()
    k = aggregate_kpis(facts, date(2025, 1, 1), date(2025, 12, 31))
    inside = [v for v in facts.visits if v.visited_on.year == 2025]
    kept = [p for p in facts.projects if p.status != "abandoned"]
    assert k[KpiKey.VISITS] == 260
    assert k[KpiKey.COMPANIES_MET] == len({v.company_key for v in inside}) <= 150
    assert k[KpiKey.ACTION_PROJECTS] == len(kept)
    assert k[KpiKey.INVESTMENT_PROJECTS] == sum(p.kind == "investment" for p in kept)
    assert k[KpiKey.INVESTMENT_CENTS] == sum(
        p.investment_cents for p in kept if p.kind == "investment"
    )
    assert k[KpiKey.TRAININGS] == sum(p.kind == "training" for p in kept)
    assert (k[KpiKey.CAMPAIGNS], k[KpiKey.RECRUITMENTS], k[KpiKey.SERVICES_DELIVERED]) == (
        9,
        40,
        33,
    )
    # Counting up to a day only ever adds: figures never fall as the phase goes on.
    first_half = aggregate_kpis(facts, date(2025, 1, 1), date(2025, 6, 30))
    assert all(first_half[key] <= k[key] for key in KpiKey)
    assert set(k) == set(KpiKey)  # every KPI is counted


def test_evaluation_puts_targets_first_with_percentages_and_budget():
    snapshot = KpiSnapshot(
        phase_number=4,
        as_of=date(2026, 12, 31),
        taken_at=datetime(2027, 1, 1, tzinfo=UTC),
        actuals={KpiKey.COMPANIES_MET: 171, KpiKey.INVESTMENT_CENTS: 180_000_000},
    )
    e = evaluate(PHASE4, snapshot, used_cents=29_700_000)
    assert [line.key for line in e.lines[:2]] == [KpiKey.COMPANIES_MET, KpiKey.INVESTMENT_CENTS]
    assert (e.lines[0].target, e.lines[0].actual, e.lines[0].percent) == (190, 171, 90.0)
    assert e.lines[1].percent == 120.0  # above target
    assert all(line.target is None and line.percent is None for line in e.lines[2:])
    assert (e.budget_cents, e.budget_used_cents, e.budget_percent) == (33_000_000, 29_700_000, 90.0)
