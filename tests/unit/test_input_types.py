"""The shared input types: dates within 2000–2100, ASCII digits only, names on one line."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import pytest
from pydantic import BaseModel, ValidationError

from domain.common import BoundedDate, BoundedDatetime, FreeText
from domain.identifiers import check_postcode, check_siret
from domain.pooling import NafPrefix
from domain.recruitment import TerritoryCode, normalise_phone

OTHER_DIGITS = {
    "fullwidth": str.maketrans("0123456789", "０１２３４５６７８９"),
    "arabic-indic": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
    "devanagari": str.maketrans("0123456789", "०१२३४५६७८९"),
}


class Dated(BaseModel):
    at: BoundedDatetime | None = None
    on: BoundedDate | None = None


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T20:00:00-12:00",  # 10000-01-01 in UTC
        "2100-12-31T20:00:00-12:00",  # 2101 in UTC
        "1999-12-31T23:59:59+00:00",
        "0001-01-01T00:00:00+14:00",
    ],
)
def test_instants_outside_2000_2100_are_refused(value):
    with pytest.raises(ValidationError, match="entre 2000 et 2100"):
        Dated(at=value)


def test_an_instant_needs_its_time_zone():
    with pytest.raises(ValidationError) as err:
        Dated(at="2026-12-31T18:00:00")
    assert err.value.errors()[0]["type"] == "timezone_aware"
    assert Dated(at="2100-12-31T23:00:00+00:00").at.year == 2100


def test_days_outside_2000_2100_are_refused():
    for value in ("9999-12-31", "1999-12-31", "2101-01-01"):
        with pytest.raises(ValidationError, match="entre 2000 et 2100"):
            Dated(on=value)
    assert Dated(on="2000-01-01").on == date(2000, 1, 1)


@pytest.mark.parametrize("script", OTHER_DIGITS.values(), ids=OTHER_DIGITS.keys())
def test_only_ascii_digits_make_identifiers(script):
    for check, good in ((check_siret, "73282932000074"), (check_postcode, "13015")):
        assert check(good) == good
        with pytest.raises(ValueError, match="chiffres"):
            check(good.translate(script))
    assert normalise_phone("06 12 34 56 78") == "0612345678"
    with pytest.raises(ValueError, match="téléphone"):
        normalise_phone("06 12 34 56 78".translate(script))
    with pytest.raises(ValueError, match="téléphone"):
        normalise_phone("+33612345678".translate(script))

    class Codes(BaseModel):
        territory: TerritoryCode | None = None
        naf: NafPrefix | None = None

    assert Codes(territory="130", naf="47.11").territory == "130"
    for field, value in (("territory", "130"), ("naf", "47.11")):
        with pytest.raises(ValidationError):
            Codes(**{field: value.translate(script)})


class Named(BaseModel):
    name: Annotated[str, FreeText(2, 50, one_line=True)] | None = None
    note: Annotated[str, FreeText(0, 500)] | None = None


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\tb", "a\x00b", "a\x85b", "a\u2028b", "a\x7fb"])
def test_a_name_holds_no_control_character(bad):
    with pytest.raises(ValidationError, match="caractères de contrôle interdits"):
        Named(name=bad)


def test_a_paragraph_keeps_its_line_breaks_but_no_other_control_character():
    assert Named(note="Besoin :\r\n\t- un cariste").note == "Besoin :\r\n\t- un cariste"
    with pytest.raises(ValidationError, match="caractères de contrôle interdits"):
        Named(note="a\x00b")
