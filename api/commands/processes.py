"""Where every process stands (the Postgres projection), its history and its live state, as
far as the caller may see: the network all; an organisation its own processes, and in those
where it was given a task, its own tasks only."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from api.commands.base import Ctx
from domain.auth import UserPublic
from domain.common import Page
from domain.errors import NotFound
from domain.processes import (
    OutboxPublic,
    ProcessCount,
    ProcessDetail,
    ProcessFilter,
    ProcessPublic,
)
from store.processes import ProcessRepository
from store.users import UserRepository

log = structlog.get_logger(__name__)

LIVE_TIMEOUT = timedelta(seconds=5)


async def me(ctx: Ctx) -> UserPublic:
    user = await UserRepository(ctx.conn).get(ctx.principal.user_id)
    if user is None:
        raise NotFound.of("Utilisateur")
    return user


async def list_processes(ctx: Ctx, f: ProcessFilter) -> Page[ProcessPublic]:
    return await ProcessRepository(ctx.conn).list(f, ctx.principal.scope)


async def counts(ctx: Ctx) -> list[ProcessCount]:
    return await ProcessRepository(ctx.conn).counts(ctx.principal.scope)


async def visible_process(ctx: Ctx, workflow_id: str) -> tuple[ProcessPublic, bool]:
    """The process and whether the caller reads all of it (network, owner) or only its own
    tasks in it (an organisation given a task there). Anything else is a 404."""
    repo = ProcessRepository(ctx.conn)
    p = ctx.principal
    proc = await repo.get(workflow_id)
    if proc is None:
        raise NotFound.of("Processus")
    if p.sees_everything or proc.organisation_id == p.organisation_id:
        return proc, True
    if await repo.involved(workflow_id, p.organisation_id):
        return proc, False
    raise NotFound.of("Processus")


async def live_state(ctx: Ctx, workflow_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """The workflow's answer to its `state` query, or why there is none."""
    try:
        handle = ctx.client.get_workflow_handle(workflow_id)
        state = await asyncio.wait_for(
            handle.query("state", rpc_timeout=LIVE_TIMEOUT), LIVE_TIMEOUT.total_seconds() + 1
        )
    except (RPCError, WorkflowQueryFailedError, TimeoutError) as err:
        log.info("live state unavailable", workflow_id=workflow_id, error=str(err))
        return None, "État en direct indisponible (processus archivé ou serveur injoignable)."
    return (state if isinstance(state, dict) else {"value": state}), None


async def detail(ctx: Ctx, workflow_id: str) -> ProcessDetail:
    """One process: where it stands, its tasks, its history and the workflow's live state.
    An organisation given only a task in it sees its own tasks, not the rest."""
    proc, whole = await visible_process(ctx, workflow_id)
    repo = ProcessRepository(ctx.conn)
    tasks = await repo.tasks_of(workflow_id)
    timeline = await repo.timeline(workflow_id) if whole else []
    if not whole:
        tasks = [t for t in tasks if t.assignee_organisation_id == ctx.principal.organisation_id]
    live, live_error = await live_state(ctx, workflow_id) if whole else (None, None)
    return ProcessDetail(
        process=proc, tasks=tasks, timeline=timeline, live=live, live_error=live_error
    )


async def outbox(ctx: Ctx, limit: int = 100, offset: int = 0) -> list[OutboxPublic]:
    return await ProcessRepository(ctx.conn).outbox(limit=limit, offset=offset)
