"""The one CSV writer: BOM, `;`, French decimals, formulas kept as text."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from domain.csv_export import amount, csv_text


def cells(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


@pytest.mark.parametrize(
    "formula",
    [
        '=HYPERLINK("http://x"&B2,"y")',
        "+33 6 12 34 56 78",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "\r=1+1",
        '＝HYPERLINK("http://x")',
    ],
)
def test_text_a_spreadsheet_would_run_is_kept_as_text(formula):
    [[out]] = cells(csv_text([[formula]]))
    assert out == "'" + formula


def test_figures_are_numbers_with_a_decimal_comma_each_in_its_cell():
    text = csv_text([["a;b", 12.5, 100.0, 0.0, -1.25, 7, None, date(2026, 3, 1), amount(1650000)]])
    assert text == '\ufeff"a;b";12,5;100;0;-1,25;7;;2026-03-01;16500,00\r\n'
    assert amount(-5) == Decimal("-0.05")
