"""Money as people read it. Pure Python, so that workflows (mail texts) and pages format it
the same way; `tests/unit/test_formats.py` checks it against Babel's French locale."""

from __future__ import annotations

NNBSP = "\u202f"  # French digit grouping (narrow no-break space)


def euros(cents: int) -> str:
    """12345678 → « 123 456,78 € » (French grouping, decimal comma). The space before the
    sign is a plain one, as in the mails already sent."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}".replace(",", NNBSP) + f",{rest:02d} €"
