"""Numbers, money and dates as French readers write them, through Babel's French locale:
« 6,0 % », « janvier 2027 », « 1 234,56 € », times on the Paris clock. The pages' filters."""

from __future__ import annotations

import math
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from domain.common import Page
from domain.formats import PARIS, euros

LOCALE = Locale.parse("fr_FR")  # parsed once (Babel parses a name on every call)


@lru_cache(maxsize=4096)
def _date(value: date, pattern: str) -> str:
    """A date in a pattern: a page of 200 rows formats the same few days again and again."""
    return format_date(value, pattern, locale=LOCALE)


def number(value: float | int | None, decimals: int | None = None) -> str:
    """1234.5 → « 1 234,5 »; `decimals` fixes how many digits follow the comma."""
    if value is None:
        return "—"
    if decimals is None:
        return format_decimal(value, locale=LOCALE)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=LOCALE)


def percent(value: float | None, decimals: int = 1) -> str:
    """A percentage already in percent (6.0 → « 6,0 % »)."""
    return "—" if value is None else f"{number(value, decimals)}\u00a0%"


def share(value: float | None, decimals: int = 0) -> str:
    """A ratio (0.06 → « 6 % »)."""
    return "—" if value is None else percent(100 * value, decimals)


def day(value: date | datetime | None) -> str:
    """« 5 janvier 2027 » (a datetime read on the Paris clock)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date()
    return _date(value, "d MMMM y")


def short_day(value: date | datetime | None) -> str:
    """« 05/01/2027 » (for tables)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date()
    return _date(value, "dd/MM/y")


def moment(value: datetime | None) -> str:
    """« 5 janv. 2027 à 15:03 » on the Paris clock."""
    if value is None:
        return "—"
    return format_datetime(value, "d MMM y 'à' HH:mm", tzinfo=PARIS, locale=LOCALE)


def month(period: str | date | None) -> str:
    """A pool's month, « 2027-01 » → « janvier 2027 »."""
    if period is None:
        return "—"
    if isinstance(period, str):
        year, mon = (int(x) for x in period.split("-")[:2])
        period = date(year, mon, 1)
    return _date(period, "MMMM y")


def total(page: Page[Any]) -> str:
    """A list's total: « 1 234 », or « plus de 1 000 » where counting stopped."""
    n = number(page.total)
    return f"plus de {n}" if page.total_is_lower_bound else n


def cents_from_euros(euros: str) -> int | str:
    """« 1 234,56 » → 123456; anything else (text, « inf », « nan ») is left for the model
    to refuse with its own sentence."""
    try:
        for space in ("\u202f", "\xa0", " "):  # the group separators people and Babel write
            euros = euros.replace(space, "")
        amount = float(euros.replace(",", "."))
    except ValueError:
        return euros
    if not math.isfinite(amount) or abs(amount) > 10**13:
        return euros
    return round(amount * 100)


FILTERS = {
    "total": total,
    "number": number,
    "percent": percent,
    "share": share,
    "day": day,
    "short_day": short_day,
    "moment": moment,
    "month": month,
    "euros": euros,
}
