"""The one CSV writer of every export people open in a spreadsheet (a campaign's report, a
convention's evaluation): UTF-8 with a BOM (so Excel reads the accents), `;` between cells,
French decimals, one figure per cell, and no text a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

Cell = str | int | float | Decimal | date | None

BOM = "\ufeff"
MEDIA_TYPE = "text/csv; charset=utf-8"
# A text cell starting with one of these is a formula to Excel, LibreOffice or Sheets
# (fullwidth forms included: some spreadsheets fold them); a quote in front keeps it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def text_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def number(value: float, places: int = 2) -> str:
    """12.5 → « 12,5 », 100.0 → « 100 »: a decimal comma, no trailing zeros, no grouping
    (a spreadsheet reads « 1 234,5 » as text)."""
    out = f"{value:.{places}f}"
    if "." in out:
        out = out.rstrip("0").rstrip(".")
    return "0" if out in ("-0", "") else out.replace(".", ",")


def amount(cents: int) -> Decimal:
    """Cents as euros, written with two decimals: 1650000 → « 16500,00 »."""
    return Decimal(cents).scaleb(-2)


def cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):  # exact, with its own decimals (money)
        return format(value, "f").replace(".", ",")
    if isinstance(value, float):
        return number(value)
    if isinstance(value, date):
        return value.isoformat()
    return text_cell(str(value))


def csv_text(rows: Iterable[Sequence[Cell]]) -> str:
    """The whole file, BOM first."""
    buf = io.StringIO()
    buf.write(BOM)
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return buf.getvalue()
