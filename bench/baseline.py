"""The baseline every benchmark compares against: a bare workflow with N no-op activities
that waits for one update after the first `wait_after`. Kept apart so the workflow sandbox
imports nothing heavy."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow

BASELINE_QUEUE = "bench-baseline"


class BaselineInput(BaseModel):
    activities: int
    wait_after: int | None = None


@activity.defn
async def noop(step: int) -> int:
    return step


@workflow.defn
class BaselineWorkflow:
    def __init__(self) -> None:
        self.go = False
        self.done = 0

    @workflow.run
    async def run(self, input: BaselineInput) -> int:
        for i in range(input.activities):
            if i == input.wait_after:
                await workflow.wait_condition(lambda: self.go)
            await workflow.execute_activity(noop, i, start_to_close_timeout=timedelta(seconds=30))
            self.done += 1
        return input.activities

    @workflow.update
    async def first_done(self, _: BaselineInput) -> int:
        """Answers after the first activity, like a registration sent with the start."""
        await workflow.wait_condition(lambda: self.done >= 1)
        return self.done

    @workflow.update
    async def go_on(self) -> None:
        self.go = True
