"""`relais dev` and `relais worker` stop in bounded time whatever their activities are doing:
here a booking's activity (and, in `relais dev`, the API request that waits on it) is stuck
behind a row lock held by another Postgres session, as a long migration or a forgotten
transaction would hold it. Ctrl-C or SIGTERM must still end every part — worker, API,
Temporal, Postgres — within the bound."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from pgserver.utils import PostmasterInfo

from domain.booking import ReservationInput, ResourceCreate, ResourceKind
from domain.organisations import OrganisationKind
from relais.shutdown import HARD_STOP_S
from store.booking import BookingRepository
from tests.factories import make_org
from tests.faults.test_worker_kill import WorkerProcess
from tests.leftovers import describe, servers_under
from tests.system.conftest import DevStack
from workflows.booking import book

pytestmark = pytest.mark.system

MEMBER = "member:Logistique des Arnavaux"
# The worker drains 10 s beside the API (5 s), then Temporal and Postgres stop; at worst the
# hard stop fires at 25 s and its last words (kill Temporal, stop Postgres) take a few more.
BOUND_S = HARD_STOP_S + 10
WAITING_INSERT = """SELECT count(*) FROM pg_stat_activity
                    WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO reservations%'"""


async def _blocked_activity(stack: DevStack, resource_id: str, token: str) -> float:
    """Lock the resource row, book it (the booking's INSERT waits on the lock inside its
    activity, the API request waits on the booking), Ctrl-C, and time the exit."""
    info = PostmasterInfo.read_from_pgdata(stack.home.resolve() / "pg")
    assert info is not None
    conn = await asyncpg.connect(info.get_uri(database="relais"))
    tx = conn.transaction()
    await tx.start()
    await conn.execute("SELECT 1 FROM resources WHERE id = $1 FOR UPDATE", resource_id)
    starts = datetime.now(UTC) + timedelta(days=3)
    body = {
        "request_id": "stuck",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
    }
    answers: list[object] = []

    def book() -> None:
        try:
            answers.append(
                httpx.post(
                    f"{stack.url}/api/resources/{resource_id}/reservations",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=120,
                )
            )
        except httpx.HTTPError as err:
            answers.append(err)

    request = threading.Thread(target=book, daemon=True)
    request.start()
    # Another session watches: inside the locking transaction pg_stat_activity would show
    # the snapshot taken at its first read.
    watcher = await asyncpg.connect(info.get_uri(database="relais"))
    deadline = time.monotonic() + 60
    while not await watcher.fetchval(WAITING_INSERT):
        assert time.monotonic() < deadline, f"the booking never reached its activity: {answers}"
        await asyncio.sleep(0.1)
    await watcher.close()
    await asyncio.sleep(1)  # well inside the activity and the request
    assert request.is_alive() and not answers

    assert stack.proc is not None
    t0 = time.monotonic()
    stack.proc.send_signal(signal.SIGINT)
    try:
        await asyncio.to_thread(stack.proc.wait, BOUND_S + 30)
    finally:
        elapsed = time.monotonic() - t0
        if stack.proc.poll() is None:
            stack.proc.kill()
        stack.log.close()
        conn.terminate()
    request.join(10)
    return elapsed


def test_ctrl_c_stops_the_stack_in_bounded_time_with_an_activity_stuck(stack):
    stack.start()
    token = stack.tokens()[MEMBER]
    resource_id = stack.get("/api/resources", token).json()[0]["id"]
    elapsed = asyncio.run(_blocked_activity(stack, resource_id, token))
    print(f"\nCtrl-C to exit with a stuck activity: {elapsed:.1f} s")
    assert elapsed < BOUND_S, stack.tail()
    time.sleep(1)
    assert not servers_under(stack.home), describe(servers_under(stack.home))


async def test_relais_worker_stops_in_bounded_time_with_an_activity_stuck(
    db, settings, dev_env, tmp_path
):
    network = await make_org(db, OrganisationKind.ASSOCIATION)
    member = await make_org(db)
    async with db.acquire() as c:
        room = await BookingRepository(c).create_resource(
            network.id, ResourceCreate(kind=ResourceKind.ROOM, name="Salle Estaque")
        )
    worker = WorkerProcess(
        settings, dev_env.client.service_client.config.target_host, tmp_path / "worker.log"
    )
    worker.start()
    starts = datetime.now(UTC) + timedelta(days=3)
    async with db.acquire() as lock, lock.transaction():
        await lock.execute("SELECT 1 FROM resources WHERE id = $1 FOR UPDATE", room.id)
        booking = asyncio.create_task(
            book(
                dev_env.client,
                settings.task_queue,
                ReservationInput(
                    reservation_id=uuid.uuid4(),
                    resource_id=room.id,
                    member_id=member.id,
                    created_by=uuid.uuid4(),
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                ),
            )
        )
        deadline = time.monotonic() + 60
        while not await db.fetchval(WAITING_INSERT):
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-2000:]
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        assert worker.proc is not None
        t0 = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(worker.proc.wait, HARD_STOP_S + 30)
        finally:
            elapsed = time.monotonic() - t0
            if worker.proc.poll() is None:
                worker.proc.kill()
        booking.cancel()
    print(f"\nSIGTERM to exit with a stuck activity: {elapsed:.1f} s")
    assert elapsed < HARD_STOP_S + 5, (tmp_path / "worker.log").read_text()[-3000:]
