"""What every Relais workflow shares: activity options, search attributes, and the
bookkeeping (status projection, tasks, mail) that makes it visible outside Temporal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
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

# Retrying cannot change these: a domain refusal, or a row pointing at nothing.
DOMAIN_REFUSALS = ["OnboardingRefused", "ForeignKeyViolationError"]

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=DOMAIN_REFUSALS,
)
# Activities are short Postgres writes: a short timeout lets a worker killed mid-activity be
# noticed (and the activity retried elsewhere) within seconds.
ACTIVITY_OPTIONS: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RETRY,
}


async def run_activity(fn: Any, arg: Any, *, local: bool = False, **kwargs: Any) -> Any:
    """Every activity call goes through here: one timeout and retry policy for all.

    `local=True` for short Postgres writes on a hot path (referral intake): run in the
    worker that holds the workflow task, without a round trip through the server's task
    queues; still recorded in history and retried with the same policy.
    """
    options = {**ACTIVITY_OPTIONS, **kwargs}
    if local:
        return await workflow.execute_local_activity_method(fn, arg, **options)
    return await workflow.execute_activity_method(fn, arg, **options)


class ProcessRecorder:
    """Keeps a workflow's row in `processes` and its search attributes in step with it, and
    names its effects (mail, tasks) so that each happens once per execution. These are
    short idempotent Postgres writes, run as local activities.

    `seq` only grows, so the store keeps the newest state even if activities retry late.
    Keys carry the first run id of the chain: stable across continue-as-new, new when a
    closed workflow id is reused (an onboarding reopened after it expired).
    """

    def __init__(
        self, process: ProcessKind, organisation_id: Any, title: str, seq: int = 0
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
        self._seq += 1
        if status != self.status:
            self.status = status
            # Kept only where the starter indexed the workflow (the API does): a server
            # without Relais' attributes (the time-skipping test server) rejects them.
            if workflow.info().typed_search_attributes.get(SA_PROCESS) is not None:
                workflow.upsert_search_attributes([SA_STATUS.value_set(status.value)])
        await run_activity(
            ProcessActivities.project_status,
            StatusProjection(
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
            ),
            local=True,
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
