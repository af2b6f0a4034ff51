"""The codec endpoint for operators: the Temporal Web UI and CLI send it the payloads they
show, encrypted by Relais' codec, and get them back readable (Temporal's codec-server
protocol: `POST …/decode` and `…/encode`, a body `{"payloads": [{"metadata": {k: base64},
"data": base64}]}` in both directions, the namespace in `X-Namespace`).

Admins only, every call audited: a decoded payload may hold a candidate's sealed record or a
contact's address. The UI calls it from the browser, from its own origin: the origins in
`RELAIS_CODEC_CORS_ORIGINS` may, with the admin's session cookie ("Include cross-origin
credentials" in the UI's codec settings); the CLI sends a bearer token
(`temporal … --codec-endpoint https://relais.example.fr/codec --codec-auth 'Bearer rl_…'`)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from temporalio.api.common.v1 import Payload

from api.commands import codec
from api.commands.base import Ctx
from api.deps import operating
from api.errors import RESPONSES
from api.security import codec_origin
from domain.errors import Invalid
from relais.settings import Settings

ALLOWED_HEADERS = "content-type, x-namespace, authorization"


def _allowed_origin(request: Request) -> str | None:
    origin = request.headers.get("origin")
    return origin if codec_origin(request.app.state.settings, origin) else None


def _cors(request: Request, response: Response) -> Response:
    origin = _allowed_origin(request)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
    response.headers["Vary"] = "Origin"
    return response


def _app_handler(
    request: Request, err: Exception
) -> Callable[[Request, Exception], Coroutine[Any, Any, Response]] | None:
    handlers = request.app.exception_handlers
    return next((handlers[t] for t in type(err).__mro__ if t in handlers), None)


class CorsRoute(APIRoute):
    """The UI's origin must be able to read every answer, refusals included (a 401 the
    browser hides looks like a network error): CORS headers on all of them."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_cors(request: Request) -> Response:
            try:
                response = await handler(request)
            except HTTPException as err:
                response = JSONResponse(
                    {"detail": err.detail}, status_code=err.status_code, headers=err.headers
                )
            except Exception as err:  # the app's own answer (French 422, 503…), with CORS
                answer = _app_handler(request, err)
                if answer is None:
                    raise
                response = await answer(request, err)
            return _cors(request, response)

        return with_cors


router = APIRouter(prefix="/codec", tags=["opérations"], route_class=CorsRoute, responses=RESPONSES)


class CodecPayload(BaseModel):
    """A Temporal payload in proto3 JSON: every value base64."""

    metadata: dict[str, str] = Field(default_factory=dict)
    data: str = ""


class CodecPayloads(BaseModel):
    payloads: list[CodecPayload] = Field(max_length=1000)


_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")


def _bytes(value: str) -> bytes:
    # proto3 JSON: standard or URL-safe base64, padding optional.
    if not _BASE64.match(value):
        raise Invalid("payloads", "metadata et data doivent être en base64.")
    value = value.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        raise Invalid("payloads", "metadata et data doivent être en base64.") from None


def _parse(body: CodecPayloads) -> list[Payload]:
    return [
        Payload(metadata={k: _bytes(v) for k, v in p.metadata.items()}, data=_bytes(p.data))
        for p in body.payloads
    ]


def _text(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _answer(payloads: Sequence[Payload]) -> CodecPayloads:
    return CodecPayloads(
        payloads=[
            CodecPayload(metadata={k: _text(v) for k, v in p.metadata.items()}, data=_text(p.data))
            for p in payloads
        ]
    )


def _namespace(settings: Settings, x_namespace: str | None) -> str:
    ns = settings.temporal_namespace
    if x_namespace not in (None, "", ns):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"Espace de noms « {x_namespace} » inconnu : Relais chiffre celui de « {ns} ».",
        )
    return ns


@router.post("/decode", response_model=CodecPayloads)
async def decode(
    body: CodecPayloads,
    request: Request,
    ctx: Annotated[Ctx, Depends(operating(codec.decode))],
    x_namespace: Annotated[str | None, Header()] = None,
) -> CodecPayloads:
    """Payloads as the Temporal server holds them → as the workflow sees them."""
    ns = _namespace(ctx.settings, x_namespace)
    return _answer(await codec.decode(ctx, _parse(body), ns, _via(request)))


@router.post("/encode", response_model=CodecPayloads)
async def encode(
    body: CodecPayloads,
    request: Request,
    ctx: Annotated[Ctx, Depends(operating(codec.encode))],
    x_namespace: Annotated[str | None, Header()] = None,
) -> CodecPayloads:
    """The other direction, for the CLI: plain payloads encrypted with the current key."""
    ns = _namespace(ctx.settings, x_namespace)
    return _answer(await codec.encode(ctx, _parse(body), ns, _via(request)))


def _via(request: Request) -> str:
    return "browser" if request.headers.get("origin") else "cli"


@router.options("/decode", include_in_schema=False)
@router.options("/encode", include_in_schema=False)
async def preflight(request: Request) -> Response:
    """The browser asks first whether the UI's origin may post with credentials."""
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    if _allowed_origin(request):
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return response
