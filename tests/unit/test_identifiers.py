"""SIRET and postcode rules, including the cases people actually type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from domain.identifiers import Postcode, Siret, luhn_check_digit, luhn_ok
from worker.demo import MEMBERS, OTHERS, demo_siret

SIRET = TypeAdapter(Siret)
POSTCODE = TypeAdapter(Postcode)


def test_known_real_format_sirets():
    # Published SIRETs of public bodies (INSEE's own establishment and a La Poste office).
    assert SIRET.validate_python("12002701600357") == "12002701600357"
    assert SIRET.validate_python("356 000 000 00048") == "35600000000048"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1234567890123", "14 chiffres"),
        ("1234567890123A", "14 chiffres"),
        ("12002701600358", "clé de contrôle"),
        ("12002701700357", "SIREN invalide"),
    ],
)
def test_bad_sirets_are_explained(value, message):
    with pytest.raises(ValidationError) as err:
        SIRET.validate_python(value)
    assert message in str(err.value)


@given(st.from_regex(r"\d{13}", fullmatch=True))
def test_check_digit_always_completes_a_valid_number(partial):
    assert luhn_ok(partial + luhn_check_digit(partial))


@given(st.from_regex(r"[1-9]\d{13}", fullmatch=True), st.integers(0, 13), st.integers(1, 9))
def test_a_single_changed_digit_is_always_caught(number, pos, delta):
    if not luhn_ok(number):
        return
    changed = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1 :]
    assert not luhn_ok(changed)


def test_demo_sirets_are_valid_and_distinct():
    sirets = [demo_siret(n) for n in range(1, len(MEMBERS) + len(OTHERS) + 1)]
    assert len(set(sirets)) == len(sirets)
    for s in sirets:
        SIRET.validate_python(s)


@pytest.mark.parametrize("value", ["13015", " 13015 ", "20000", "97400"])
def test_postcodes_accepted(value):
    assert POSTCODE.validate_python(value) == value.strip()


@pytest.mark.parametrize("value", ["1301", "130155", "2A000", "00100"])
def test_postcodes_refused(value):
    with pytest.raises(ValidationError):
        POSTCODE.validate_python(value)
