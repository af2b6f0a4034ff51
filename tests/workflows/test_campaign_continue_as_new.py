"""A campaign whose history grows long continues-as-new without losing a hire. The dev
server is told to suggest it after 40 events, so 60 hires cross it several times."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from domain.auth import Role
from domain.organisations import OrganisationKind
from domain.recruitment import (
    CampaignCreate,
    CampaignStatus,
    HireRecorded,
    PositionCreate,
)
from relais.binaries import temporal_cli
from relais.temporal import data_converter
from tests.factories import launch_campaign, make_org, make_user
from worker.main import build_worker
from workflows.recruitment import RecruitmentCampaignWorkflow


async def test_hires_survive_continue_as_new(db, settings):
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings),
        dev_server_existing_path=str(temporal_cli()),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=40",
        ],
    )
    network = await make_org(db, OrganisationKind.ASSOCIATION)
    employer = await make_org(db)
    agency = await make_org(db, OrganisationKind.AGENCY)
    staff, _ = await make_user(db, network.id, Role.STAFF)
    spec = CampaignCreate(
        request_id="can",
        employer_id=employer.id,
        title="Grande campagne",
        positions=[
            PositionCreate(title="Préparateur", count=60, contract="cdi", place_postcode="13014")
        ],
        territory_postcodes=["130"],
        agency_ids=[agency.id],
        deadline=datetime.now(UTC) + timedelta(days=30),
    )
    try:
        async with build_worker(env.client, db, settings):
            input, _ = await launch_campaign(
                env.client, settings.task_queue, network.id, staff, spec, indexed=False
            )
            campaign_id, [position_id] = input.campaign_id, input.position_ids
            handle = env.client.get_workflow_handle_for(
                RecruitmentCampaignWorkflow.run, f"campaign-{campaign_id}"
            )
            first_run = (await handle.describe()).run_id
            hires = [uuid.uuid4() for _ in range(60)]
            # Ten signals re-sent (before the last hire, which ends the campaign): counted once.
            for referral_id in hires[:30] + hires[:10] + hires[30:]:
                await handle.signal(
                    RecruitmentCampaignWorkflow.hire_recorded,
                    HireRecorded(referral_id=referral_id, position_id=position_id),
                )
            result = await handle.result()
            first = env.client.get_workflow_handle(f"campaign-{campaign_id}", run_id=first_run)
            last_event = (await first.fetch_history()).events[-1]
    finally:
        await env.shutdown()
    assert last_event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert result.status == CampaignStatus.FILLED
    assert result.filled == {str(position_id): 60}
    # The status row follows the new runs too (its sequence is carried over).
    assert await db.fetchval("SELECT status FROM processes") == "completed"
