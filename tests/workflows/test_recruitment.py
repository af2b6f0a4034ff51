"""Recruitment campaigns and referrals on the time-skipping server, with the real activities
and Postgres: deadline, reminders and escalation at the right times, early fill, cancel."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.auth import Role
from domain.recruitment import (
    CampaignCreate,
    CampaignStatus,
    PositionCreate,
    ReferralAction,
    ReferralCreate,
    ReferralStep,
    campaign_workflow_id,
)
from store.crypto import Sealer
from store.recruitment import sealed_referral
from tests.factories import launch_campaign, recruitment_parties
from tests.workflows.test_onboarding import _record
from worker.main import build_worker
from workflows.recruitment import RecruitmentCampaignWorkflow, RecruitmentReferralWorkflow, refer

SLA = timedelta(days=5)


@dataclass
class World:
    env: object
    settings: object
    network: object
    employer: object
    agencies: list
    staff: uuid.UUID
    member: uuid.UUID
    agency_users: list
    campaign_id: uuid.UUID | None = None
    position_ids: list | None = None

    async def launch(self, *, counts=(1, 1), deadline_in=timedelta(days=30), grace_days=7):
        now = await self.env.get_current_time()
        spec = CampaignCreate(
            request_id=f"c-{uuid.uuid4().hex[:8]}",
            employer_id=self.employer.id,
            title="Préparateurs de commandes",
            positions=[
                PositionCreate(title=f"Poste {i}", count=n, contract="cdi", place_postcode="13014")
                for i, n in enumerate(counts)
            ],
            territory_postcodes=["13014", "13015", "13016"],
            agency_ids=[a.id for a in self.agencies],
            deadline=now + deadline_in,
            decision_sla_days=SLA.days,
            grace_days=grace_days,
        )
        input, state = await launch_campaign(
            self.env.client,
            self.settings.task_queue,
            self.network.id,
            self.staff,
            spec,
            indexed=False,
        )
        self.campaign_id, self.position_ids = input.campaign_id, input.position_ids
        assert state.status == CampaignStatus.OPEN
        return self.env.client.get_workflow_handle_for(
            RecruitmentCampaignWorkflow.run, campaign_workflow_id(self.campaign_id)
        )

    async def refer(self, agency: int, email: str, *, postcode="13015", phone=None):
        data = ReferralCreate(
            request_id=f"r-{uuid.uuid4().hex[:8]}",
            first_name="Inès",
            last_name="Martin",
            email=email,
            phone=phone,
            postcode=postcode,
            skills=["cariste"],
            experience_years=3,
        )
        reg = await refer(
            self.env.client,
            self.settings.task_queue,
            sealed_referral(
                Sealer(self.settings.data_keys),
                uuid.uuid4(),
                self.campaign_id,
                self.agencies[agency].id,
                data,
            ),
            indexed=False,
        )
        wid = f"referral-{self.campaign_id}-{self.agencies[agency].id}-{data.request_id}"
        return reg, self.env.client.get_workflow_handle_for(RecruitmentReferralWorkflow.run, wid)

    def action(self, kind: str, who: str, agency: int = 0, **kw) -> ReferralAction:
        user, org, role = {
            "staff": (self.staff, self.network.id, Role.STAFF),
            "employer": (self.member, self.employer.id, Role.MEMBER),
            "agency": (self.agency_users[agency], self.agencies[agency].id, Role.AGENCY),
        }[who]
        return ReferralAction(
            kind=kind,
            request_id=uuid.uuid4().hex,
            user_id=user,
            organisation_id=org,
            role=role,
            **kw,
        )


@pytest.fixture
async def world(ts_env, db, settings):
    p = await recruitment_parties(db)
    async with build_worker(ts_env.client, db, settings):
        yield World(
            ts_env, settings, p.network, p.employer, p.agencies, p.staff, p.member, p.agency_users
        )


async def _act(handle, action):
    return await handle.execute_update(RecruitmentReferralWorkflow.act, action)


async def _refused(handle, action, message: str) -> None:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await _act(handle, action)
    assert message in str(err.value.cause)


async def test_hire_path_duplicates_and_early_fill(world, db):
    campaign = await world.launch(counts=(1,))
    reg, x = await world.refer(0, "ines.martin@example.fr", phone="06 12 34 56 78")
    assert reg.step == ReferralStep.SCREENING and reg.pseudonym.startswith("C-")
    dup, _ = await world.refer(1, " Ines.Martin@Example.fr ")
    assert dup.step == ReferralStep.DUPLICATE and dup.duplicate_of_agency == "France Travail"
    by_phone, _ = await world.refer(1, "autre@example.fr", phone="+33 6 12 34 56 78")
    assert by_phone.step == ReferralStep.DUPLICATE
    _, y = await world.refer(1, "yanis@example.fr")

    await _refused(
        x, world.action("screen", "employer", retained=True, reason="ok"), "équipe du réseau"
    )
    await _act(x, world.action("screen", "staff", retained=True, reason="profil adapté"))
    await _act(y, world.action("screen", "staff", retained=True, reason="profil adapté"))
    await _refused(x, world.action("decide", "employer", hired=True, reason="top"), "entretien")
    await _act(x, world.action("request_interview", "employer"))
    await _refused(
        x, world.action("consent", "agency", agency=1, given=True), "agence qui a proposé"
    )
    await _act(x, world.action("consent", "agency", agency=0, given=True))
    state = await _act(x, world.action("decide", "employer", hired=True, reason="motivé"))
    assert state.step == ReferralStep.HIRED

    # Temporal's history of a referral holds its personal data sealed only: once erased in
    # Postgres (which holds the key's only use), nothing readable stays behind.
    codec = world.env.client.data_converter.payload_codec
    started = (await x.fetch_history()).events[0].workflow_execution_started_event_attributes
    [plain] = await codec.decode(list(started.input.payloads))
    assert b"ines.martin" not in plain.data.lower() and b"Martin" not in plain.data
    assert b"identity_sealed" in plain.data

    final = await campaign.result()  # the only position is filled: the campaign ends early
    assert final.status == CampaignStatus.FILLED
    await _record(campaign, "campaign_filled")
    await _record(x, "referral_hired")
    assert (await y.result()).step == ReferralStep.NOT_RETAINED
    assert await db.fetchval("SELECT status FROM campaigns") == "filled"
    assert await db.fetchval("SELECT filled FROM campaign_positions") == 1
    counts = dict(await db.fetch("SELECT status, count(*) FROM referrals GROUP BY status"))
    assert counts == {"hired": 1, "duplicate": 2, "not_retained": 1}
    subjects = [r["subject"] for r in await db.fetch("SELECT subject FROM outbox ORDER BY id")]
    assert sum(s.startswith("Offre relayée") for s in subjects) == 2
    assert sum(s.startswith("Candidature en doublon") for s in subjects) == 2
    assert any(s.startswith("Candidat embauché") for s in subjects)
    assert any(s.startswith("Bilan de la campagne") for s in subjects)


async def test_reminder_at_sla_and_escalation_at_twice_the_sla(world, db):
    await world.launch(deadline_in=timedelta(days=60))
    _, x = await world.refer(0, "lea@example.fr")
    await _act(x, world.action("screen", "staff", retained=True, reason="ok"))
    await world.env.sleep(SLA - timedelta(hours=1))
    state = await x.query(RecruitmentReferralWorkflow.state)
    assert (state.reminders_sent, state.escalated) == (0, False)
    await world.env.sleep(timedelta(hours=2))
    state = await x.query(RecruitmentReferralWorkflow.state)
    assert (state.reminders_sent, state.escalated) == (1, False)
    await world.env.sleep(SLA - timedelta(hours=2))
    assert (await x.query(RecruitmentReferralWorkflow.state)).escalated is False
    await world.env.sleep(timedelta(hours=2))
    assert (await x.query(RecruitmentReferralWorkflow.state)).escalated is True
    task = await db.fetchrow("SELECT assignee_role, action FROM tasks WHERE action='follow_up'")
    assert (task["assignee_role"], task["action"]) == ("manager", "follow_up")
    # The employer still decides after the escalation.
    state = await _act(x, world.action("decide", "employer", hired=False, reason="trop loin"))
    assert state.step == ReferralStep.REJECTED
    await x.result()
    await _record(x, "referral_escalated_rejected")


async def test_deadline_closes_intake_then_grace_for_interviews(world, db):
    campaign = await world.launch(deadline_in=timedelta(days=10), grace_days=7)
    _, x = await world.refer(0, "sam@example.fr")
    _, idle = await world.refer(1, "noe@example.fr")
    await _act(x, world.action("screen", "staff", retained=True, reason="ok"))
    await _act(x, world.action("request_interview", "employer"))
    await world.env.sleep(timedelta(days=10, hours=1))
    assert (await campaign.query(RecruitmentCampaignWorkflow.state)).status == "closing"
    late, _ = await world.refer(0, "late@example.fr")
    assert late.step == ReferralStep.REFUSED and "closes" in late.detail
    await _act(x, world.action("consent", "agency", given=True))
    await _act(x, world.action("decide", "employer", hired=False, reason="autre profil"))
    # Handles not started by the test environment do not skip time while awaited.
    await world.env.sleep(timedelta(days=2))
    final = await campaign.result()
    assert final.status == CampaignStatus.CLOSED
    # The last interview's end closes the campaign at once, not at the grace end.
    assert final.closed_at - final.deadline < timedelta(hours=2)
    assert (await idle.result()).step == ReferralStep.NOT_RETAINED
    await _record(campaign, "campaign_closed_after_grace")


async def test_cancellation_tells_every_open_referral(world, db):
    campaign = await world.launch()
    handles = [(await world.refer(i % 2, f"p{i}@example.fr"))[1] for i in range(4)]
    from domain.recruitment import CampaignCancel

    state = await campaign.execute_update(
        RecruitmentCampaignWorkflow.cancel,
        CampaignCancel(request_id="k", user_id=world.staff, reason="poste supprimé"),
    )
    assert state.status == CampaignStatus.CANCELLED
    for h in handles:
        assert (await h.result()).step == ReferralStep.NOT_RETAINED
    assert await db.fetchval("SELECT cancel_reason FROM campaigns") == "poste supprimé"
    told = await db.fetchval("SELECT count(*) FROM outbox WHERE subject LIKE 'Candidature non%'")
    assert told == 4


async def test_erasure_keeps_statistics_and_hired_people(world, db):
    from datetime import UTC, datetime

    from domain.recruitment import ErasureInput
    from workflows.recruitment import CandidateErasureWorkflow

    await world.launch()
    _, a = await world.refer(0, "a@example.fr")
    _, b = await world.refer(1, "b@example.fr")
    await db.execute(
        "UPDATE campaigns SET status='closed', closed_at=$1",
        datetime.now(UTC) - timedelta(days=200),
    )
    await db.execute("UPDATE referrals SET status='hired' WHERE workflow_id=$1", a.id)
    handle = await world.env.client.start_workflow(
        CandidateErasureWorkflow.run,
        ErasureInput(months=6),
        id="erase-test",
        task_queue=world.settings.task_queue,
    )
    assert (await handle.result()).erased == 1
    await _record(handle, "candidate_erasure")
    rows = {r["workflow_id"]: r for r in await db.fetch("SELECT * FROM referrals")}
    assert rows[a.id]["identity_enc"] is not None  # hired: kept
    assert rows[b.id]["identity_enc"] is None and rows[b.id]["erased_at"] is not None
    assert rows[b.id]["postcode"] == "13015"  # anonymous statistics stay
