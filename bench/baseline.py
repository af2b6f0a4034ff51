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


class PoolBaselineInput(BaseModel):
    members: int
    local_activities: int  # besides the one each member update runs
    activities: int


LOCAL = {"start_to_close_timeout": timedelta(seconds=30)}


@workflow.defn
class PoolBaselineWorkflow:
    """The shape of a pool without its business: `members` updates that each run one local
    no-op (joins), then as many (accepts), two provider updates that wait for the next phase,
    and as many again (ratings); the pool's other local and regular activities spread over
    the same phases."""

    def __init__(self) -> None:
        self.members = 0
        self.provider_calls = 0
        self.phase = 0

    @workflow.run
    async def run(self, i: PoolBaselineInput) -> int:
        per, regular = i.local_activities // 4, i.activities
        n = i.members
        await workflow.wait_condition(lambda: self.members >= n)
        await self._local(per)
        self.phase = 1
        await workflow.wait_condition(lambda: self.members >= 2 * n)
        await self._regular(1)
        await self._local(per)
        self.phase = 2
        await workflow.wait_condition(lambda: self.provider_calls >= 1)
        await self._regular(1)
        self.phase = 3
        await workflow.wait_condition(lambda: self.provider_calls >= 2)
        await self._regular(max(regular - 2, 0))
        await self._local(per)
        self.phase = 4
        await workflow.wait_condition(lambda: self.members >= 3 * n)
        await self._local(i.local_activities - 3 * per)
        self.phase = 5
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.members

    async def _local(self, k: int) -> None:
        for step in range(k):
            await workflow.execute_local_activity(noop, step, **LOCAL)

    async def _regular(self, k: int) -> None:
        for step in range(k):
            await workflow.execute_activity(noop, step, **LOCAL)

    @workflow.update
    async def member(self, _: PoolBaselineInput) -> int:
        await workflow.execute_local_activity(noop, 0, **LOCAL)
        self.members += 1
        return self.members

    @workflow.update
    async def provider(self) -> int:
        self.provider_calls += 1
        target = self.provider_calls + 2
        await workflow.wait_condition(lambda: self.phase >= target)
        return self.phase

    @workflow.update
    async def reached(self, phase: int) -> int:
        await workflow.wait_condition(lambda: self.phase >= phase)
        return self.phase


@workflow.defn
class ReportBaselineWorkflow:
    """A standing workflow answering each `refresh` update after one no-op activity: the
    floor of a figure computed on demand (a convention's KPI snapshot) through an update."""

    def __init__(self) -> None:
        self.stop = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.stop)

    @workflow.update
    async def refresh(self, step: int) -> int:
        return await workflow.execute_activity(noop, step, **LOCAL)

    @workflow.signal
    def done(self) -> None:
        self.stop = True
