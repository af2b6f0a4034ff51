"""Pydantic's validation errors in French, field by field: the one wording of bad input,
for the JSON API's 422, the inbox and the pages' forms."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from domain.errors import FieldError


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[0] if loc else "requête")


# Pydantic's messages, in French, by error type ({…} from the error's context). Our own
# validators already speak French (value_error); an unlisted type keeps pydantic's text.
FRENCH = {
    "missing": "champ obligatoire",
    "extra_forbidden": "champ inconnu",
    "string_type": "un texte est attendu",
    "string_too_short": "au moins {min_length} caractère(s)",
    "string_too_long": "au plus {max_length} caractères",
    "string_pattern_mismatch": "format invalide",
    "int_type": "un nombre entier est attendu",
    "int_parsing": "un nombre entier est attendu",
    "int_from_float": "un nombre entier est attendu",
    "float_type": "un nombre est attendu",
    "float_parsing": "un nombre est attendu",
    "bool_type": "vrai ou faux est attendu",
    "bool_parsing": "vrai ou faux est attendu",
    "greater_than": "doit être supérieur à {gt}",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "less_than": "doit être inférieur à {lt}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "date_type": "une date est attendue (AAAA-MM-JJ)",
    "date_parsing": "une date est attendue (AAAA-MM-JJ)",
    "date_from_datetime_parsing": "une date est attendue (AAAA-MM-JJ)",
    "date_from_datetime_inexact": "une date sans heure est attendue (AAAA-MM-JJ)",
    "datetime_type": "une date et une heure sont attendues (AAAA-MM-JJTHH:MM)",
    "datetime_parsing": "une date et une heure sont attendues (AAAA-MM-JJTHH:MM)",
    "datetime_from_date_parsing": "une date et une heure sont attendues (AAAA-MM-JJTHH:MM)",
    "timezone_aware": "une heure avec son fuseau est attendue (ex. +01:00)",
    "uuid_type": "un identifiant (UUID) est attendu",
    "uuid_parsing": "un identifiant (UUID) est attendu",
    "enum": "valeurs possibles : {expected}",
    "literal_error": "valeurs possibles : {expected}",
    "list_type": "une liste est attendue",
    "too_short": "au moins {min_length} élément(s)",
    "too_long": "au plus {max_length} éléments",
    "dict_type": "un objet est attendu",
    "model_type": "un objet est attendu",
    "model_attributes_type": "un objet est attendu",
    "json_invalid": "JSON invalide",
    "json_type": "JSON invalide",
    "url_parsing": "une adresse web est attendue",
    "url_scheme": "une adresse web http(s) est attendue",
}


def message(err: Any) -> str:
    """One validation error in French."""
    french = FRENCH.get(err.get("type", ""))
    if french is not None:
        ctx = {k: str(v) for k, v in (err.get("ctx") or {}).items()}
        if "expected" in ctx:  # "'a', 'b' or 'c'": only the last separator is pydantic's
            ctx["expected"] = " ou ".join(ctx["expected"].rsplit(" or ", 1))
        try:
            return french.format(**ctx)
        except (KeyError, IndexError):
            pass  # a context unlike pydantic's: its own text below
    msg = str(err.get("msg", "valeur invalide")).removeprefix("Value error, ")
    if msg.startswith("value is not a valid email address"):  # EmailStr's own text
        return "adresse e-mail invalide"
    return msg


def field_errors(errors: Iterable[Any], prefix: tuple[str, ...] = ()) -> list[FieldError]:
    """Pydantic's errors as fields and French messages (`prefix` before each field, e.g.
    `data` for a task's body)."""
    return [
        FieldError(
            field=_field((*prefix, *tuple(e.get("loc", ())))),
            message=message(e),
            type=str(e.get("type", "value_error")),
        )
        for e in errors
    ]
