"""Client-side starters: the one place that knows each workflow's id, task queue and search
attributes. Used by the API and the demo loader; never imported by a workflow."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import TypedDict, TypeVar, Unpack
from uuid import UUID

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
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

from domain.booking import ReservationInput, ReservationState, reservation_workflow_id
from domain.convention import ConventionInput, ConventionState, convention_workflow_id
from domain.onboarding import MemberOnboardingInput, OnboardingState, onboarding_workflow_id
from domain.people import DigestInput
from domain.pooling import JoinRequest, JoinResult, PoolInput
from domain.processes import OutboxRelayInput, ProcessKind, ProcessStatus
from domain.recruitment import (
    CampaignInput,
    CampaignState,
    ErasureInput,
    ErasureResult,
    ReferralInput,
    RegisterRequest,
    Registration,
    campaign_workflow_id,
    referral_workflow_id,
)
from workflows.booking import ReservationWorkflow
from workflows.common import SA_ORGANISATION, SA_PROCESS, SA_STATUS
from workflows.convention import ConventionWorkflow
from workflows.onboarding import MemberOnboardingWorkflow
from workflows.outbox import OUTBOX_RELAY_ID, OutboxRelayWorkflow
from workflows.people import DIGEST_SCHEDULE_ID, DailyDigestWorkflow
from workflows.pooling import ServicePoolWorkflow
from workflows.recruitment import (
    CandidateErasureWorkflow,
    RecruitmentCampaignWorkflow,
    RecruitmentReferralWorkflow,
)

WorkflowT = TypeVar("WorkflowT")
InputT = TypeVar("InputT")
RunResultT = TypeVar("RunResultT")
ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


def _indexed(
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


async def _update_with_start(
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


async def start_onboarding(
    client: Client, task_queue: str, input: MemberOnboardingInput
) -> WorkflowHandle[MemberOnboardingWorkflow, OnboardingState]:
    """Raises WorkflowAlreadyStartedError while one is running for the organisation."""
    return await client.start_workflow(
        MemberOnboardingWorkflow.run,
        input,
        id=onboarding_workflow_id(input.organisation_id),
        task_queue=task_queue,
        search_attributes=_indexed(ProcessKind.ONBOARDING, input.organisation_id),
    )


async def start_campaign(
    client: Client, task_queue: str, input: CampaignInput, request_id: str, indexed: bool = True
) -> CampaignState:
    """Start (or find again, for a retried request) a campaign; answers once it is open.
    Raises WorkflowAlreadyStartedError when the campaign exists and is already closed."""
    return await _update_with_start(
        client,
        RecruitmentCampaignWorkflow.opened,
        RegisterRequest(request_id=request_id),
        update_id=f"open-{request_id}",
        run=RecruitmentCampaignWorkflow.run,
        input=input,
        id=campaign_workflow_id(input.campaign_id),
        task_queue=task_queue,
        search_attributes=_indexed(ProcessKind.RECRUITMENT, input.spec.employer_id, indexed),
    )


async def refer(
    client: Client, task_queue: str, input: ReferralInput, indexed: bool = True
) -> Registration:
    """Start a referral and answer with its registration. The workflow id comes from the
    agency's request id: the same request retried reaches the same workflow and answer.
    Raises WorkflowAlreadyStartedError when that referral's workflow is already closed: the
    caller answers from the store."""
    request_id = input.request_id
    return await _update_with_start(
        client,
        RecruitmentReferralWorkflow.register,
        RegisterRequest(request_id=request_id),
        update_id=f"register-{request_id}",
        run=RecruitmentReferralWorkflow.run,
        input=input,
        id=referral_workflow_id(input.campaign_id, input.agency_id, request_id),
        task_queue=task_queue,
        search_attributes=_indexed(ProcessKind.REFERRAL, input.agency_id, indexed),
    )


async def join_pool(
    client: Client, task_queue: str, pool: PoolInput, join: JoinRequest, indexed: bool = True
) -> JoinResult:
    """A member's request joins the pool of its service and period, starting it if it is the
    first: concurrent first requests meet in one workflow (the pool's id). Raises
    WorkflowUpdateFailedError when the pool no longer takes requests, and
    WorkflowAlreadyStartedError when it has ended."""
    return await _update_with_start(
        client,
        ServicePoolWorkflow.join,
        join,
        update_id=f"join-{join.request_id}",
        run=ServicePoolWorkflow.run,
        input=pool,
        id=pool.pool_id,
        task_queue=task_queue,
        search_attributes=_indexed(ProcessKind.POOLING, pool.service.network_id, indexed),
    )


async def book(
    client: Client, task_queue: str, input: ReservationInput, indexed: bool = True
) -> ReservationState:
    """Reserve a slot (confirmed or waitlisted); the same request retried finds the same
    reservation."""
    return await _update_with_start(
        client,
        ReservationWorkflow.book,
        RegisterRequest(request_id=str(input.reservation_id)),
        update_id=f"book-{input.reservation_id}",
        run=ReservationWorkflow.run,
        input=input,
        id=reservation_workflow_id(input.reservation_id),
        task_queue=task_queue,
        search_attributes=_indexed(ProcessKind.BOOKING, input.member_id, indexed),
    )


async def start_convention(
    client: Client, task_queue: str, input: ConventionInput, request_id: str, indexed: bool = True
) -> ConventionState:
    """Start (or find again, for a retried request) a convention; answers once its phase is
    stored. Raises WorkflowAlreadyStartedError when that convention has ended."""
    return await _update_with_start(
        client,
        ConventionWorkflow.opened,
        RegisterRequest(request_id=request_id),
        update_id=f"open-{request_id}",
        run=ConventionWorkflow.run,
        input=input,
        id=convention_workflow_id(input.convention_id),
        task_queue=task_queue,
        search_attributes=_indexed(ProcessKind.CONVENTION, input.network_id, indexed),
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


ERASURE_SCHEDULE_ID = "relais-candidate-erasure"


async def ensure_erasure_schedule(client: Client, task_queue: str, months: int) -> None:
    """The daily erasure of candidates not hired (idempotent: kept if it exists)."""
    try:
        await client.create_schedule(
            ERASURE_SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    CandidateErasureWorkflow.run,
                    ErasureInput(months=months),
                    id="candidate-erasure",
                    task_queue=task_queue,
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=1))]),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        pass


async def ensure_digest_schedule(
    client: Client, task_queue: str, hour: int, time_zone: str
) -> None:
    """The daily digest of overdue tasks, at `hour` in `time_zone` (kept if it exists)."""
    try:
        await client.create_schedule(
            DIGEST_SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    DailyDigestWorkflow.run,
                    DigestInput(),
                    id="daily-digest",
                    task_queue=task_queue,
                ),
                spec=ScheduleSpec(cron_expressions=[f"0 {hour} * * *"], time_zone_name=time_zone),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        pass


async def ensure_outbox_relay(client: Client, task_queue: str, input: OutboxRelayInput) -> None:
    """The outbox sender, started once per namespace (kept if it runs already)."""
    await client.start_workflow(
        OutboxRelayWorkflow.run,
        input,
        id=OUTBOX_RELAY_ID,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def erase_candidate(client: Client, task_queue: str, referral_id: UUID) -> ErasureResult:
    return await client.execute_workflow(
        CandidateErasureWorkflow.run,
        ErasureInput(referral_id=referral_id),
        id=f"erasure-{referral_id}",
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
