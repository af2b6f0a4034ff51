"""Where every process stands (from the Postgres projection) and who must act."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import CurrentUser, Pool, not_found
from domain.auth import UserPublic
from domain.common import Page
from domain.processes import ProcessKind, ProcessPublic, ProcessStatus, TaskPublic
from store.processes import ProcessRepository
from store.users import UserRepository

router = APIRouter(prefix="/api", tags=["processus"])


@router.get("/processes", response_model=Page[ProcessPublic])
async def list_processes(
    pool: Pool,
    principal: CurrentUser,
    process: ProcessKind | None = None,
    status: ProcessStatus | None = None,
    organisation_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    if not principal.sees_everything:
        if organisation_id not in (None, principal.organisation_id):
            return Page[ProcessPublic](items=[], total=0, limit=limit, offset=offset)
        organisation_id = principal.organisation_id
    async with pool.acquire() as c:
        return await ProcessRepository(c).list(
            process=process,
            status=status,
            organisation_id=organisation_id,
            limit=limit,
            offset=offset,
        )


@router.get("/processes/{workflow_id}", response_model=ProcessPublic)
async def get_process(workflow_id: str, pool: Pool, principal: CurrentUser):
    async with pool.acquire() as c:
        proc = await ProcessRepository(c).get(workflow_id)
    if (
        proc is None
        or (proc.organisation_id is not None and not principal.may_see(proc.organisation_id))
        or (proc.organisation_id is None and not principal.sees_everything)
    ):
        raise not_found("Processus")
    return proc


@router.get("/tasks", response_model=list[TaskPublic])
async def my_tasks(pool: Pool, principal: CurrentUser):
    """Open tasks of the caller's organisation (every open task for the network's staff)."""
    return await open_tasks_for(pool, principal)


async def open_tasks_for(pool, principal) -> list[TaskPublic]:
    if principal.sees_everything:
        org, role = None, None
    else:
        org, role = principal.organisation_id, principal.role.value
    async with pool.acquire() as c:
        return await ProcessRepository(c).open_tasks(org, role)


@router.get("/me", response_model=UserPublic)
async def me(pool: Pool, principal: CurrentUser):
    async with pool.acquire() as c:
        user = await UserRepository(c).get(principal.user_id)
    if user is None:
        raise not_found("Utilisateur")
    return user
