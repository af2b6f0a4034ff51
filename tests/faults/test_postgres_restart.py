"""Postgres crashes (`pg_ctl stop -m immediate`) and comes back while onboardings and charter
acceptances write to it: activities fail, retry, the asyncpg pool reconnects, and the final
counts are the expected ones — nothing lost, nothing written or mailed twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import asyncpg
import pgserver
import pytest

from domain.auth import Role
from domain.onboarding import (
    CharterAcceptance,
    OnboardingStep,
    onboarding_workflow_id,
)
from domain.organisations import OrganisationStatus
from relais.reaper import stop_cluster
from store.migrate import migrate_dsn
from store.pool import create_pool
from tests.factories import make_org, make_user, onboarding_input
from worker.main import build_worker
from workflows.clients import update_with_retry
from workflows.onboarding import MemberOnboardingWorkflow, start_onboarding

pytestmark = pytest.mark.system

COMPANIES = 30


class CrashablePostgres:
    """A cluster of its own (the session's is shared by every test)."""

    def __init__(self, pgdata) -> None:
        self.server = pgserver.get_server(pgdata, cleanup_mode="stop")
        self.pgdata = pgdata
        self.socket_dir = parse_qs(urlparse(self.server.get_uri()).query)["host"][0]

    def crash(self) -> None:
        pgserver.pg_ctl(
            ["-w", "-m", "immediate", "stop"], pgdata=self.pgdata, user=self.server.system_user
        )

    def restart(self) -> None:
        pgserver.pg_ctl(
            ["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log"),
             "start"],
            pgdata=self.pgdata,
            user=self.server.system_user,  # as root, pgserver runs Postgres as its own user
        )  # fmt: skip


@pytest.fixture
async def crashable(tmp_path):
    pg = CrashablePostgres(tmp_path / "pg")
    admin = await asyncpg.connect(pg.server.get_uri())
    await admin.execute('CREATE DATABASE "relais_crash"')
    await admin.close()
    url = pg.server.get_uri("relais_crash")
    await migrate_dsn(url)
    pool = await create_pool(url, min_size=2, max_size=10)
    yield pg, pool
    await pool.close()
    pg.server.cleanup()
    # pgserver stops the postmaster it started; the one restarted above is another process.
    await asyncio.to_thread(stop_cluster, pg.pgdata)


async def test_postgres_crash_under_load_loses_and_duplicates_nothing(crashable, settings, dev_env):
    pg, db = crashable
    companies = []
    for i in range(COMPANIES):
        org = await make_org(db, name=f"Atelier {i}", status=OrganisationStatus.PENDING)
        companies.append((org, (await make_user(db, org.id, Role.MEMBER))[0]))
    client = dev_env.client

    async def onboard(i: int, org, user) -> OnboardingStep:
        await start_onboarding(
            client,
            settings.task_queue,
            onboarding_input(org.id, f"contact{i}@example.fr", reminder_after=timedelta(days=7)),
        )
        handle = client.get_workflow_handle_for(
            MemberOnboardingWorkflow.run, onboarding_workflow_id(org.id)
        )
        state = await update_with_retry(
            handle,
            MemberOnboardingWorkflow.accept_charter,
            CharterAcceptance(
                request_id=str(uuid.uuid4()), user_id=user, organisation_id=org.id, role=Role.MEMBER
            ),
        )
        return state.step

    async with build_worker(client, db, settings):
        load = [asyncio.create_task(onboard(i, o, u)) for i, (o, u) in enumerate(companies)]
        await asyncio.sleep(0.8)  # the worker is writing memberships, mail, tasks, statuses
        await asyncio.to_thread(pg.crash)
        done_while_up = sum(t.done() for t in load)
        await asyncio.sleep(4)  # activities fail and back off meanwhile
        await asyncio.to_thread(pg.restart)
        steps = await asyncio.wait_for(asyncio.gather(*load), timeout=120)

    assert done_while_up < COMPANIES  # the crash did hit work in flight
    assert set(steps) == {OnboardingStep.ACTIVE}
    assert await db.fetchval("SELECT count(*) FROM memberships WHERE status = 'active'") == (
        COMPANIES
    )
    assert await db.fetchval("SELECT count(*) FROM organisations WHERE status = 'active'") == (
        COMPANIES
    )
    welcome = "SELECT count(*) FROM outbox WHERE subject LIKE 'Bienvenue%'"
    assert await db.fetchval(welcome) == COMPANIES  # one each
    assert await db.fetchval("SELECT count(*) FROM tasks") == COMPANIES
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE closed_at IS NULL") == 0
    activations = "SELECT count(*) FROM audit_events WHERE action = 'membership.activated'"
    assert await db.fetchval(activations) == COMPANIES
    statuses = await db.fetch("SELECT status, count(*) FROM processes GROUP BY status")
    assert {r["status"]: r["count"] for r in statuses} == {"completed": COMPANIES}
