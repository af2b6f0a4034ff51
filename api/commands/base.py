"""What every command shares: who acts and with what (`Ctx`), how a command declares who
may call it (`command`), and how an act reaches its workflow (`send_update`)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar
from uuid import UUID

import asyncpg
from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

from domain.auth import Principal, Role
from domain.errors import Conflict, DomainError, Forbidden, Invalid
from domain.labels import ROLE_LABELS
from relais.settings import Settings
from store.crypto import Sealer
from store.requests import RequestRepository
from workflows.clients import update_with_retry

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Ctx:
    """Who acts, and what an act needs: the request's one database connection, the Temporal
    client, the settings and the sealer of personal data. `notices`: what the answer must
    also say (sent in the `Relais-Avis` header of a JSON answer)."""

    principal: Principal
    conn: asyncpg.Connection
    client: Client
    settings: Settings
    sealer: Sealer
    notices: list[str] = field(default_factory=list)
    on_notice: Callable[[str], None] | None = None
    address: str = ""  # the client's network address (rate limits per client)

    @property
    def task_queue(self) -> str:
        return self.settings.task_queue

    def notice(self, text: str) -> None:
        """Something the answer must also say."""
        self.notices.append(text)
        if self.on_notice is not None:
            self.on_notice(" ".join(self.notices))


def refuse_role(roles: frozenset[Role], p: Principal) -> Forbidden:
    """The 403 of a role a command does not take, in French: who may, and who the caller
    is."""
    names = ", ".join(ROLE_LABELS[r] for r in Role if r in roles)
    return Forbidden(f"Action réservée : {names} (votre rôle : {ROLE_LABELS[p.role]}).")


REUSED = (
    "Cette clé de requête (request_id « {} ») a déjà servi avec un autre contenu : la "
    "réponse est ce qui est enregistré pour cette clé, une seule demande est prise en compte. "
    "Pour une nouvelle demande, envoyez une autre clé."
)


def _subject(arg: object) -> str:
    """How an act's object names itself in a request id's scope."""
    for name in ("id", "workflow_id", "code"):
        value = getattr(arg, name, None)
        if value is not None:
            return str(value)
    return str(arg)


class Command(Generic[P, R]):
    """One act a person takes. Declares once who may take it (`roles`): the command checks
    it on every call (the inbox and the pages call it directly), and the JSON route checks
    the same set before anything else (`api.deps.acting`).

    An act whose input carries a `request_id` is answered once per id (a retry gets the
    first answer); the same id sent with another body gets that answer too, and the answer
    says so (`Ctx.notices`) instead of keeping quiet."""

    def __init__(self, fn: Callable[Concatenate[Ctx, P], Awaitable[R]], roles: frozenset[Role]):
        self.fn = fn
        self.roles = roles
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__

    def allows(self, p: Principal) -> bool:
        return p.role in self.roles

    def _fingerprint(self, ctx: Ctx, args: tuple[object, ...]) -> tuple[str, str, bytes] | None:
        data = args[-1] if args else None
        request_id = getattr(data, "request_id", None)
        if not isinstance(data, BaseModel) or not isinstance(request_id, str):
            return None
        subjects = ":".join(_subject(a) for a in args[:-1])
        scope = f"{self.__name__}:{ctx.principal.organisation_id}:{subjects}"
        body = data.model_dump_json(exclude={"request_id"})
        return scope, request_id, ctx.sealer.keyed_hash(f"{scope}|{body}")

    async def __call__(self, ctx: Ctx, *args: P.args, **kwargs: P.kwargs) -> R:
        if not self.allows(ctx.principal):
            raise refuse_role(self.roles, ctx.principal)
        fp = self._fingerprint(ctx, args)
        if fp is None:
            return await self.fn(ctx, *args, **kwargs)
        scope, request_id, digest = fp
        requests = RequestRepository(ctx.conn)
        first = await requests.first(scope, request_id)
        kept = first if first is not None else await requests.remember(scope, request_id, digest)
        if kept != digest:
            ctx.notice(REUSED.format(request_id))
        try:
            return await self.fn(ctx, *args, **kwargs)
        except DomainError:
            # Refused: nothing was done under this id, whose body need not be kept.
            if first is None and kept == digest:
                await requests.forget(scope, request_id, digest)
            raise


def command(
    *roles: Role,
) -> Callable[[Callable[Concatenate[Ctx, P], Awaitable[R]]], Command[P, R]]:
    """Declare an act and the roles that may take it (all roles when none are named: the
    command then decides from the object, e.g. a convention's own signatories)."""
    allowed = frozenset(roles) or frozenset(Role)

    def wrap(fn: Callable[Concatenate[Ctx, P], Awaitable[R]]) -> Command[P, R]:
        return Command(fn, allowed)

    return wrap


NETWORK = (Role.ADMIN, Role.STAFF, Role.MANAGER)
OPERATORS = (Role.ADMIN, Role.STAFF)
MANAGERS = (Role.ADMIN, Role.MANAGER)


# --- acts sent to workflows --------------------------------------------------------------


def refusal(err: WorkflowUpdateFailedError) -> str:
    """The workflow's own sentence for a refused update: its exception's message, without the
    exception's type that the SDK's text puts first ("ValueError: …")."""
    cause = err.cause
    return cause.message if isinstance(cause, FailureError) else str(cause or err)


async def send_update(
    handle: WorkflowHandle[Any, Any],
    update: Any,
    arg: Any,
    *,
    closed: str,
    refused: str = "{}",
    id: str | None = None,
) -> Any:
    """A person's act sent to its workflow (again while the server is not ready, see
    `update_with_retry`): a refusal by the workflow's validator or handler is a `Conflict`
    with its reason (`refused` formats it), a workflow already closed a `Conflict` saying
    `closed`."""
    try:
        return await update_with_retry(handle, update, arg, id=id)
    except WorkflowUpdateFailedError as err:
        raise Conflict(refused.format(refusal(err))) from None
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        raise Conflict(closed) from None


def act_id(action: str, arg: BaseModel) -> str:
    """The update id of an act that carries no request id (a convention's decision, a
    cancellation): the same act by the same person, sent again — at once, or once the
    workflow has ended — is one update, and Temporal answers every copy with the first one's
    outcome instead of a 409 "closed"."""
    return f"{action}-{hashlib.sha256(arg.model_dump_json().encode()).hexdigest()[:32]}"


def acting_for(p: Principal, member_id: UUID | None, *, own: str, name_it: str) -> UUID:
    """The member company a request is made for: a member acts for itself only (`own`
    otherwise); the network's staff must name it (`name_it` when missing)."""
    if p.role == Role.MEMBER:
        if member_id not in (None, p.organisation_id):
            raise Forbidden(own)
        return p.organisation_id
    if member_id is None:
        raise Invalid("member_id", f"{name_it}.")
    return member_id
