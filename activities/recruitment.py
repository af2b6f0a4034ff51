"""Effects of recruitment campaigns and referrals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.errors import HireRefused, IntakeRefused, MissingRow
from domain.actions import TaskAction
from domain.auth import Role
from domain.processes import OutboxMessage, ProcessKind, TaskClose, TaskOpen
from domain.recruitment import (
    CampaignClosed,
    CampaignInput,
    CampaignPublic,
    CampaignRef,
    CampaignStatus,
    CampaignStatusChange,
    ErasureInput,
    ErasureResult,
    HireRequest,
    HireResult,
    ReferralStep,
    ReferralStepChange,
    RegisterReferral,
    Registration,
    RelayOffer,
    intake_refusal,
    pseudonym,
)
from relais.settings import Settings
from store.pool import Conn
from store.processes import ProcessRepository
from store.recruitment import RecruitmentRepository

SIGNAL_PAGE = 200


def refer_task_key(campaign_workflow_id: str, agency_id: UUID) -> str:
    return f"{campaign_workflow_id}:refer:{agency_id}"


def org_recipient(organisation_id: UUID) -> str:
    """Mail to an organisation: the mail sender resolves it to its users' addresses."""
    return f"org:{organisation_id}"


async def _campaign(c: Conn, campaign_id: UUID) -> CampaignPublic:
    """The campaign a workflow runs for: created by its first activity, so a missing row is
    a data error no retry cures."""
    campaign = await RecruitmentRepository(c).get_campaign(campaign_id)
    if campaign is None:
        raise MissingRow(f"campaign {campaign_id}")
    return campaign


class RecruitmentActivities:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, client: Client) -> None:
        self.pool = pool
        self.client = client
        self.settings = settings
        self.secret = settings.data_key_bytes

    # --- campaign -------------------------------------------------------------------------

    @activity.defn
    async def create_campaign(self, i: CampaignInput) -> None:
        async with self.pool.acquire() as c, c.transaction():
            await RecruitmentRepository(c).create_campaign(i)

    @activity.defn
    async def relay_offer(self, r: RelayOffer) -> None:
        async with self.pool.acquire() as c, c.transaction():
            repo = RecruitmentRepository(c)
            campaign = await _campaign(c, r.campaign_id)
            lines = "\n".join(
                f"  – {p.title} : {p.count} poste(s), {p.contract.value}, {p.place_postcode} "
                f"{p.place_commune or ''}"
                for p in campaign.positions
            )
            await ProcessRepository(c).enqueue(
                OutboxMessage(
                    dedup_key=f"{campaign.workflow_id}:relay:{r.agency_id}",
                    recipient=org_recipient(r.agency_id),
                    subject=f"Offre relayée : {campaign.title} ({campaign.employer_name})",
                    body=(
                        f"Le réseau relaie pour {campaign.employer_name} :\n{lines}\n\n"
                        f"Proposez vos candidats sur Relais avant le "
                        f"{campaign.deadline:%d/%m/%Y à %H:%M} (UTC)."
                    ),
                    workflow_id=campaign.workflow_id,
                )
            )
            # The agency's standing task while applications are open: refer candidates.
            await ProcessRepository(c).open_task(
                TaskOpen(
                    key=refer_task_key(campaign.workflow_id, r.agency_id),
                    workflow_id=campaign.workflow_id,
                    process=ProcessKind.RECRUITMENT,
                    action=TaskAction.REFER_CANDIDATES,
                    title=f"Proposer des candidats : {campaign.title} ({campaign.employer_name})",
                    assignee_organisation_id=r.agency_id,
                    assignee_role=Role.AGENCY,
                    due_at=campaign.deadline,
                ),
                base_url=self.settings.base_url,
            )
            await repo.mark_relayed(r.campaign_id, r.agency_id)

    @activity.defn
    async def set_campaign_status(self, s: CampaignStatusChange) -> None:
        async with self.pool.acquire() as c, c.transaction():
            repo = RecruitmentRepository(c)
            await repo.set_status(s.campaign_id, s.status, s.at, s.reason)
            if s.status != CampaignStatus.OPEN:
                # Applications are closed: the agencies' referral tasks with them.
                campaign = await _campaign(c, s.campaign_id)
                for agency_id in campaign.agency_ids:
                    await ProcessRepository(c).close_task(
                        TaskClose(
                            key=refer_task_key(campaign.workflow_id, agency_id),
                            outcome=s.status.value,
                        )
                    )

    @activity.defn
    async def count_in_interview(self, r: CampaignRef) -> int:
        async with self.pool.acquire() as c:
            return await RecruitmentRepository(c).count_in_interview(r.campaign_id)

    @activity.defn
    async def notify_open_referrals(self, r: CampaignRef) -> int:
        """Tell every referral still open that its campaign closed. Resumes after a retry from
        the last workflow id it heartbeated; a referral already closed is skipped."""
        details = activity.info().heartbeat_details
        after = details[0] if details else ""
        signalled = 0
        async with self.pool.acquire() as c:
            campaign = await _campaign(c, r.campaign_id)
        notice = CampaignClosed(status=campaign.status)
        while True:
            async with self.pool.acquire() as c:
                ids = await RecruitmentRepository(c).open_referral_workflows(
                    r.campaign_id, after, SIGNAL_PAGE
                )
            if not ids:
                return signalled
            for wid in ids:
                try:
                    await self.client.get_workflow_handle(wid).signal("campaign_closed", notice)
                    signalled += 1
                except RPCError as err:
                    if err.status != RPCStatusCode.NOT_FOUND:
                        raise
            after = ids[-1]
            activity.heartbeat(after)

    @activity.defn
    async def send_report(self, r: CampaignRef) -> None:
        async with self.pool.acquire() as c, c.transaction():
            repo = RecruitmentRepository(c)
            campaign = await _campaign(c, r.campaign_id)
            report = await repo.report(campaign)
            await ProcessRepository(c).enqueue(
                OutboxMessage(
                    dedup_key=f"{campaign.workflow_id}:report",
                    recipient=org_recipient(campaign.employer_id),
                    subject=f"Bilan de la campagne {campaign.title}",
                    body=(
                        f"{report.hired} embauche(s) pour {report.target} poste(s), dont "
                        f"{report.local_hires} locale(s) ({report.local_share:.0%}).\n"
                        "Le bilan détaillé est disponible sur Relais."
                    ),
                    workflow_id=campaign.workflow_id,
                )
            )

    # --- referral -------------------------------------------------------------------------

    @activity.defn
    async def register_referral(self, req: RegisterReferral) -> Registration:
        """Record a referral once. The same person (email or phone) already referred in this
        campaign makes it a duplicate, credited to the first agency. Raises `IntakeRefused`
        when the campaign does not take it (nothing is written)."""
        i = req.input
        async with self.pool.acquire() as c, c.transaction():
            repo = RecruitmentRepository(c)
            existing = await repo.registration(req.workflow_id)
            check = await repo.intake_check(i.campaign_id, i.agency_id, i.position_id)
            if check is None:
                raise IntakeRefused("campagne inconnue")
            if existing is not None:  # a retry after the first attempt committed
                return Registration(
                    referral_id=existing.referral_id,
                    step=existing.status,
                    pseudonym=existing.pseudonym,
                    duplicate_of_agency=existing.duplicate_of_agency,
                    network_id=check.network_id,
                    employer_id=check.employer_id,
                    decision_sla_days=check.decision_sla_days,
                )
            why = intake_refusal(
                status=check.status,
                deadline=check.deadline,
                now=datetime.now(UTC),
                invited=check.invited,
                position_ok=check.position_ok,
            )
            if why:
                raise IntakeRefused(why)
            # Serialise referrals of the same person in this campaign (fixed lock order).
            for key in sorted(k.hex() for k in (i.email_key, i.phone_key) if k):
                await repo.lock(f"referral:{i.campaign_id}:{key}")
            original = await repo.original_for(
                i.campaign_id,
                [i.email_key, *i.older_email_keys],
                [i.phone_key, *i.older_phone_keys] if i.phone_key else [],
            )
            step = ReferralStep.DUPLICATE if original else ReferralStep.SCREENING
            name = pseudonym(self.secret, i.referral_id)
            await repo.insert_referral(
                i, req.workflow_id, name, step, original.id if original else None
            )
        return Registration(
            referral_id=i.referral_id,
            step=step,
            pseudonym=name,
            duplicate_of_agency=original.agency_name if original else None,
            network_id=check.network_id,
            employer_id=check.employer_id,
            decision_sla_days=check.decision_sla_days,
        )

    @activity.defn
    async def set_referral_step(self, s: ReferralStepChange) -> None:
        async with self.pool.acquire() as c, c.transaction():
            await RecruitmentRepository(c).set_referral(s.referral_id, s.step, s.at, s.reason)

    @activity.defn
    async def record_hire(self, h: HireRequest) -> HireResult:
        """Fill a place for the candidate; raises `HireRefused` when there is none to fill."""
        async with self.pool.acquire() as c, c.transaction():
            position, refusal = await RecruitmentRepository(c).record_hire(
                h.referral_id, h.campaign_id, h.position_id, h.at, h.reason
            )
        if position is None:
            raise HireRefused(refusal or "embauche impossible")
        return HireResult(position_id=position)

    @activity.defn
    async def erase_candidates(self, e: ErasureInput) -> ErasureResult:
        async with self.pool.acquire() as c, c.transaction():
            repo = RecruitmentRepository(c)
            if e.referral_id is not None:
                return ErasureResult(erased=await repo.erase_one(e.referral_id))
            # Months counted as 30 days: erasure is never early by a calendar quirk.
            cutoff = datetime.now(UTC) - timedelta(days=30 * e.months)
            return ErasureResult(erased=await repo.erase_expired(cutoff))
