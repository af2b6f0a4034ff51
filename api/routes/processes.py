"""Where every process stands (JSON), its history and live state, and the task inbox: who
must act, by when, and the act itself."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.commands import processes as procs
from api.commands import tasks as inbox
from api.deps import Context
from api.errors import RESPONSES
from domain.auth import UserPublic
from domain.common import Page
from domain.processes import (
    ProcessCount,
    ProcessDetail,
    ProcessFilter,
    ProcessPublic,
    TaskPublic,
)

router = APIRouter(prefix="/api", tags=["processus"], responses=RESPONSES)


@router.get("/processes", response_model=Page[ProcessPublic])
async def list_processes(ctx: Context, f: Annotated[ProcessFilter, Query()]) -> Page[ProcessPublic]:
    """Every process the caller may see (the network: all; an organisation: its own and those
    it has a task in), newest change first. `overdue`: those with an open task past due."""
    return await procs.list_processes(ctx, f)


@router.get("/processes/counts", response_model=list[ProcessCount])
async def count_processes(ctx: Context) -> list[ProcessCount]:
    """How many processes of each kind stand at each status (what the caller may see)."""
    return await procs.counts(ctx)


@router.get("/processes/{workflow_id}", response_model=ProcessDetail)
async def get_process(ctx: Context, workflow_id: str) -> ProcessDetail:
    """One process: where it stands, its tasks, its history and the workflow's live state.
    An organisation given only a task in it sees its own tasks, not the rest."""
    return await procs.detail(ctx, workflow_id)


@router.get("/tasks", response_model=list[TaskPublic])
async def my_tasks(
    ctx: Context,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TaskPublic]:
    """Open tasks for the caller's organisation and role (every open task for the network's
    staff), soonest due first; `overdue` keeps those past due."""
    return await inbox.open_tasks(ctx, overdue=overdue, limit=limit)


@router.get("/tasks/{task_id}", response_model=TaskPublic)
async def get_task(ctx: Context, task_id: UUID) -> TaskPublic:
    return await inbox.visible_task(ctx, task_id)


class TaskCompletion(BaseModel):
    """The answer to a task: `data` is what the task's own action takes (the same body as
    its dedicated route, e.g. `{"request_id": "…", "hired": true}` for an employer's
    decision)."""

    data: dict[str, Any] = Field(default_factory=dict)


class TaskDone(BaseModel):
    task: TaskPublic
    result: dict[str, Any] | None


@router.post("/tasks/{task_id}/complete", response_model=TaskDone)
async def complete(ctx: Context, task_id: UUID, body: TaskCompletion) -> TaskDone:
    """Carry out the task: the matching update goes to its workflow, which closes the task."""
    task = await inbox.visible_task(ctx, task_id)
    result = await inbox.complete_task(ctx, task, body.data)
    done = await inbox.visible_task(ctx, task_id)
    return TaskDone(task=done, result=result.model_dump(mode="json"))


@router.get("/me", response_model=UserPublic)
async def me(ctx: Context) -> UserPublic:
    return await procs.me(ctx)
