"""French business identifiers: SIRET (with its Luhn key) and postcodes."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

# La Poste's establishments share one SIREN and are keyed differently (INSEE rule).
LA_POSTE_SIREN = "356000000"


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit that makes `partial + digit` pass the Luhn check."""
    for d in "0123456789":
        if luhn_ok(partial + d):
            return d
    raise AssertionError("unreachable")


def _normalise_siret(value: object) -> object:
    # People paste SIRETs as "123 456 789 00012" or with dots.
    return re.sub(r"[ \t\u00a0\u202f.\-]", "", value) if isinstance(value, str) else value


def check_siret(value: str) -> str:
    if not re.fullmatch(r"[0-9]{14}", value):
        raise ValueError("le SIRET doit comporter exactement 14 chiffres")
    if value.startswith(LA_POSTE_SIREN):
        if value != LA_POSTE_SIREN + "00048" and sum(int(c) for c in value) % 5:
            raise ValueError("SIRET invalide (clé de contrôle La Poste incorrecte)")
        return value
    if not luhn_ok(value[:9]):
        raise ValueError("SIREN invalide (les 9 premiers chiffres ne passent pas la clé de Luhn)")
    if not luhn_ok(value):
        raise ValueError("SIRET invalide (clé de contrôle de Luhn incorrecte)")
    return value


def check_postcode(value: str) -> str:
    if not re.fullmatch(r"[0-9]{5}", value):
        raise ValueError("le code postal doit comporter 5 chiffres")
    if value.startswith("00"):
        raise ValueError("code postal inexistant")
    return value


Siret = Annotated[str, BeforeValidator(_normalise_siret), AfterValidator(check_siret)]
Postcode = Annotated[
    str,
    BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v),
    AfterValidator(check_postcode),
]
