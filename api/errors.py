"""Errors a person understands, in one place: every named domain error, bad input and the
process engine out of reach get their HTTP status and French sentence here, for the JSON API
(`install`) and for the pages (`describe`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import asyncpg
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import LoginRequired
from api.pages.render import page
from api.security import clear_session_cookie
from api.validation import field_errors
from domain.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    Invalid,
    NotAuthenticated,
    NotFound,
    TooMany,
    Unavailable,
)
from domain.labels import field_label
from workflows.clients import UpdateNotRun

# A request Temporal could not take now: it never ran (every attempt refused), the server
# is out of reach, or the call timed out. A start may already have begun its workflow, a
# timed-out update may have run: the same request sent again joins it, never doubles it.
ENGINE_BUSY = (
    "Le service de suivi des processus ne répond pas pour le moment. Renvoyez votre demande "
    "dans quelques instants : si elle a déjà été reçue, elle ne sera pas enregistrée deux fois."
)
TRANSIENT = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}
STATUS: dict[type[DomainError], int] = {
    NotAuthenticated: status.HTTP_401_UNAUTHORIZED,
    Forbidden: status.HTTP_403_FORBIDDEN,
    NotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,
    Invalid: status.HTTP_422_UNPROCESSABLE_CONTENT,
    TooMany: status.HTTP_429_TOO_MANY_REQUESTS,
    Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


class FieldErrorBody(BaseModel):
    field: str
    message: str
    type: str


class ErrorBody(BaseModel):
    """Every refusal: the French sentence to show (and, for bad input, each field)."""

    detail: str
    errors: list[FieldErrorBody] | None = None


# Described on every JSON route (OpenAPI): what each refusal means.
RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": description}
    for code, description in (
        (401, "Authentification requise, ou jeton inconnu, expiré ou révoqué"),
        (403, "Rôle ou organisation sans droit sur cette action"),
        (404, "Introuvable (ou appartenant à une autre organisation)"),
        (409, "Refusé par l'état du dossier (clos, pas son tour, déjà pris)"),
        (413, "Corps de requête trop volumineux"),
        (422, "Données invalides, champ par champ"),
        (429, "Trop de demandes : réessayez après Retry-After secondes"),
        (503, "Service de suivi des processus momentanément indisponible"),
    )
}


@dataclass(frozen=True)
class Refusal:
    """What a person is told: the status, the sentence, the fields at fault, the headers."""

    status_code: int
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> JSONResponse:
        body: dict[str, object] = {"detail": self.detail}
        if self.errors:
            body["errors"] = [
                {"field": e.field, "message": e.message, "type": e.type} for e in self.errors
            ]
        return JSONResponse(body, status_code=self.status_code, headers=self.headers or None)


def engine_busy(err: BaseException) -> str | None:
    """The sentence for a person when Temporal could not take their request now; None for
    any other error."""
    if isinstance(err, UpdateNotRun | WorkflowUpdateRPCTimeoutOrCancelledError):
        return ENGINE_BUSY
    if isinstance(err, RPCError) and err.status in TRANSIENT:
        return ENGINE_BUSY
    return None


def describe(err: BaseException) -> Refusal | None:
    """The refusal a person reads for this error; None when it is our defect (a 500)."""
    if isinstance(err, DomainError):
        code = next(c for kind, c in STATUS.items() if isinstance(err, kind))
        headers = {}
        if isinstance(err, NotAuthenticated):
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(err, TooMany | Unavailable):
            headers["Retry-After"] = str(err.retry_after)
        errors = err.errors if isinstance(err, Invalid) else []
        return Refusal(code, err.message, errors, headers)
    if isinstance(err, RequestValidationError):
        return _invalid(Invalid.of(field_errors(err.errors())))
    if isinstance(err, asyncpg.UniqueViolationError):
        return Refusal(status.HTTP_409_CONFLICT, "Cet enregistrement existe déjà.")
    if isinstance(err, asyncpg.DataError):
        # A value Postgres cannot hold (out of range, bad encoding): the caller's input.
        return Refusal(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "Données invalides — une valeur ne peut pas être enregistrée telle quelle.",
        )
    if (busy := engine_busy(err)) is not None:
        return Refusal(status.HTTP_503_SERVICE_UNAVAILABLE, busy, headers={"Retry-After": "5"})
    return None


def _invalid(err: Invalid) -> Refusal:
    return Refusal(status.HTTP_422_UNPROCESSABLE_CONTENT, err.message, err.errors)


async def _json(request: Request, exc: Exception) -> Response:
    refusal = describe(exc)
    if refusal is None:
        raise exc  # anything else is our defect: a 500, logged
    if wants_page(request):  # a page that let a refusal through: French, not JSON
        message = refusal.detail
        if refusal.errors:
            message += " — " + "; ".join(
                f"{field_label(e.field)} : {e.message}" for e in refusal.errors
            )
        response = _message_page(request, message, refusal.status_code)
        response.headers.update(refusal.headers)
        return response
    return refusal.json()


async def _sign_in(request: Request, exc: Exception) -> Response:
    """The sign-in page, saying when the session expired, returning where the person was
    going once signed in; a cookie that opens nothing is forgotten."""
    query = {}
    if isinstance(exc, LoginRequired):
        if exc.next_path and exc.next_path != "/tableau-de-bord":
            query["suite"] = exc.next_path
        if exc.expired:
            query["expiree"] = "1"
    url = "/connexion" + (f"?{urlencode(query)}" if query else "")
    response = RedirectResponse(url, status.HTTP_303_SEE_OTHER)
    if isinstance(exc, LoginRequired) and exc.expired:
        clear_session_cookie(response, request.app.state.settings)
    return response


# What the framework itself answers (no such page, a method a route does not take), in French.
HTTP_SENTENCES = {
    status.HTTP_404_NOT_FOUND: "Cette page n'existe pas (ou plus).",
    status.HTTP_405_METHOD_NOT_ALLOWED: "Cette adresse ne s'utilise pas ainsi.",
}
TITLES = {404: "Page introuvable", 500: "Erreur de Relais"}
SERVER_ERROR = (
    "Une erreur de Relais a empêché de répondre. Elle est enregistrée pour l'équipe "
    "technique ; réessayez dans un moment."
)


def wants_page(request: Request) -> bool:
    """A person's browser (a page of the dashboard), not a program calling the JSON API."""
    path = request.url.path
    if path.startswith(("/api/", "/codec/", "/health", "/metrics", "/openapi")):
        return False
    if "authorization" in request.headers:  # a program with its token (a printable's CSV)
        return False
    return "text/html" in request.headers.get("accept", "") or request.method == "GET"


def _message_page(request: Request, message: str, code: int) -> Response:
    return page(request, "message.html", {"message": message, "title": TITLES.get(code)}, code)


async def _http(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    sentence = HTTP_SENTENCES.get(exc.status_code)
    if sentence is None:  # FastAPI's own detail (e.g. a route's HTTPException): kept
        sentence = str(exc.detail)
    headers = dict(exc.headers or {})
    if wants_page(request):
        response = _message_page(request, sentence, exc.status_code)
        response.headers.update(headers)
        return response
    return JSONResponse({"detail": sentence}, status_code=exc.status_code, headers=headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette logs the exception after this answer: only the sentence goes to the person.
    if wants_page(request):
        return _message_page(request, SERVER_ERROR, status.HTTP_500_INTERNAL_SERVER_ERROR)
    return JSONResponse({"detail": SERVER_ERROR}, status_code=500)


def install(app: FastAPI) -> None:
    for kind in (
        DomainError,
        RequestValidationError,
        asyncpg.UniqueViolationError,
        asyncpg.DataError,
        UpdateNotRun,
        RPCError,
        WorkflowUpdateRPCTimeoutOrCancelledError,
    ):
        app.add_exception_handler(kind, _json)
    app.add_exception_handler(LoginRequired, _sign_in)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _server_error)
