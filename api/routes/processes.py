"""Where every process stands (from the Postgres projection), its history and live state,
and the task inbox: who must act, by when, and the act itself."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from api.deps import AppSettings, CurrentUser, DataSealer, Pool, TemporalClient, not_found
from api.tasks import Acting, complete_task
from domain.auth import Principal, UserPublic
from domain.common import Page
from domain.processes import (
    ProcessCount,
    ProcessDetail,
    ProcessFilter,
    ProcessPublic,
    TaskPublic,
)
from store.processes import ProcessRepository
from store.users import UserRepository

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api", tags=["processus"])

LIVE_TIMEOUT = timedelta(seconds=5)


@router.get("/processes", response_model=Page[ProcessPublic])
async def list_processes(
    pool: Pool, principal: CurrentUser, f: Annotated[ProcessFilter, Query()]
) -> Page[ProcessPublic]:
    """Every process the caller may see (the network: all; an organisation: its own and those
    it has a task in), newest change first. `overdue`: those with an open task past due."""
    async with pool.acquire() as c:
        return await ProcessRepository(c).list(f, principal.scope)


@router.get("/processes/counts", response_model=list[ProcessCount])
async def count_processes(pool: Pool, principal: CurrentUser) -> list[ProcessCount]:
    """How many processes of each kind stand at each status (what the caller may see)."""
    async with pool.acquire() as c:
        return await ProcessRepository(c).counts(principal.scope)


async def visible_process(pool, p: Principal, workflow_id: str) -> tuple[ProcessPublic, bool]:
    """The process and whether the caller reads all of it (network, owner) or only its own
    tasks in it (an organisation given a task there). Anything else is a 404."""
    async with pool.acquire() as c:
        repo = ProcessRepository(c)
        proc = await repo.get(workflow_id)
        if proc is None:
            raise not_found("Processus")
        if p.sees_everything or proc.organisation_id == p.organisation_id:
            return proc, True
        if await repo.involved(workflow_id, p.organisation_id):
            return proc, False
    raise not_found("Processus")


async def live_state(client: Client, workflow_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """The workflow's answer to its `state` query, or why there is none."""
    try:
        handle = client.get_workflow_handle(workflow_id)
        state = await asyncio.wait_for(
            handle.query("state", rpc_timeout=LIVE_TIMEOUT), LIVE_TIMEOUT.total_seconds() + 1
        )
    except (RPCError, WorkflowQueryFailedError, TimeoutError) as err:
        log.info("live state unavailable", workflow_id=workflow_id, error=str(err))
        return None, "État en direct indisponible (processus archivé ou serveur injoignable)."
    return (state if isinstance(state, dict) else {"value": state}), None


@router.get("/processes/{workflow_id}", response_model=ProcessDetail)
async def get_process(
    workflow_id: str, pool: Pool, client: TemporalClient, principal: CurrentUser
) -> ProcessDetail:
    """One process: where it stands, its tasks, its history and the workflow's live state.
    An organisation given only a task in it sees its own tasks, not the rest."""
    proc, whole = await visible_process(pool, principal, workflow_id)
    async with pool.acquire() as c:
        repo = ProcessRepository(c)
        tasks = await repo.tasks_of(workflow_id)
        timeline = await repo.timeline(workflow_id) if whole else []
    if not whole:
        tasks = [t for t in tasks if t.assignee_organisation_id == principal.organisation_id]
    live, live_error = await live_state(client, workflow_id) if whole else (None, None)
    return ProcessDetail(
        process=proc, tasks=tasks, timeline=timeline, live=live, live_error=live_error
    )


@router.get("/tasks", response_model=list[TaskPublic])
async def my_tasks(
    pool: Pool,
    principal: CurrentUser,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TaskPublic]:
    """Open tasks for the caller's organisation and role (every open task for the network's
    staff), soonest due first; `overdue` keeps those past due."""
    return await open_tasks_for(pool, principal, overdue=overdue, limit=limit)


async def open_tasks_for(
    pool, principal: Principal, *, overdue: bool = False, limit: int = 100
) -> list[TaskPublic]:
    if principal.sees_everything:
        org, role = None, None
    else:
        org, role = principal.organisation_id, principal.role.value
    async with pool.acquire() as c:
        return await ProcessRepository(c).open_tasks(org, role, overdue=overdue, limit=limit)


async def visible_task(pool, p: Principal, task_id: UUID) -> TaskPublic:
    async with pool.acquire() as c:
        task = await ProcessRepository(c).task(task_id)
    if task is None or not (
        p.sees_everything or task.assignee_organisation_id == p.organisation_id
    ):
        raise not_found("Tâche")
    return task


@router.get("/tasks/{task_id}", response_model=TaskPublic)
async def get_task(task_id: UUID, pool: Pool, principal: CurrentUser) -> TaskPublic:
    return await visible_task(pool, principal, task_id)


class TaskCompletion(BaseModel):
    """The answer to a task: `data` is what the task's own action takes (the same body as
    its dedicated route, e.g. `{"request_id": "…", "hired": true}` for an employer's
    decision)."""

    data: dict[str, Any] = Field(default_factory=dict)


class TaskDone(BaseModel):
    task: TaskPublic
    result: dict[str, Any] | None


@router.post("/tasks/{task_id}/complete", response_model=TaskDone)
async def complete(
    task_id: UUID,
    body: TaskCompletion,
    pool: Pool,
    client: TemporalClient,
    settings: AppSettings,
    sealer: DataSealer,
    principal: CurrentUser,
) -> TaskDone:
    """Carry out the task: the matching update goes to its workflow, which closes the task."""
    task = await visible_task(pool, principal, task_id)
    ctx = Acting(pool=pool, client=client, settings=settings, sealer=sealer, principal=principal)
    result = await complete_task(ctx, task, body.data)
    async with pool.acquire() as c:
        task = await ProcessRepository(c).task(task_id) or task
    return TaskDone(task=task, result=result)


@router.get("/me", response_model=UserPublic)
async def me(pool: Pool, principal: CurrentUser):
    async with pool.acquire() as c:
        user = await UserRepository(c).get(principal.user_id)
    if user is None:
        raise not_found("Utilisateur")
    return user
