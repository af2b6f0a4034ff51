"""What every client-side start and update shares: Relais' search attributes, an update
sent with its workflow's start, and the retry of an update the server never ran. Each
process's own starters (its workflow id, update, search attributes) sit at the end of its
workflow module, next to the workflow they start."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import TypedDict, TypeVar, Unpack
from uuid import UUID

import structlog
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.types import MethodAsyncSingleParam
from temporalio.workflow import UpdateMethodMultiParam

from domain.processes import ProcessKind, ProcessStatus
from workflows.common import SA_ORGANISATION, SA_PROCESS, SA_STATUS

WorkflowT = TypeVar("WorkflowT")
InputT = TypeVar("InputT")
RunResultT = TypeVar("RunResultT")
ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


def relais_attributes(
    process: ProcessKind, organisation_id: UUID, indexed: bool = True
) -> TypedSearchAttributes:
    """Relais' search attributes; `indexed=False` for a server that lacks them (the
    time-skipping test server)."""
    if not indexed:
        return TypedSearchAttributes.empty
    return TypedSearchAttributes(
        [
            SearchAttributePair(SA_PROCESS, process.value),
            SearchAttributePair(SA_STATUS, ProcessStatus.RUNNING.value),
            SearchAttributePair(SA_ORGANISATION, str(organisation_id)),
        ]
    )


async def update_with_start(
    client: Client,
    update: UpdateMethodMultiParam[[WorkflowT, ArgT], ResultT],
    arg: ArgT,
    *,
    update_id: str,
    run: MethodAsyncSingleParam[WorkflowT, InputT, RunResultT],
    input: InputT,
    id: str,
    task_queue: str,
    search_attributes: TypedSearchAttributes,
) -> ResultT:
    """An update sent with the start of its workflow: joins the workflow if it runs (a retry,
    a race), and never starts a closed one again (the same business process must not happen
    twice). Sent again while the server says it never ran (see `update_with_retry`), with a
    new start operation each time (one cannot be sent twice)."""
    return await _until_run(
        lambda: client.execute_update_with_start_workflow(
            update,
            arg,
            id=update_id,
            start_workflow_operation=WithStartWorkflowOperation(
                run,
                input,
                id=id,
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=search_attributes,
            ),
        ),
        id,
        ATTEMPTS,
    )


log = structlog.get_logger(__name__)

# The failure type of an update the server rejected because no worker processed it.
UNPROCESSED = "UnprocessedUpdate"
ATTEMPTS = 6  # over about 6 s: 0.2 s, doubled each time


class UpdateNotRun(Exception):
    """An update the server never ran, after every attempt of `update_with_retry`: nothing
    was recorded and the same act may be sent again later (the API answers 503)."""


def _never_ran(err: Exception) -> bool:
    if isinstance(err, RPCError):
        return err.status == RPCStatusCode.FAILED_PRECONDITION
    cause = err.cause if isinstance(err, WorkflowUpdateFailedError) else None
    return isinstance(cause, ApplicationError) and cause.type == UNPROCESSED


async def _until_run(
    send: Callable[[], Awaitable[ResultT]], workflow_id: str, attempts: int
) -> ResultT:
    for attempt in range(attempts):
        try:
            return await send()
        except (RPCError, WorkflowUpdateFailedError) as err:
            if not _never_ran(err):
                raise
            reason = err.cause if isinstance(err, WorkflowUpdateFailedError) else err
            log.warning(
                "update_not_run", workflow_id=workflow_id, attempt=attempt + 1, reason=str(reason)
            )
            if attempt == attempts - 1:
                raise UpdateNotRun(workflow_id) from err
        await asyncio.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


class UpdateOptions(TypedDict, total=False):
    """What `update_with_retry` passes on to `WorkflowHandle.execute_update`."""

    id: str | None
    rpc_metadata: Mapping[str, str | bytes]
    rpc_timeout: timedelta | None


async def update_with_retry(
    handle: WorkflowHandle[WorkflowT, RunResultT],
    update: UpdateMethodMultiParam[[WorkflowT, ArgT], ResultT],
    arg: ArgT,
    attempts: int = ATTEMPTS,
    **kwargs: Unpack[UpdateOptions],
) -> ResultT:
    """Send an update, sending it again while the server says it never ran: the workflow is
    not ready (FAILED_PRECONDITION: a workflow task failed, e.g. while a worker that died is
    replaced), or the server rejected it as unprocessed ("UnprocessedUpdate": the workflow
    task that carried it was completed without it, seen when a worker is killed while
    updates queue). Only for updates whose handlers answer a repeat as the first time.
    Raises `UpdateNotRun` when every attempt was refused so."""
    return await _until_run(
        lambda: handle.execute_update(update, arg, **kwargs), handle.id, attempts
    )


# Names the tests knew them by.
_indexed = relais_attributes
_update_with_start = update_with_start
