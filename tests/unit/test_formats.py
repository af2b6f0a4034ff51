"""Money, numbers and dates as French readers write them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from babel.numbers import format_currency
from hypothesis import given, settings
from hypothesis import strategies as st

from api.pages.formats import day, moment, month, number, percent, share
from domain.formats import euros


@settings(max_examples=300)
@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_euros_are_written_as_babel_writes_them(cents):
    # The same digits, grouping and comma as Babel's French locale; before « € » a plain
    # space, as in the mails already sent (Babel puts a no-break one).
    expected = format_currency(cents / 100, "EUR", locale="fr_FR").replace("\u00a0€", " €")
    assert euros(cents) == expected


def test_numbers_percentages_and_dates():
    assert euros(123_456_78) == "123\u202f456,78 €"
    assert number(1234.5) == "1\u202f234,5"
    assert percent(6.0) == "6,0\u00a0%"
    assert share(0.06) == "6\u00a0%" and share(0.0625, 1) == "6,2\u00a0%"  # half to even
    assert month("2027-01") == "janvier 2027"
    assert day(date(2027, 1, 5)) == "5 janvier 2027"
    # 23:30 UTC on 31 December is already the new year in Paris.
    assert day(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == "1 janvier 2027"
    assert moment(datetime(2027, 1, 5, 14, 3, tzinfo=UTC)) == "5 janv. 2027 à 15:03"
