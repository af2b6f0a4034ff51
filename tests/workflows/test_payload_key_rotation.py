"""Rotating RELAIS_PAYLOAD_KEY under a running workflow, on the dev server: a member's
onboarding started under the old key is queried, acted on and replayed from its history by a
worker whose ring puts a new key first; what it writes after the rotation is encrypted with
the new key, and the old key is what keeps the start readable."""

from __future__ import annotations

import asyncio
import base64
import os

import pytest
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.worker import Worker

from domain.auth import Role
from domain.onboarding import CharterAcceptance, OnboardingStep, onboarding_workflow_id
from domain.organisations import OrganisationStatus
from relais.temporal import EncryptionCodec, data_converter
from store.crypto import Key
from tests.factories import make_org, make_user, onboarding_input
from worker.main import WORKFLOWS, activities_for, build_worker, workflow_runner
from workflows.onboarding import MemberOnboardingWorkflow


def _client(dev_env, settings) -> Client:
    return Client(**{**dev_env.client.config(), "data_converter": data_converter(settings)})


def _keys(payload) -> set[bytes]:
    return {p.metadata["encryption-key-id"] for p in payload.payloads}


async def test_a_workflow_started_under_the_old_key_runs_on_after_rotation(dev_env, db, settings):
    old, new = os.urandom(32), os.urandom(32)
    before = settings.model_copy(update={"payload_key": SecretStr(base64.b64encode(old).decode())})
    ring = f"k2:{base64.b64encode(new).decode()},{base64.b64encode(old).decode()}"
    after = settings.model_copy(update={"payload_key": SecretStr(ring)})
    org = await make_org(db, status=OrganisationStatus.PENDING)
    user_id, _ = await make_user(db, org.id, Role.MEMBER)
    wid = onboarding_workflow_id(org.id)

    old_client = _client(dev_env, before)
    async with build_worker(old_client, db, before):
        handle = await old_client.start_workflow(
            MemberOnboardingWorkflow.run,
            onboarding_input(org.id, email="nadia.rotation@example.fr"),
            id=wid,
            task_queue=settings.task_queue,
        )
        for _ in range(100):  # its welcome mail and task written, it waits for the member
            state = await handle.query(MemberOnboardingWorkflow.state)
            if state.step == OnboardingStep.AWAITING_CHARTER:
                break
            await asyncio.sleep(0.05)
        assert state.step == OnboardingStep.AWAITING_CHARTER

    # The rotated worker keeps no workflow in cache: every task replays the whole history,
    # the part written under the old key included.
    new_client = _client(dev_env, after)
    async with Worker(
        new_client,
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(db, after, new_client),
        workflow_runner=workflow_runner(),
        max_cached_workflows=0,
    ):
        h = new_client.get_workflow_handle_for(MemberOnboardingWorkflow.run, wid)
        state = await h.query(MemberOnboardingWorkflow.state)
        assert state.step == OnboardingStep.AWAITING_CHARTER
        done = await h.execute_update(
            MemberOnboardingWorkflow.accept_charter,
            CharterAcceptance(
                request_id="r1", user_id=user_id, organisation_id=org.id, role=Role.MEMBER
            ),
        )
        assert done.step == OnboardingStep.ACTIVE
        result = await h.result()
    assert result.accepted_by == user_id
    assert await db.fetchval("SELECT status FROM memberships") == "active"

    events = (await h.fetch_history()).events
    started = events[0].workflow_execution_started_event_attributes.input
    completed = events[-1].workflow_execution_completed_event_attributes.result
    assert _keys(started) == {b"relais-1"} and _keys(completed) == {b"k2"}
    # The old key is what keeps the start readable: without it, the input cannot be decoded.
    with pytest.raises(ValueError, match="unknown key"):
        await EncryptionCodec([Key("k2", new)]).decode(list(started.payloads))
