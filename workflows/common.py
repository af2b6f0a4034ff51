"""What every Relais workflow shares: activity options, search attributes, and the
bookkeeping (status projection, tasks, mail) that makes it visible outside Temporal."""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict, TypeVar, Unpack
from uuid import UUID

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.types import MethodAsyncSingleParam

with workflow.unsafe.imports_passed_through():
    from activities.errors import REFUSALS
    from activities.processes import ProcessActivities
    from domain.processes import (
        OutboxMessage,
        ProcessKind,
        ProcessStatus,
        StatusProjection,
        TaskClose,
        TaskOpen,
    )

# Registered on the dev server by `relais dev` and in docker-compose's setup.
SA_PROCESS = SearchAttributeKey.for_keyword("RelaisProcess")
SA_STATUS = SearchAttributeKey.for_keyword("RelaisStatus")
SA_ORGANISATION = SearchAttributeKey.for_keyword("RelaisOrganisation")
SEARCH_ATTRIBUTES = (SA_PROCESS, SA_STATUS, SA_ORGANISATION)

# Errors no retry can cure, as the failure types Temporal compares (a class's own name: a
# base class listed here does not cover its subclasses, so each is named).
# - Postgres refusing the data (SQLSTATE class 22): asyncpg raises the most specific class,
#   or `DataError` itself (22000, e.g. a range whose bounds are reversed). asyncpg's own
#   `DataError` for an argument it cannot encode (an int past int32) bears the same name.
#   Kept equal to `asyncpg.exceptions.DataError`'s subclasses by tests/unit/test_retry_policy.
# - Integrity errors the same input always meets again: a row pointing at nothing, a check,
#   a missing value, a restricted delete. Unique and exclusion violations are left to the
#   retry: a concurrent writer may have raced, and the repositories handle what remains.
# - The activities' own refusals and missing rows (activities.errors) are non-retryable
#   by themselves; named here too so that the policy reads whole.
# Transient errors (a connection lost, a serialization failure, a deadlock, a timeout) are
# not here: RETRY retries them, with backoff, for as long as it takes.
POSTGRES_DATA_ERRORS = (
    "DataError",
    *"""
ArraySubscriptError BadCopyFileFormatError CharacterNotInRepertoireError
DatetimeFieldOverflowError DivisionByZeroError DuplicateJsonObjectKeyValueError
ErrorInAssignmentError EscapeCharacterConflictError IndicatorOverflowError
IntervalFieldOverflowError InvalidArgumentForLogarithmError
InvalidArgumentForNthValueFunctionError InvalidArgumentForNtileFunctionError
InvalidArgumentForPowerFunctionError InvalidArgumentForSQLJsonDatetimeFunctionError
InvalidArgumentForWidthBucketFunctionError InvalidBinaryRepresentationError
InvalidCharacterValueForCastError InvalidDatetimeFormatError InvalidEscapeCharacterError
InvalidEscapeOctetError InvalidEscapeSequenceError InvalidIndicatorParameterValueError
InvalidJsonTextError InvalidParameterValueError InvalidPrecedingOrFollowingSizeError
InvalidRegularExpressionError InvalidRowCountInLimitClauseError
InvalidRowCountInResultOffsetClauseError InvalidSQLJsonSubscriptError
InvalidTablesampleArgumentError InvalidTablesampleRepeatError InvalidTextRepresentationError
InvalidTimeZoneDisplacementValueError InvalidUseOfEscapeCharacterError InvalidXmlCommentError
InvalidXmlContentError InvalidXmlDocumentError InvalidXmlProcessingInstructionError
MoreThanOneSQLJsonItemError MostSpecificTypeMismatchError NoSQLJsonItemError
NonNumericSQLJsonItemError NonUniqueKeysInAJsonObjectError NonstandardUseOfEscapeCharacterError
NotAnXmlDocumentError NullValueNoIndicatorParameterError NullValueNotAllowedError
NumericValueOutOfRangeError PostgresFloatingPointError SQLJsonArrayNotFoundError
SQLJsonItemCannotBeCastToTargetTypeError SQLJsonMemberNotFoundError SQLJsonNumberNotFoundError
SQLJsonObjectNotFoundError SQLJsonScalarRequiredError SequenceGeneratorLimitExceededError
SingletonSQLJsonItemRequiredError StringDataLengthMismatchError StringDataRightTruncationError
SubstringError TooManyJsonArrayElementsError TooManyJsonObjectMembersError TrimError
UnterminatedCStringError UntranslatableCharacterError ZeroLengthCharacterStringError
""".split(),
)
POSTGRES_INTEGRITY_ERRORS = (
    "ForeignKeyViolationError",
    "CheckViolationError",
    "NotNullViolationError",
    "RestrictViolationError",
)
NOT_RETRYABLE = [
    *POSTGRES_DATA_ERRORS,
    *POSTGRES_INTEGRITY_ERRORS,
    *sorted(REFUSALS),
    "MissingRow",
]

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=NOT_RETRYABLE,
)
# Activities are short Postgres writes: a short timeout lets a worker killed mid-activity be
# noticed (and the activity retried elsewhere) within seconds.
ACTIVITY_TIMEOUT = timedelta(seconds=10)

SelfT = TypeVar("SelfT")
ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


class ActivityOptions(TypedDict, total=False):
    """What one call may change of the common options."""

    start_to_close_timeout: timedelta
    heartbeat_timeout: timedelta  # remote activities only


async def run_activity(
    fn: MethodAsyncSingleParam[SelfT, ArgT, ResultT],
    arg: ArgT,
    *,
    local: bool = False,
    **options: Unpack[ActivityOptions],
) -> ResultT:
    """Every activity call goes through here: one timeout and retry policy for all. The
    activity method's argument and result types are the call's.

    `local=True` for short Postgres writes on a hot path (referral intake): run in the
    worker that holds the workflow task, without a round trip through the server's task
    queues; still recorded in history and retried with the same policy.
    """
    timeout = options.get("start_to_close_timeout", ACTIVITY_TIMEOUT)
    if local:
        return await workflow.execute_local_activity_method(
            fn, arg, start_to_close_timeout=timeout, retry_policy=RETRY
        )
    return await workflow.execute_activity_method(
        fn,
        arg,
        start_to_close_timeout=timeout,
        heartbeat_timeout=options.get("heartbeat_timeout"),
        retry_policy=RETRY,
    )


def refusal(err: FailureError, *types: str) -> ApplicationError | None:
    """The activity's refusal behind `err` (one of `types`, any refusal when none is
    named), or None when it failed for another reason. A remote activity's failure arrives
    as an ActivityError around it, a local activity's as the refusal itself."""
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError) and cause.type in (types or REFUSALS):
        return cause
    return None


class ProcessRecorder:
    """Keeps a workflow's row in `processes` and its search attributes in step with it, and
    names its effects (mail, tasks) so that each happens once per execution. These are
    short idempotent Postgres writes, run as local activities.

    `seq` only grows, so the store keeps the newest state even if activities retry late.
    Keys carry the first run id of the chain: stable across continue-as-new, new when a
    closed workflow id is reused (an onboarding reopened after it expired).
    """

    def __init__(
        self, process: ProcessKind, organisation_id: UUID | None, title: str, seq: int = 0
    ) -> None:
        self.process = process
        self.organisation_id = organisation_id
        self.title = title
        self._seq = seq  # carried over by continue-as-new, or the store ignores the new run
        self.status: ProcessStatus | None = None

    @property
    def seq(self) -> int:
        return self._seq

    def key(self, suffix: str) -> str:
        info = workflow.info()
        return f"{info.workflow_id}:{info.first_execution_run_id}:{suffix}"

    async def record(self, status: ProcessStatus, step: str, waiting_on: str | None = None) -> None:
        await run_activity(
            ProcessActivities.project_status, self.advance(status, step, waiting_on), local=True
        )

    def advance(
        self, status: ProcessStatus, step: str, waiting_on: str | None = None
    ) -> StatusProjection:
        """What `record` writes, for a workflow that writes it in a transaction of its own
        bookkeeping (the search attribute is set here all the same)."""
        self._seq += 1
        if status != self.status:
            self.status = status
            # Kept only where the starter indexed the workflow (the API does): a server
            # without Relais' attributes (the time-skipping test server) rejects them.
            if workflow.info().typed_search_attributes.get(SA_PROCESS) is not None:
                workflow.upsert_search_attributes([SA_STATUS.value_set(status.value)])
        return StatusProjection(
            workflow_id=workflow.info().workflow_id,
            run_id=workflow.info().first_execution_run_id,
            process=self.process,
            organisation_id=self.organisation_id,
            title=self.title,
            status=status,
            step=step,
            waiting_on=waiting_on,
            since=workflow.now(),
            seq=self._seq,
        )

    async def mail(self, key: str, recipient: str, subject: str, body: str) -> None:
        await run_activity(
            ProcessActivities.enqueue_mail,
            OutboxMessage(
                dedup_key=self.key(key),
                recipient=recipient,
                subject=subject,
                body=body,
                workflow_id=workflow.info().workflow_id,
            ),
            local=True,
        )

    async def open_task(self, task: TaskOpen) -> None:
        await run_activity(ProcessActivities.open_task, task, local=True)

    async def close_task(self, key: str, outcome: str) -> None:
        await run_activity(
            ProcessActivities.close_task, TaskClose(key=key, outcome=outcome), local=True
        )
