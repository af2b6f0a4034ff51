"""Money and the calendar as people read them. Pure Python, so that workflows (mail texts)
and pages format them the same way; `tests/unit/test_formats.py` checks them against Babel's
French locale."""

from __future__ import annotations

from zoneinfo import ZoneInfo

# The network's clock: the dates people read and write (a visit's day, a booking's week, a
# deadline in a sentence) are Paris' ones.
PARIS = ZoneInfo("Europe/Paris")

NNBSP = "\u202f"  # French digit grouping (narrow no-break space)


def euros(cents: int) -> str:
    """12345678 → « 123 456,78 € » (French grouping, decimal comma). The space before the
    sign is a plain one, as in the mails already sent."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}".replace(",", NNBSP) + f",{rest:02d} €"
