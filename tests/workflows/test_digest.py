"""The daily digest on the time-skipping server: each person who chose it gets one mail of
their overdue tasks, a second run the same day mails nobody twice, expired sessions go."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from domain.auth import Role
from domain.people import DigestInput, NotifyPreference, SessionMethod
from domain.processes import ProcessKind, TaskOpen
from store.processes import ProcessRepository
from store.sessions import SessionRepository
from store.users import UserRepository
from tests.factories import make_org, make_user
from tests.workflows.test_onboarding import _record
from worker.main import build_worker
from workflows.people import DailyDigestWorkflow


async def test_the_daily_digest_mails_overdue_tasks_once(ts_env, db, settings):
    employer = await make_org(db, name="Logistique des Arnavaux")
    daily, _ = await make_user(db, employer.id, Role.MEMBER, email="ines@example.fr")
    await make_user(db, employer.id, Role.MEMBER, email="karim@example.fr")
    async with db.acquire() as c:
        await UserRepository(c).set_notify(daily, NotifyPreference.DAILY)
        for i, days in enumerate((-3, -1, 2)):
            await ProcessRepository(c).open_task(
                TaskOpen(
                    key=f"k{i}",
                    workflow_id=f"referral-{i}",
                    process=ProcessKind.REFERRAL,
                    action="request_interview",
                    title=f"Examiner le profil (C-{i})",
                    assignee_organisation_id=employer.id,
                    assignee_role=Role.MEMBER,
                    due_at=datetime.now(UTC) + timedelta(days=days),
                ),
                base_url=settings.base_url,
            )
        sessions = SessionRepository(c)
        await sessions.create(daily, SessionMethod.LINK, "ua", timedelta(seconds=-1))
        await sessions.create(daily, SessionMethod.LINK, "ua", timedelta(days=1))

    today = datetime.now(UTC).date()
    async with build_worker(ts_env.client, db, settings):
        for run in range(2):
            handle = await ts_env.client.start_workflow(
                DailyDigestWorkflow.run,
                # The day named: the time-skipping server may skip years ahead meanwhile.
                DigestInput(day=today),
                id=f"daily-digest-{uuid.uuid4()}",
                task_queue=settings.task_queue,
            )
            result = await handle.result()
            assert result.queued == (1 if run == 0 else 0)
        await _record(handle, "daily_digest")

    digests = await db.fetch(
        "SELECT recipient, subject, body FROM outbox WHERE dedup_key LIKE 'digest:%'"
    )
    assert [d["recipient"] for d in digests] == ["ines@example.fr"]
    assert digests[0]["subject"] == "Relais : 2 tâche(s) en retard"
    assert (
        "C-0" in digests[0]["body"]
        and "C-1" in digests[0]["body"]
        and "C-2" not in digests[0]["body"]
    )
    # Karim chose « immediate »: a mail per task, no digest.
    assert (
        await db.fetchval("SELECT count(*) FROM outbox WHERE recipient = 'karim@example.fr'") == 3
    )
    assert await db.fetchval("SELECT count(*) FROM sessions") == 1  # the expired one is gone
