"""The outbox sender: one long-running workflow that sends what the other workflows queued."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    # What the client-side starters at the end of this module use (never in a workflow).
    from temporalio.client import Client
    from temporalio.common import WorkflowIDConflictPolicy

    from activities.mail import MailActivities
    from domain.processes import OutboxBatch, OutboxRelayInput

OUTBOX_RELAY_ID = "outbox-relay"


@workflow.defn
class OutboxRelayWorkflow:
    """Sends the outbox, batch after batch, for as long as Relais runs.

    States: `sending` (a batch goes out: the activity claims due mails, sends each once over
    SMTP, and books retries or failures) and `idle` (until the next mail falls due, at most
    `poll_seconds`, or until woken by the `wake` signal). Nobody acts on it; the worker starts
    it (workflow id `outbox-relay`, one per namespace) and it continues as new every
    `rounds_per_run` batches so that its history stays short.
    """

    def __init__(self) -> None:
        self._woken = False

    @workflow.run
    async def run(self, input: OutboxRelayInput) -> None:
        for _ in range(input.rounds_per_run):
            result = await workflow.execute_activity_method(
                MailActivities.send_due,
                OutboxBatch(limit=input.batch),
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
                ),
            )
            if result.sent + result.retried + result.failed >= input.batch:
                continue  # a full batch: more may be due at once
            idle = input.poll_seconds
            if result.next_due_in is not None:
                idle = min(max(result.next_due_in, 0.5), idle)
            try:
                await workflow.wait_condition(lambda: self._woken, timeout=timedelta(seconds=idle))
            except TimeoutError:
                pass
            self._woken = False
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.continue_as_new(input)

    @workflow.signal
    def wake(self) -> None:
        """Something was queued: send now rather than at the next poll."""
        self._woken = True


# --- starting it (client side: the API's commands, the demo, the tests) ---------------


async def ensure_outbox_relay(client: Client, task_queue: str, input: OutboxRelayInput) -> None:
    """The outbox sender, started once per namespace (kept if it runs already)."""
    await client.start_workflow(
        OutboxRelayWorkflow.run,
        input,
        id=OUTBOX_RELAY_ID,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
