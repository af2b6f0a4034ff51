"""Dependencies: the request's one database connection, who is calling, the acting context
that commands take, the role check a JSON route makes before anything else, and the
visible resources (a campaign, a referral, a pool… that the caller may see, 404 otherwise)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, cast
from urllib.parse import urlencode
from uuid import UUID

import asyncpg
from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from api.commands import booking, convention, pooling, recruitment
from api.commands.base import Command, Ctx, refuse_role
from api.commands.people import Visitor
from api.security import codec_origin, csrf_token, session_cookie
from domain.auth import Principal, Role
from domain.booking import ReservationPublic, ResourcePublic
from domain.convention import ConventionPublic
from domain.errors import NotAuthenticated
from domain.pooling import PoolPublic, ServicePublic, ServiceRequestPublic
from domain.recruitment import CampaignPublic
from relais.settings import Settings
from store.crypto import Sealer
from store.recruitment import ReferralAccess
from store.sessions import SessionEnd, SessionRepository
from store.users import UserRepository

_bearer = HTTPBearer(
    auto_error=False, description="Jeton d'API (« Mon compte » ou `relais token create`)"
)
SAFE_METHODS = frozenset({"GET", "HEAD"})


def get_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


def get_client(request: Request) -> Client:
    client: Client = request.app.state.client
    return client


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_sealer(request: Request) -> Sealer:
    sealer: Sealer = request.app.state.sealer
    return sealer


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]
TemporalClient = Annotated[Client, Depends(get_client)]
AppSettings = Annotated[Settings, Depends(get_settings)]
DataSealer = Annotated[Sealer, Depends(get_sealer)]


async def connection(pool: Pool) -> AsyncIterator[asyncpg.Connection]:
    """One connection for the whole request: authentication, the checks and the reads."""
    async with pool.acquire() as conn:
        # The pool's proxy forwards every call to its connection (the stubs do not say so).
        yield cast(asyncpg.Connection, conn)


Conn = Annotated[asyncpg.Connection, Depends(connection)]


class LoginRequired(Exception):
    """A page asked without a valid session: the answer is the sign-in page, which says
    when a session has expired and returns to `next_path` once signed in."""

    def __init__(self, *, expired: bool = False, next_path: str | None = None) -> None:
        super().__init__("sign-in required")
        self.expired = expired
        self.next_path = next_path


async def principal_for(conn: asyncpg.Connection, token: str | None) -> Principal | None:
    if not token:
        return None
    return await UserRepository(conn).principal_for_token(token)


async def current_principal(
    conn: Conn,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The JSON API's caller: a bearer token only. A session cookie is never read here, so
    no page of another site can make a browser call the API."""
    if credentials is None:
        raise NotAuthenticated(
            "Authentification requise : envoyez « Authorization: Bearer <jeton> »."
        )
    principal = await principal_for(conn, credentials.credentials)
    if principal is None:
        raise NotAuthenticated("Jeton inconnu, expiré ou révoqué.")
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


NOTICE_HEADER = "Relais-Avis"


async def context(
    request: Request,
    principal: CurrentUser,
    conn: Conn,
    client: TemporalClient,
    settings: AppSettings,
    sealer: DataSealer,
    response: Response,
) -> Ctx:
    def on_notice(text: str) -> None:  # French in latin-1, as headers are
        response.headers[NOTICE_HEADER] = text

    return Ctx(
        principal=principal,
        conn=conn,
        client=client,
        settings=settings,
        sealer=sealer,
        on_notice=on_notice,
        address=_address(request),
    )


Context = Annotated[Ctx, Depends(context)]


def _next_path(request: Request) -> str | None:
    """Where to return after signing in: the page asked for, without its one-time notice
    (`fait=`, what was just done)."""
    if request.method not in SAFE_METHODS:
        return None
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "fait"])
    return f"{request.url.path}?{query}" if query else request.url.path


async def session_principal(request: Request, conn: asyncpg.Connection) -> Principal | None:
    """The person behind the session cookie (None without one); `LoginRequired` when the
    cookie opens nothing any more."""
    settings: Settings = request.app.state.settings
    secret = request.cookies.get(session_cookie(settings))
    if not secret:
        return None
    found = await SessionRepository(conn).resolve(secret, settings.session_idle)
    if isinstance(found, SessionEnd):
        raise LoginRequired(expired=True, next_path=_next_path(request))
    request.state.csrf_token = csrf_token(secret)
    return found.principal


async def page_context(
    request: Request,
    conn: Conn,
    client: TemporalClient,
    settings: AppSettings,
    sealer: DataSealer,
) -> Ctx:
    """A page's caller, signed in by their session; otherwise the sign-in page."""
    principal = await session_principal(request, conn)
    if principal is None:
        raise LoginRequired(next_path=_next_path(request))
    return Ctx(
        principal=principal,
        conn=conn,
        client=client,
        settings=settings,
        sealer=sealer,
        address=_address(request),
    )


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


async def printable_context(
    request: Request,
    conn: Conn,
    client: TemporalClient,
    settings: AppSettings,
    sealer: DataSealer,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Ctx:
    """A printable page (a convention's evaluation): a person's session, or the API token of
    a program fetching it (read only)."""
    if credentials is not None and request.method in SAFE_METHODS:
        principal = await principal_for(conn, credentials.credentials)
        if principal is None:
            raise NotAuthenticated("Jeton inconnu, expiré ou révoqué.")
    else:
        principal = await session_principal(request, conn)
    if principal is None:
        raise LoginRequired(next_path=_next_path(request))
    return Ctx(principal=principal, conn=conn, client=client, settings=settings, sealer=sealer)


async def operator_context(
    request: Request,
    conn: Conn,
    client: TemporalClient,
    settings: AppSettings,
    sealer: DataSealer,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Ctx:
    """The codec endpoint's caller: the CLI's bearer token, or — from the Temporal UI's own
    origin only, which CORS lets read the answer — the operator's session."""
    if credentials is not None:
        principal = await principal_for(conn, credentials.credentials)
        if principal is None:
            raise NotAuthenticated("Jeton inconnu, expiré ou révoqué.")
    elif codec_origin(settings, request.headers.get("origin")):
        try:
            principal = await session_principal(request, conn)
        except LoginRequired:
            principal = None
        if principal is None:
            raise NotAuthenticated("Session expirée : reconnectez-vous à Relais.")
    else:
        raise NotAuthenticated(
            "Authentification requise : envoyez « Authorization: Bearer <jeton> »."
        )
    return Ctx(principal=principal, conn=conn, client=client, settings=settings, sealer=sealer)


OperatorContext = Annotated[Ctx, Depends(operator_context)]


def operating(cmd: Command[Any, Any]) -> Callable[[Ctx], Awaitable[Ctx]]:
    """`acting` for the codec endpoint's caller."""

    async def check(ctx: OperatorContext) -> Ctx:
        if not cmd.allows(ctx.principal):
            raise refuse_role(cmd.roles, ctx.principal)
        return ctx

    return check


async def visitor(
    request: Request,
    conn: Conn,
    client: TemporalClient,
    settings: AppSettings,
    sealer: DataSealer,
) -> Visitor:
    """Someone on the sign-in pages: no principal, where they come from."""
    return Visitor(
        conn=conn,
        settings=settings,
        sealer=sealer,
        client=client,
        address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", "")[:200],
    )


PageContext = Annotated[Ctx, Depends(page_context)]
PrintableContext = Annotated[Ctx, Depends(printable_context)]
VisitorContext = Annotated[Visitor, Depends(visitor)]


def acting(cmd: Command[Any, Any]) -> Callable[[Ctx], Awaitable[Ctx]]:
    """The route's context, once the caller's role is one the command declares (403
    otherwise, before the object is looked up or the body read)."""

    async def check(ctx: Context) -> Ctx:
        if not cmd.allows(ctx.principal):
            raise refuse_role(cmd.roles, ctx.principal)
        return ctx

    return check


def reading(*roles: Role) -> Callable[[Ctx], Awaitable[Ctx]]:
    """The same check for a read that only some roles make."""
    allowed = frozenset(roles)

    async def check(ctx: Context) -> Ctx:
        if ctx.principal.role not in allowed:
            raise refuse_role(allowed, ctx.principal)
        return ctx

    return check


# A member reads its own records; the network's roles, managers included (they monitor every
# process), read everyone's.
MemberOrNetwork = Annotated[
    Ctx, Depends(reading(Role.ADMIN, Role.STAFF, Role.MANAGER, Role.MEMBER))
]


# --- the resources a caller may see (404 otherwise) -----------------------------------------


async def _campaign(campaign_id: UUID, ctx: Context) -> CampaignPublic:
    return await recruitment.visible_campaign(ctx, campaign_id)


async def _referral(referral_id: UUID, ctx: Context) -> ReferralAccess:
    return await recruitment.visible_referral(ctx, referral_id)


async def _service(code: str, ctx: Context) -> ServicePublic:
    return await pooling.catalogue_service(ctx, code)


async def _service_request(request_id: UUID, ctx: Context) -> ServiceRequestPublic:
    return await pooling.visible_request(ctx, request_id)


async def _pool(pool_id: str, ctx: Context) -> PoolPublic:
    return await pooling.visible_pool(ctx, pool_id)


async def _resource(resource_id: UUID, ctx: Context) -> ResourcePublic:
    return await booking.resource(ctx, resource_id)


async def _reservation(reservation_id: UUID, ctx: Context) -> ReservationPublic:
    return await booking.visible_reservation(ctx, reservation_id)


async def _convention(convention_id: UUID, ctx: Context) -> ConventionPublic:
    return await convention.visible_convention(ctx, convention_id)


VisibleCampaign = Annotated[CampaignPublic, Depends(_campaign)]
VisibleReferral = Annotated[ReferralAccess, Depends(_referral)]
CatalogueService = Annotated[ServicePublic, Depends(_service)]
VisibleServiceRequest = Annotated[ServiceRequestPublic, Depends(_service_request)]
VisiblePool = Annotated[PoolPublic, Depends(_pool)]
BookableResource = Annotated[ResourcePublic, Depends(_resource)]
VisibleReservation = Annotated[ReservationPublic, Depends(_reservation)]
VisibleConvention = Annotated[ConventionPublic, Depends(_convention)]
