"""Rate limits for commands, held in Postgres so that they hold across API replicas.

Declare a `Limit` once, then either call `await enforce(ctx, LIMIT, key)` at the start of a
command, or decorate it:

    REFERRALS = Limit("referrals-per-agency", 300, timedelta(hours=1),
                      "Trop de candidatures proposées en une heure")

    @command(Role.AGENCY)
    @limited(REFERRALS, lambda ctx, *_: str(ctx.principal.organisation_id))
    async def refer(ctx, campaign, body): ...

A refused call raises `TooMany` (429, `Retry-After`, the limit's French sentence). Every call
counts, refused ones too. Call it before the act's transaction: a hit inside a transaction
that then rolls back (a wrong password) would not count.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import asyncpg

from domain.auth import Principal
from domain.errors import TooMany
from relais.settings import Settings
from store.crypto import Sealer
from store.limits import LimitRepository

P = ParamSpec("P")
R = TypeVar("R")


class HasConnection(Protocol):
    """A command's context (`Ctx`) or a visitor's (`Visitor`): a connection and the sealer
    (keys are keyed hashes: no address or client is stored)."""

    @property
    def conn(self) -> asyncpg.Connection: ...

    @property
    def sealer(self) -> Sealer: ...


@dataclass(frozen=True)
class Limit:
    """At most `max` calls per `window` (a day at most) for one key; `message` says what was
    refused, the wait is added."""

    name: str
    max: int
    window: timedelta
    message: str


def _wait(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} secondes"
    return f"{math.ceil(seconds / 60)} minutes"


async def enforce(ctx: HasConnection, limit: Limit, key: str) -> None:
    if ctx.conn.is_in_transaction():
        raise RuntimeError("rate limits are counted before the act's transaction")
    digest = ctx.sealer.keyed_hash(f"{limit.name}\0{key}")
    count = await LimitRepository(ctx.conn).hit(limit.name, digest, limit.window)
    if count.hits > limit.max:
        retry_after = max(1, math.ceil(count.window_left_s))
        raise TooMany(f"{limit.message} : réessayez dans {_wait(retry_after)}.", retry_after)


def limited(
    limit: Limit, key: Callable[..., str]
) -> Callable[
    [Callable[Concatenate[Any, P], Awaitable[R]]], Callable[Concatenate[Any, P], Awaitable[R]]
]:
    """The same, as a decorator: `key(ctx, *args)` names what is counted."""

    def wrap(
        fn: Callable[Concatenate[Any, P], Awaitable[R]],
    ) -> Callable[Concatenate[Any, P], Awaitable[R]]:
        @functools.wraps(fn)
        async def run(ctx: Any, *args: P.args, **kwargs: P.kwargs) -> R:
            await enforce(ctx, limit, key(ctx, *args, **kwargs))
            return await fn(ctx, *args, **kwargs)

        return run

    return wrap


class Acting(HasConnection, Protocol):
    """A signed-in caller's context (`Ctx`): who, from where, under which settings."""

    @property
    def principal(self) -> Principal: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def address(self) -> str: ...


async def per_person_and_client(
    ctx: Acting, name: str, per_person: int, window: timedelta, message: str
) -> None:
    """The same limit for the caller (a person, or a machine's token: its owner) and, a few
    times wider, for the client's address (several people behind one office's address)."""
    await enforce(
        ctx, Limit(f"{name}-person", per_person, window, message), str(ctx.principal.user_id)
    )
    if ctx.address:
        factor = ctx.settings.rate_per_client_factor
        await enforce(
            ctx, Limit(f"{name}-client", per_person * factor, window, message), ctx.address
        )


TEN_MINUTES = timedelta(minutes=10)


async def reports(ctx: Acting) -> None:
    """Reports, evaluations and exports are counted from the whole of a campaign or a phase."""
    limit = ctx.settings.rate_reports_per_10min
    await per_person_and_client(ctx, "reports", limit, TEN_MINUTES, "Trop de bilans demandés")


async def snapshots(ctx: Acting) -> None:
    limit = ctx.settings.rate_snapshots_per_10min
    await per_person_and_client(
        ctx, "snapshots", limit, TEN_MINUTES, "Trop de calculs d'indicateurs demandés"
    )


async def referrals(ctx: Acting) -> None:
    """Referrals per agency: each answer says whether a person was referred before (a
    duplicate), which must not become an oracle on people."""
    hour = timedelta(hours=1)
    limit = ctx.settings.rate_referrals_per_hour
    message = "Trop de candidatures proposées en une heure par votre agence"
    await enforce(
        ctx, Limit("referrals-agency", limit, hour, message), str(ctx.principal.organisation_id)
    )
    if ctx.address:
        factor = ctx.settings.rate_per_client_factor
        await enforce(ctx, Limit("referrals-client", limit * factor, hour, message), ctx.address)
