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
from domain.booking import ReservationPublic, reservation_workflow_id
from domain.convention import ConventionPublic, convention_workflow_id
from domain.errors import Conflict, DomainError, Forbidden, Invalid
from domain.labels import ROLE_LABELS
from domain.pooling import PoolPublic, ServiceRequestPublic
from domain.processes import AuditEvent
from relais.settings import Settings
from store.crypto import Sealer
from store.processes import ProcessRepository
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


# What an act's audit keeps of its input: the choices and the words a person gave.
SAID = frozenset(
    {
        "reason", "retained", "given", "hired", "accept", "confirmed", "delivered", "note",
        "comment", "stars", "close_reason", "quantity", "label", "amount_cents", "reference",
        "position_id", "renew", "title", "approve",
    }
)  # fmt: skip


def _plain(value: object) -> object:
    if isinstance(value, dict):  # a renewal's phase: said as such, its figures are audited
        return True
    return str(value) if isinstance(value, UUID) else value


def _workflow_of(obj: object) -> str | None:
    """The workflow an act's object (or result) is run by, when it has one."""
    wid = getattr(obj, "workflow_id", None)
    if isinstance(wid, str):
        return wid
    if isinstance(obj, WorkflowHandle):
        return str(obj.id)
    if isinstance(obj, ServiceRequestPublic):
        return obj.pool_id
    if isinstance(obj, PoolPublic):
        return obj.id
    if isinstance(obj, ConventionPublic):
        return convention_workflow_id(obj.id)
    if isinstance(obj, ReservationPublic):
        return reservation_workflow_id(obj.id)
    return None


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

    def __init__(
        self,
        fn: Callable[Concatenate[Ctx, P], Awaitable[R]],
        roles: frozenset[Role],
        audited: bool = True,
    ):
        self.fn = fn
        self.roles = roles
        self.audited = audited
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__
        self.action = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"

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
            result = await self.fn(ctx, *args, **kwargs)
            await self._audit(ctx, args, result, None)
            return result
        scope, request_id, digest = fp
        requests = RequestRepository(ctx.conn)
        kept, ours = await requests.remember(scope, request_id, digest)
        if kept != digest:
            ctx.notice(REUSED.format(request_id))
        try:
            result = await self.fn(ctx, *args, **kwargs)
        except DomainError:
            # Refused: nothing was done under this id, whose body need not be kept.
            if ours:
                await requests.forget(scope, request_id, digest)
            raise
        await self._audit(ctx, args, result, f"{scope}:{request_id}")
        return result

    async def _audit(
        self, ctx: Ctx, args: tuple[object, ...], result: object, request_key: str | None
    ) -> None:
        """The act in the audit trail, once: who, on what, with the reason they gave (the
        input's words and choices only — never a candidate's identity)."""
        if not self.audited:
            return
        data = args[-1] if args and isinstance(args[-1], BaseModel) else None
        said = (
            {k: _plain(v) for k, v in data.model_dump().items() if k in SAID and v is not None}
            if data is not None
            else {}
        )
        subject = args[0] if len(args) > 1 or (data is None and args) else result
        key = request_key or (
            f"{self.__name__}:{ctx.principal.user_id}:"
            + hashlib.sha256(
                f"{_subject(subject)}|{data.model_dump_json() if data else ''}".encode()
            ).hexdigest()[:32]
        )
        await ProcessRepository(ctx.conn).audit(
            AuditEvent(
                actor=str(ctx.principal.user_id),
                action=self.action,
                workflow_id=_workflow_of(subject) or _workflow_of(result),
                entity_type=self.action.split(".", 1)[0],
                entity_id=_subject(subject),
                data=said,
                dedup_key=f"act:{self.action}:{key}",
            )
        )


def command(
    *roles: Role, audited: bool = True
) -> Callable[[Callable[Concatenate[Ctx, P], Awaitable[R]]], Command[P, R]]:
    """Declare an act and the roles that may take it (all roles when none are named: the
    command then decides from the object, e.g. a convention's own signatories). Each act is
    audited once (`audited=False` where its workflow's activity audits it already)."""
    allowed = frozenset(roles) or frozenset(Role)

    def wrap(fn: Callable[Concatenate[Ctx, P], Awaitable[R]]) -> Command[P, R]:
        return Command(fn, allowed, audited)

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
