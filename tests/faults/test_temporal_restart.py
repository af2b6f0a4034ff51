"""`kill -9` of the Temporal dev server, restarted on the same SQLite file (WAL, as `relais
dev` runs it): the open processes are listed again and resume, and the timers that fell due
while it was down fire — once. Meanwhile the API answers 503 in French, and the same request
sent again once the server is back goes through."""

from __future__ import annotations

import asyncio
import html
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from api.errors import ENGINE_BUSY
from domain.auth import Role
from domain.onboarding import (
    CharterAcceptance,
    OnboardingStep,
    onboarding_workflow_id,
)
from domain.organisations import OrganisationStatus
from relais.binaries import temporal_cli
from relais.temporal import data_converter
from tests.factories import make_org, make_user, onboarding_input, session_for
from tests.system.conftest import free_port
from worker.main import build_worker
from workflows.clients import update_with_retry
from workflows.common import SEARCH_ATTRIBUTES
from workflows.onboarding import MemberOnboardingWorkflow, start_onboarding

pytestmark = pytest.mark.system

SHORT, LONG = 6, 3  # onboardings whose timers fall due while the server is down, and not


class DevServer:
    def __init__(self, db_file: Path, log: Path) -> None:
        self.port = free_port()
        self.args = [
            str(temporal_cli()), "server", "start-dev", "--headless",
            "--db-filename", str(db_file),
            "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
            "--ip", "127.0.0.1", "--port", str(self.port), "--log-level", "error",
        ]  # fmt: skip
        for key in SEARCH_ATTRIBUTES:
            self.args += ["--search-attribute", f"{key.name}=Keyword"]
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


async def _connect(server: DevServer, settings) -> Client:
    for _ in range(200):
        try:
            return await Client.connect(server.address, data_converter=data_converter(settings))
        except Exception:  # not listening yet
            await asyncio.sleep(0.1)
    raise AssertionError("the dev server never listened\n" + server.log.read_text()[-2000:])


async def _steps(db, org_ids) -> dict[str, str]:
    rows = await db.fetch(
        "SELECT step FROM processes WHERE process = 'onboarding' AND organisation_id = ANY($1)",
        org_ids,
    )
    return {r["step"] for r in rows}


async def test_timers_due_during_a_temporal_outage_fire_after_restart(db, settings, tmp_path):
    server = DevServer(tmp_path / "temporal.db", tmp_path / "temporal.log")
    server.start()
    client = await _connect(server, settings)
    short, long_ = [], []
    for i in range(SHORT + LONG):
        org = await make_org(db, name=f"Atelier {i}", status=OrganisationStatus.PENDING)
        user, token = await make_user(db, org.id, Role.MEMBER)
        (short if i < SHORT else long_).append((org, user))
    app = create_app(settings.model_copy(update={"temporal_address": server.address}))
    charter = f"/api/onboardings/{org.id}/charter"  # the last of the long ones
    member = {"Authorization": f"Bearer {token}"}
    browser = await session_for(db, user)  # the same member, signed in on the dashboard
    try:
        async with (
            build_worker(client, db, settings),
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as api,
        ):
            for i, (org, _) in enumerate(short + long_):
                await start_onboarding(
                    client,
                    settings.task_queue,
                    onboarding_input(
                        org.id,
                        f"contact{i}@example.fr",
                        reminder_after=timedelta(seconds=4 if i < SHORT else 3600),
                        expire_after=timedelta(seconds=8 if i < SHORT else 7200),
                    ),
                )
            ids = [org.id for org, _ in short + long_]
            for _ in range(100):  # every onboarding waits on its member
                rows = await db.fetchval(
                    "SELECT count(*) FROM processes WHERE status = 'waiting' "
                    "AND organisation_id = ANY($1)",
                    ids,
                )
                if rows == SHORT + LONG:
                    break
                await asyncio.sleep(0.1)
            assert rows == SHORT + LONG

            server.kill9()
            down = time.monotonic()
            # The API and the member's task page tell the member to try again, in French.
            task = await db.fetchval(
                "SELECT id FROM tasks WHERE assignee_organisation_id = $1 AND closed_at IS NULL",
                org.id,
            )
            r, page = await asyncio.gather(
                api.post(charter, headers=member, json={"request_id": "pendant-panne"}),
                api.post(
                    f"/mes-taches/{task}",
                    headers=browser.headers,
                    data={"request_id": "page-pendant-panne", "csrf": browser.csrf},
                ),
            )
            assert r.status_code == 503, r.text
            assert r.json()["detail"] == ENGINE_BUSY and r.headers["Retry-After"] == "5"
            assert page.status_code == 503 and ENGINE_BUSY in html.unescape(page.text), page.text
            # Both timers of the short ones fall due while the server is down.
            await asyncio.sleep(max(0.0, 10 - (time.monotonic() - down)))
            server.start()
            client = await _connect(server, settings)

            # Open processes are listed again by the restarted server.
            listed = [
                w.id
                async for w in client.list_workflows(
                    "WorkflowType = 'MemberOnboardingWorkflow' "
                    f"AND TaskQueue = '{settings.task_queue}'"
                )
            ]
            assert sorted(listed) == sorted(onboarding_workflow_id(i) for i in ids)

            # The worker (started before the outage) resumes; the due timers fire.
            for _ in range(300):
                if await _steps(db, [o.id for o, _ in short]) == {"expired"}:
                    break
                await asyncio.sleep(0.1)
            assert await _steps(db, [o.id for o, _ in short]) == {"expired"}
            # The same request, sent again, goes through.
            r = await api.post(charter, headers=member, json={"request_id": "pendant-panne"})
            assert r.status_code == 200 and r.json()["step"] == "active", r.text
            for i, (org, user) in enumerate(long_[:-1]):
                handle = client.get_workflow_handle_for(
                    MemberOnboardingWorkflow.run, onboarding_workflow_id(org.id)
                )
                state = await update_with_retry(
                    handle,
                    MemberOnboardingWorkflow.accept_charter,
                    CharterAcceptance(
                        request_id=f"after-{i}",
                        user_id=user,
                        organisation_id=org.id,
                        role=Role.MEMBER,
                    ),
                )
                assert state.step == OnboardingStep.ACTIVE
    finally:
        server.stop()

    reminders = await db.fetchval("SELECT count(*) FROM outbox WHERE subject LIKE 'Rappel%'")
    assert reminders == SHORT  # each fell due once, sent once
    statuses = await db.fetch(
        "SELECT m.status, count(*) FROM memberships m GROUP BY m.status ORDER BY m.status"
    )
    assert {r["status"]: r["count"] for r in statuses} == {"active": LONG, "expired": SHORT}
    open_tasks = await db.fetchval("SELECT count(*) FROM tasks WHERE closed_at IS NULL")
    assert open_tasks == 0
