"""Dependencies: the app's pool, Temporal client and settings, and who is calling."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import Cookie, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

from domain.auth import Principal, Role
from relais.settings import Settings
from store.crypto import Sealer
from store.users import UserRepository
from workflows.clients import update_with_retry

TOKEN_COOKIE = "relais_token"  # noqa: S105 (a cookie name)
_bearer = HTTPBearer(auto_error=False, description="Jeton d'API (`relais token create`)")


def get_pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


def get_client(request: Request) -> Client:
    return request.app.state.client


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_sealer(request: Request) -> Sealer:
    return request.app.state.sealer


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]
TemporalClient = Annotated[Client, Depends(get_client)]
AppSettings = Annotated[Settings, Depends(get_settings)]
DataSealer = Annotated[Sealer, Depends(get_sealer)]


async def current_principal(
    pool: Pool,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie_token: Annotated[str | None, Cookie(alias=TOKEN_COOKIE)] = None,
) -> Principal:
    token = credentials.credentials if credentials else cookie_token
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Authentification requise : envoyez « Authorization: Bearer <jeton> ».",
            headers={"WWW-Authenticate": "Bearer"},
        )
    async with pool.acquire() as c:
        principal = await UserRepository(c).principal_for_token(token)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Jeton inconnu ou révoqué.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require(*roles: Role):
    """A dependency that lets only `roles` through (403 for the others)."""
    allowed = frozenset(roles)

    async def check(principal: CurrentUser) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"Action réservée aux rôles : {names} (votre rôle : {principal.role.value}).",
            )
        return principal

    return check


# A member reads its own records; the network's roles, managers included (they monitor every
# process), read everyone's.
MemberOrNetwork = Annotated[
    Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.MANAGER, Role.MEMBER))
]


async def send_update(
    handle: WorkflowHandle, update: Any, arg: Any, *, closed: str, refused: str = "{}", **kwargs
) -> Any:
    """A person's action sent to its workflow (again while the server is not ready, see
    `update_with_retry`): a refusal by the workflow's validator or handler is a 409 with its
    reason (`refused` formats it), a workflow already closed a 409 saying `closed`."""
    try:
        return await update_with_retry(handle, update, arg, **kwargs)
    except WorkflowUpdateFailedError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, refused.format(refusal(err))) from None
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        raise HTTPException(status.HTTP_409_CONFLICT, closed) from None


def refusal(err: WorkflowUpdateFailedError) -> str:
    """The workflow's own sentence for a refused update: its exception's message, without the
    exception's type that the SDK's text puts first ("ValueError: …")."""
    cause = err.cause
    return cause.message if isinstance(cause, FailureError) else str(cause or err)


def act_id(action: str, arg: BaseModel) -> str:
    """The update id of an act that carries no request id (a convention's decision, a
    cancellation): the same act by the same person, sent again — at once, or once the
    workflow has ended — is one update, and Temporal answers every copy with the first one's
    outcome instead of a 409 "closed"."""
    return f"{action}-{hashlib.sha256(arg.model_dump_json().encode()).hexdigest()[:32]}"


def acting_for(p: Principal, member_id: UUID | None, *, own: str, name_it: str) -> UUID:
    """The member company a request is made for: a member acts for itself only (403 `own`
    otherwise); the network's staff must name it (422 `name_it` when missing)."""
    if p.role == Role.MEMBER:
        if member_id not in (None, p.organisation_id):
            raise HTTPException(status.HTTP_403_FORBIDDEN, own)
        return p.organisation_id
    if member_id is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"Données invalides — member_id : {name_it}."
        )
    return member_id


def not_found(what: str) -> HTTPException:
    # Another organisation's object answers exactly like a missing one.
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} introuvable.")
