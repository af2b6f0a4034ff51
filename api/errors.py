"""Errors a person understands: every refusal is a 4xx with a message naming the field; the
process engine out of reach, or an action it could not take, a 503 asking to try again."""

from __future__ import annotations

import asyncpg
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from workflows.clients import UpdateNotRun


def _field(loc: tuple) -> str:
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


def message(err: dict) -> str:
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


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"field": _field(tuple(e.get("loc", ()))), "message": message(e), "type": e.get("type")}
        for e in exc.errors()
    ]
    summary = "; ".join(f"{e['field']} : {e['message']}" for e in errors)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": f"Données invalides — {summary}", "errors": errors},
    )


async def unique_violation(request: Request, exc: asyncpg.UniqueViolationError) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_409_CONFLICT,
        content={"detail": "Cet enregistrement existe déjà.", "constraint": exc.constraint_name},
    )


async def data_error(request: Request, exc: asyncpg.DataError) -> JSONResponse:
    # A value Postgres cannot hold (out of range, bad encoding): the caller's input.
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={
            "detail": "Données invalides — une valeur ne peut pas être enregistrée telle quelle."
        },
    )


# A request Temporal could not take now: it never ran (every attempt refused), the server
# is out of reach, or the call timed out. A start may already have begun its workflow, a
# timed-out update may have run: the same request sent again joins it, never doubles it.
ENGINE_BUSY = (
    "Le service de suivi des processus ne répond pas pour le moment. Renvoyez votre demande "
    "dans quelques instants : si elle a déjà été reçue, elle ne sera pas enregistrée deux fois."
)
TRANSIENT = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}


def engine_busy(err: Exception) -> str | None:
    """The sentence for a person when Temporal could not take their request now; None for
    any other error."""
    if isinstance(err, UpdateNotRun | WorkflowUpdateRPCTimeoutOrCancelledError):
        return ENGINE_BUSY
    if isinstance(err, RPCError) and err.status in TRANSIENT:
        return ENGINE_BUSY
    return None


async def engine_error(request: Request, exc: Exception) -> JSONResponse:
    detail = engine_busy(exc)
    if detail is None:
        raise exc  # anything else is our defect: a 500, logged
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": detail},
        headers={"Retry-After": "5"},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(asyncpg.UniqueViolationError, unique_violation)
    app.add_exception_handler(asyncpg.DataError, data_error)
    app.add_exception_handler(UpdateNotRun, engine_error)
    app.add_exception_handler(RPCError, engine_error)
    app.add_exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError, engine_error)
