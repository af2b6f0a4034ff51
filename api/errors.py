"""Errors a person understands: every refusal is a 4xx with a message naming the field."""

from __future__ import annotations

import asyncpg
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[0] if loc else "requête")


def _message(err: dict) -> str:
    msg = err.get("msg", "valeur invalide")
    return msg.removeprefix("Value error, ")


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"field": _field(tuple(e.get("loc", ()))), "message": _message(e), "type": e.get("type")}
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


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(asyncpg.UniqueViolationError, unique_violation)
    app.add_exception_handler(asyncpg.DataError, data_error)
