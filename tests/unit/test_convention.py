"""Pure convention rules: the phase calendar (snapshot dates, midpoint, budget of a phase)
and the evaluation of a phase against its targets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.convention import (
    KpiKey,
    KpiSnapshot,
    PhaseSpec,
    add_months,
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
