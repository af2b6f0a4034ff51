"""An activity that meets an error no retry can cure fails its workflow step at once.

The reservation workflow's input carries its slot as two datetimes that nothing orders
(`ReservationCreate` checks them for the API; the starter, the demo loader or a script can
send any): a slot that ends before it begins reaches Postgres, which refuses the range
(SQLSTATE 22000, asyncpg's `DataError`). Under a retry policy without an attempt limit, that
activity used to be retried forever; now the step fails on its first attempt. So does a
reservation of a resource that does not exist (an assert in the store, retried forever, is
now MissingRow). Real time-skipping server, real activities and Postgres; an interceptor
only counts attempts."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)

from domain.auth import Role
from domain.booking import ReservationInput, ResourceCreate, ResourceKind, reservation_workflow_id
from domain.organisations import OrganisationKind
from store.booking import BookingRepository
from tests.factories import make_org, make_user
from worker.main import WORKFLOWS, activities_for, workflow_runner
from workflows.booking import ReservationWorkflow


class CountAttempts(Interceptor):
    """Records the attempt number of every activity execution, by activity type."""

    def __init__(self) -> None:
        self.attempts: dict[str, list[int]] = {}

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        counter = self

        class Inbound(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput):
                info = activity.info()
                counter.attempts.setdefault(info.activity_type, []).append(info.attempt)
                return await super().execute_activity(input)

        return Inbound(next)


async def _slot_owner(db):
    network = await make_org(db, OrganisationKind.ASSOCIATION)
    member = await make_org(db)
    user, _ = await make_user(db, member.id, Role.MEMBER)
    async with db.acquire() as c:
        room = await BookingRepository(c).create_resource(
            network.id, ResourceCreate(kind=ResourceKind.ROOM, name="Salle Estaque")
        )
    return room, member, user


def _failure(err: WorkflowFailureError) -> ApplicationError:
    # A local activity's failure arrives bare, a remote one's inside an ActivityError.
    cause = err.cause.cause if isinstance(err.cause, ActivityError) else err.cause
    assert isinstance(cause, ApplicationError)
    return cause


def _worker(env, db, settings, counter: CountAttempts) -> Worker:
    return Worker(
        env.client,
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(db, settings, env.client),
        workflow_runner=workflow_runner(),
        interceptors=[counter],
    )


@pytest.mark.parametrize(
    ("case", "failure_type", "message"),
    [
        # Postgres refuses the range: SQLSTATE 22000, asyncpg's DataError.
        ("reversed_slot", "DataError", "range lower bound must be less than or equal"),
        # No such resource: nothing inserted, nothing to answer (was an assert, retried).
        ("unknown_resource", "MissingRow", "not found"),
    ],
)
async def test_an_incurable_error_fails_the_step_on_its_first_attempt(
    ts_env, db, settings, case, failure_type, message
):
    room, member, user = await _slot_owner(db)
    starts = datetime.now(UTC) + timedelta(days=3)
    bad = ReservationInput(
        reservation_id=uuid.uuid4(),
        resource_id=uuid.uuid4() if case == "unknown_resource" else room.id,
        member_id=member.id,
        created_by=user,
        starts_at=starts,
        ends_at=starts + timedelta(hours=-2 if case == "reversed_slot" else 2),
    )
    counter = CountAttempts()
    async with _worker(ts_env, db, settings, counter):
        handle = await ts_env.client.start_workflow(
            ReservationWorkflow.run,
            bad,
            id=reservation_workflow_id(bad.reservation_id),
            task_queue=settings.task_queue,
        )
        with pytest.raises(WorkflowFailureError) as failed:
            # Retried, it would still be trying: backoff 1 s, 2 s, 4 s … for ever.
            await asyncio.wait_for(handle.result(), timeout=30)

    cause = _failure(failed.value)
    assert cause.type == failure_type
    assert message in cause.message
    assert counter.attempts == {"reserve": [1]}
    assert await db.fetchval("SELECT count(*) FROM reservations") == 0


async def test_a_reservation_that_is_fine_still_goes_through(ts_env, db, settings):
    """The same worker and policy: a slot in order is confirmed at the first attempt."""
    room, member, user = await _slot_owner(db)
    starts = datetime.now(UTC) + timedelta(days=3)
    good = ReservationInput(
        reservation_id=uuid.uuid4(),
        resource_id=room.id,
        member_id=member.id,
        created_by=user,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
    )
    counter = CountAttempts()
    async with _worker(ts_env, db, settings, counter):
        handle = await ts_env.client.start_workflow(
            ReservationWorkflow.run,
            good,
            id=reservation_workflow_id(good.reservation_id),
            task_queue=settings.task_queue,
        )
        for _ in range(100):
            state = await handle.query(ReservationWorkflow.state)
            if state is not None:
                break
            await asyncio.sleep(0.05)
        assert state is not None and state.status == "confirmed"
        await handle.terminate("test over")
    assert counter.attempts["reserve"] == [1]
    assert await db.fetchval("SELECT status FROM reservations") == "confirmed"
