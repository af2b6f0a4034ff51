"""Member onboarding on the time-skipping server with the real activities and Postgres."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.auth import Role
from domain.onboarding import (
    CharterAcceptance,
    OnboardingCancel,
    OnboardingStep,
    onboarding_workflow_id,
)
from domain.organisations import OrganisationKind, OrganisationStatus
from tests.factories import make_org, make_user, onboarding_input
from worker.main import build_worker
from workflows.onboarding import MemberOnboardingWorkflow

HISTORIES = Path(__file__).parent.parent / "histories"


async def _start(env, settings, org_id, **kw):
    return await env.client.start_workflow(
        MemberOnboardingWorkflow.run,
        onboarding_input(org_id, **kw),
        id=onboarding_workflow_id(org_id),
        task_queue=settings.task_queue,
    )


async def _record(handle, name: str) -> None:
    """With RELAIS_RECORD_HISTORIES=1, keep this run's history for the replay tests."""
    if os.environ.get("RELAIS_RECORD_HISTORIES"):
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json(), "utf-8")


async def test_member_accepts_charter_and_becomes_active(ts_env, db, settings):
    org = await make_org(db, status=OrganisationStatus.PENDING)
    user_id, _ = await make_user(db, org.id, Role.MEMBER)
    async with build_worker(ts_env.client, db, settings):
        handle = await _start(ts_env, settings, org.id)
        state = await handle.execute_update(
            MemberOnboardingWorkflow.accept_charter,
            CharterAcceptance(
                request_id="r1", user_id=user_id, organisation_id=org.id, role=Role.MEMBER
            ),
        )
        assert state.step == OnboardingStep.ACTIVE
        result = await handle.result()
        await _record(handle, "onboarding_accepted")

    assert result.accepted_by == user_id
    assert await db.fetchval("SELECT status FROM organisations WHERE id=$1", org.id) == "active"
    assert await db.fetchval("SELECT status FROM memberships WHERE organisation_id=$1", org.id) == (
        "active"
    )
    mails = await db.fetch("SELECT dedup_key, recipient, subject FROM outbox")
    assert [m["recipient"] for m in mails] == ["nadia@example.fr"]
    assert mails[0]["subject"].startswith("Bienvenue")
    task = await db.fetchrow("SELECT action, closed_at, outcome, assignee_role FROM tasks")
    assert (task["action"], task["outcome"], task["assignee_role"]) == (
        "accept_charter",
        "accepted",
        "member",
    )
    proc = await db.fetchrow("SELECT status, step FROM processes")
    assert (proc["status"], proc["step"]) == ("completed", "active")
    audit = await db.fetch(
        "SELECT actor, action FROM audit_events WHERE entity_id=$1 ORDER BY id", str(org.id)
    )
    assert [(a["actor"], a["action"]) for a in audit] == [
        ("test", "onboarding.started"),
        (str(user_id), "membership.activated"),
    ]


async def test_reminder_then_expiry_at_the_right_times(ts_env, db, settings):
    org = await make_org(db, status=OrganisationStatus.PENDING)
    async with build_worker(ts_env.client, db, settings):
        handle = await _start(
            ts_env,
            settings,
            org.id,
            reminder_after=timedelta(days=7),
            expire_after=timedelta(days=30),
        )
        result = await handle.result()
        await _record(handle, "onboarding_expired")

    assert result.step == OnboardingStep.EXPIRED
    assert result.reminders_sent == 1
    reminded_after = result.last_reminder_at - result.started_at
    closed_after = result.closed_at - result.started_at
    assert timedelta(days=7) <= reminded_after < timedelta(days=7, minutes=1)
    assert timedelta(days=30) <= closed_after < timedelta(days=30, minutes=1)
    keys = sorted(r["dedup_key"].split(":")[-1] for r in await db.fetch("SELECT * FROM outbox"))
    assert keys == ["reminder-1", "welcome"]
    assert await db.fetchval("SELECT status FROM memberships") == "expired"
    assert await db.fetchval("SELECT outcome FROM tasks") == "expired"
    assert await db.fetchval("SELECT status FROM processes") == "expired"


async def test_a_non_member_is_refused_without_retries(ts_env, db, settings):
    agency = await make_org(db, OrganisationKind.AGENCY)
    async with build_worker(ts_env.client, db, settings):
        handle = await _start(ts_env, settings, agency.id)
        result = await handle.result()
        await _record(handle, "onboarding_refused")
    assert result.step == OnboardingStep.REFUSED
    assert "entreprise membre" in (result.detail or "")
    assert await db.fetchval("SELECT count(*) FROM memberships") == 0
    assert await db.fetchval("SELECT status FROM processes") == "failed"


async def test_another_organisation_cannot_accept_and_staff_can_cancel(ts_env, db, settings):
    org = await make_org(db, status=OrganisationStatus.PENDING)
    other = await make_org(db)
    other_user, _ = await make_user(db, other.id, Role.MEMBER)
    staff_org = await make_org(db, OrganisationKind.ASSOCIATION)
    staff_user, _ = await make_user(db, staff_org.id, Role.STAFF)
    async with build_worker(ts_env.client, db, settings):
        handle = await _start(ts_env, settings, org.id)
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(
                MemberOnboardingWorkflow.accept_charter,
                CharterAcceptance(
                    request_id="x", user_id=other_user, organisation_id=other.id, role=Role.MEMBER
                ),
            )
        assert "seule l'entreprise concernée" in str(err.value.cause)
        state = await handle.execute_update(
            MemberOnboardingWorkflow.cancel,
            OnboardingCancel(request_id="c1", user_id=staff_user, reason="doublon"),
        )
        assert state.step == OnboardingStep.CANCELLED
        await handle.result()
        await _record(handle, "onboarding_cancelled")
    assert await db.fetchval("SELECT status FROM memberships") == "cancelled"
    assert await db.fetchval("SELECT status FROM organisations WHERE id=$1", org.id) == "pending"
    row = await db.fetchrow(
        "SELECT actor, data FROM audit_events WHERE action = 'membership.cancelled'"
    )
    assert (row["actor"], row["data"]) == (str(staff_user), {"reason": "doublon"})


async def test_an_unknown_organisation_is_refused_not_retried_forever(ts_env, db, settings):
    async with build_worker(ts_env.client, db, settings):
        result = await (await _start(ts_env, settings, uuid.uuid4())).result()
    assert result.step == OnboardingStep.REFUSED and result.detail == "organisation inconnue"
    assert await db.fetchval("SELECT status FROM processes") == "failed"


async def test_an_expired_onboarding_can_be_reopened_and_starts_afresh(ts_env, db, settings):
    org = await make_org(db, status=OrganisationStatus.PENDING)
    user_id, _ = await make_user(db, org.id, Role.MEMBER)
    async with build_worker(ts_env.client, db, settings):
        first = await _start(
            ts_env,
            settings,
            org.id,
            expire_after=timedelta(days=2),
            reminder_after=timedelta(days=1),
        )
        assert (await first.result()).step == OnboardingStep.EXPIRED
        second = await _start(ts_env, settings, org.id)
        state = await second.execute_update(
            MemberOnboardingWorkflow.accept_charter,
            CharterAcceptance(
                request_id="r2", user_id=user_id, organisation_id=org.id, role=Role.MEMBER
            ),
        )
        assert state.step == OnboardingStep.ACTIVE
        await second.result()
    # Each run mailed its own welcome and opened its own task.
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE dedup_key LIKE '%welcome'") == 2
    outcomes = sorted(r["outcome"] for r in await db.fetch("SELECT outcome FROM tasks"))
    assert outcomes == ["accepted", "expired"]
    assert await db.fetchval("SELECT status FROM memberships") == "active"
    assert await db.fetchval("SELECT status FROM processes") == "completed"


async def test_two_acceptances_in_flight_activate_once(ts_env, db, settings):
    org = await make_org(db, status=OrganisationStatus.PENDING)
    user_id, _ = await make_user(db, org.id, Role.MEMBER)
    acceptance = CharterAcceptance(
        request_id="same", user_id=user_id, organisation_id=org.id, role=Role.MEMBER
    )
    async with build_worker(ts_env.client, db, settings):
        handle = await _start(ts_env, settings, org.id)
        first, again = await asyncio.gather(
            *(
                handle.execute_update(
                    MemberOnboardingWorkflow.accept_charter, acceptance, id=str(uuid.uuid4())
                )
                for _ in range(2)
            )
        )
        await handle.result()
    assert first.accepted_at == again.accepted_at
    assert (
        await db.fetchval("SELECT count(*) FROM audit_events WHERE action = 'membership.activated'")
        == 1
    )
    assert await db.fetchval("SELECT count(*) FROM outbox") == 1
