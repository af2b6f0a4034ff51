"""Recruitment acts: staff launch and cancel campaigns, agencies refer and withdraw
candidates, the network screens, the employer asks for an interview and decides, the agency
records the candidate's consent, staff erase a candidate on request. And who sees what."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from uuid import UUID

from temporalio.exceptions import WorkflowAlreadyStartedError

from api.commands import limits
from api.commands.base import NETWORK, OPERATORS, Ctx, command, send_update
from domain.actions import ReferralActionKind
from domain.auth import Principal, Role
from domain.common import Page
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.organisations import OrganisationKind, OrganisationStatus
from domain.processes import AuditEvent
from domain.recruitment import (
    CampaignCancel,
    CampaignCancelCreate,
    CampaignCreate,
    CampaignInput,
    CampaignPublic,
    CampaignReport,
    CampaignStatus,
    ConsentCreate,
    DecisionCreate,
    ErasureResult,
    InterviewRequestCreate,
    ReferralAction,
    ReferralCreate,
    ReferralPublic,
    ReferralRegistered,
    ReferralState,
    ReferralStep,
    ScreeningCreate,
    WithdrawalCreate,
    campaign_id_for,
    intake_refusal,
    position_ids_for,
    referral_id_for,
    referral_workflow_id,
)
from store.organisations import OrganisationRepository
from store.processes import ProcessRepository
from store.recruitment import RecruitmentRepository, ReferralAccess, sealed_referral
from workflows.recruitment import (
    RecruitmentCampaignWorkflow,
    RecruitmentReferralWorkflow,
    erase_candidate,
    start_campaign,
)
from workflows.recruitment import refer as start_referral

# --- who sees what -----------------------------------------------------------------------


def campaign_visible(c: CampaignPublic, p: Principal) -> bool:
    """The network; the employer its own campaigns; an agency those it is invited to."""
    if p.sees_everything:
        return True
    if p.role == Role.MEMBER:
        return c.employer_id == p.organisation_id
    if p.role == Role.AGENCY:
        return p.organisation_id in c.agency_ids
    return False


def referral_visible(a: ReferralAccess, p: Principal) -> bool:
    """The network; the referring agency; the employer once the candidate is shortlisted."""
    return (
        p.sees_everything
        or (p.role == Role.AGENCY and a.agency_id == p.organisation_id)
        or (
            p.role == Role.MEMBER
            and a.employer_id == p.organisation_id
            and a.shortlisted_at is not None
        )
    )


def identity_revealed(p: Principal, employer_id: UUID, agency_id: UUID, consent: bool) -> bool:
    """Who reads a candidate's identity: the network, the referring agency, and the employer
    once the candidate consented."""
    if p.sees_everything:
        return True
    if p.role == Role.AGENCY:
        return agency_id == p.organisation_id
    return p.organisation_id == employer_id and consent


async def visible_campaign(ctx: Ctx, campaign_id: UUID) -> CampaignPublic:
    campaign = await RecruitmentRepository(ctx.conn).get_campaign(campaign_id)
    if campaign is None or not campaign_visible(campaign, ctx.principal):
        raise NotFound.of("Campagne")
    return campaign


async def visible_referral(ctx: Ctx, referral_id: UUID) -> ReferralAccess:
    access = await RecruitmentRepository(ctx.conn).referral_access(referral_id)
    if access is None or not referral_visible(access, ctx.principal):
        raise NotFound.of("Candidature")
    return access


# The reasons an employer reads: its own decisions'. The network's screening note (kept in
# the same column until a decision replaces it) and an agency's withdrawal reason stay out.
EMPLOYER_REASONS = (ReferralStep.HIRED, ReferralStep.REJECTED, ReferralStep.NOT_RETAINED)


def as_seen_by(p: Principal, r: ReferralPublic) -> ReferralPublic:
    """A referral as this reader may read it: the employer without the others' notes."""
    if p.role == Role.MEMBER and r.status not in EMPLOYER_REASONS:
        return r.model_copy(update={"reason": None})
    return r


async def read_referral(ctx: Ctx, access: ReferralAccess) -> ReferralPublic:
    p = ctx.principal
    found = await RecruitmentRepository(ctx.conn, ctx.sealer).get_referral(
        access.id,
        lambda r: identity_revealed(p, access.employer_id, r.agency_id, r.consent_at is not None),
    )
    if found is None:
        raise NotFound.of("Candidature")
    return as_seen_by(p, found[0])


async def registration_of(ctx: Ctx, referral_id: UUID) -> ReferralRegistered:
    """The answer a referral was given (new, or a duplicate credited to the agency that
    referred the person first), as the referring agency or the network may read it again."""
    access = await visible_referral(ctx, referral_id)
    found = await RecruitmentRepository(ctx.conn).registration(access.workflow_id)
    if found is None or not (ctx.principal.sees_everything or ctx.principal.role == Role.AGENCY):
        raise NotFound.of("Candidature")
    return found


async def list_campaigns(
    ctx: Ctx, status: CampaignStatus | None, limit: int, offset: int
) -> Page[CampaignPublic]:
    p = ctx.principal
    if p.role == Role.PARTNER:
        return Page[CampaignPublic](items=[], total=0, limit=limit, offset=offset)
    return await RecruitmentRepository(ctx.conn).list_campaigns(
        employer_id=p.organisation_id if p.role == Role.MEMBER else None,
        agency_id=p.organisation_id if p.role == Role.AGENCY else None,
        status=status,
        limit=limit,
        offset=offset,
    )


async def list_referrals(
    ctx: Ctx,
    campaign: CampaignPublic,
    statuses: list[ReferralStep] | None,
    limit: int,
    offset: int,
) -> Page[ReferralPublic]:
    p = ctx.principal
    found = await RecruitmentRepository(ctx.conn, ctx.sealer).list_referrals(
        campaign.id,
        agency_id=p.organisation_id if p.role == Role.AGENCY else None,
        statuses=[s.value for s in statuses] if statuses else None,
        limit=limit,
        offset=offset,
        reveal=lambda r: identity_revealed(
            p, campaign.employer_id, r.agency_id, r.consent_at is not None
        ),
        shortlisted_only=p.role == Role.MEMBER,
    )
    return found.model_copy(update={"items": [as_seen_by(p, r) for r in found.items]})


async def stage_counts(
    ctx: Ctx, campaign: CampaignPublic
) -> tuple[list[tuple[UUID, ReferralStep, bool, int]], dict[UUID, str]]:
    """How many of a campaign's referrals stand at each step, per agency and duplicate or
    not, and the invited agencies' names (the network's view: every agency's)."""
    if not ctx.principal.sees_everything:
        raise Forbidden("Les chiffres par agence sont réservés à l'équipe du réseau.")
    repo = RecruitmentRepository(ctx.conn, ctx.sealer)
    rows = await repo.stage_counts(campaign.id)
    return [(a, ReferralStep(s), d, n) for a, s, d, n in rows], await repo.agency_names(campaign.id)


async def report(ctx: Ctx, campaign: CampaignPublic) -> CampaignReport:
    if ctx.principal.role == Role.AGENCY:
        raise Forbidden(
            "Le bilan est réservé au réseau et à l'employeur ; chaque agence suit ses candidatures."
        )
    await limits.reports(ctx)  # counted over every referral of the campaign
    return await RecruitmentRepository(ctx.conn).report(campaign)


# --- campaigns ---------------------------------------------------------------------------


@command(*NETWORK)
async def launch(ctx: Ctx, data: CampaignCreate) -> CampaignPublic:
    """Launch a campaign for a member employer; answers once the offer is relayed. The same
    request id finds the same campaign."""
    if data.deadline <= datetime.now(UTC):
        raise Invalid("deadline", "la date limite doit être dans le futur.")
    orgs = OrganisationRepository(ctx.conn)
    employer = await orgs.get(data.employer_id)
    if employer is None or employer.kind != OrganisationKind.MEMBER:
        raise Invalid("employer_id", "ce n'est pas une entreprise membre.")
    if employer.status != OrganisationStatus.ACTIVE:
        raise Conflict(f"{employer.name} n'est pas (encore) adhérente active.")
    for agency_id in data.agency_ids:
        agency = await orgs.get(agency_id)
        if agency is None or agency.kind != OrganisationKind.AGENCY:
            raise Invalid("agency_ids", f"{agency_id} n'est pas une agence emploi.")
    network_id = ctx.principal.organisation_id
    campaign_id = campaign_id_for(network_id, data.request_id)
    # A retry of a launch whose campaign has already closed finds it in the store.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await start_campaign(
            ctx.client,
            ctx.task_queue,
            CampaignInput(
                campaign_id=campaign_id,
                network_id=network_id,
                created_by=ctx.principal.user_id,
                spec=data,
                position_ids=position_ids_for(campaign_id, len(data.positions)),
            ),
            request_id=f"{network_id}:{data.request_id}",
        )
    return await visible_campaign(ctx, campaign_id)


@command(*NETWORK)
async def cancel(ctx: Ctx, campaign: CampaignPublic, data: CampaignCancelCreate) -> CampaignPublic:
    """Cancel a campaign: open referrals are closed, the agencies told."""
    handle = ctx.client.get_workflow_handle_for(
        RecruitmentCampaignWorkflow.run, campaign.workflow_id
    )
    await send_update(
        handle,
        RecruitmentCampaignWorkflow.cancel,
        CampaignCancel(
            request_id=data.request_id, user_id=ctx.principal.user_id, reason=data.reason
        ),
        id=f"cancel-{data.request_id}",
        closed="La campagne est déjà close.",
    )
    return await visible_campaign(ctx, campaign.id)


# --- referrals ---------------------------------------------------------------------------


@command(Role.AGENCY)
async def refer(ctx: Ctx, campaign: CampaignPublic, data: ReferralCreate) -> ReferralRegistered:
    """An agency refers a candidate. `request_id` is the idempotency key: the same request
    sent again answers the same and records one referral, even after the campaign closed."""
    await limits.referrals(ctx)
    agency_id = ctx.principal.organisation_id
    workflow_id = referral_workflow_id(campaign.id, agency_id, data.request_id)
    repo = RecruitmentRepository(ctx.conn)
    if known := await repo.registration(workflow_id):
        return await _answered(ctx, campaign, workflow_id, known)
    why = intake_refusal(
        status=campaign.status,
        deadline=campaign.deadline,
        now=datetime.now(UTC),
        position_ok=data.position_id is None
        or data.position_id in {p.id for p in campaign.positions},
    )
    if why == "ce poste n'appartient pas à la campagne":
        raise Invalid("position_id", f"{why}.")
    if why:
        raise Conflict(f"Candidature refusée : {why}.")
    referral_id = referral_id_for(campaign.id, agency_id, data.request_id)
    try:
        reg = await start_referral(
            ctx.client,
            ctx.task_queue,
            sealed_referral(ctx.sealer, referral_id, campaign.id, agency_id, data),
        )
    except WorkflowAlreadyStartedError:
        # The same request raced with its own retry, whose referral closed in between.
        if known := await repo.registration(workflow_id):
            return known
        raise Conflict("Candidature déjà traitée.") from None
    if reg.step == ReferralStep.REFUSED:
        raise Conflict(f"Candidature refusée : {reg.detail}.")
    answer = ReferralRegistered.of(
        reg.referral_id,
        reg.pseudonym,
        reg.duplicate_of_agency if reg.step == ReferralStep.DUPLICATE else None,
    )
    return await _answered(ctx, campaign, workflow_id, answer)


async def _answered(
    ctx: Ctx, campaign: CampaignPublic, workflow_id: str, answer: ReferralRegistered
) -> ReferralRegistered:
    """Every duplicate answer is audited: it tells an agency that someone was referred by
    another one (who asked, when, for which campaign; no personal data)."""
    if answer.duplicate:
        await ProcessRepository(ctx.conn).audit(
            AuditEvent(
                actor=str(ctx.principal.user_id),
                action="referral.duplicate_answered",
                workflow_id=workflow_id,
                entity_type="referral",
                entity_id=str(answer.referral_id),
                data={"campaign_id": str(campaign.id), "credited_to": answer.duplicate_of_agency},
            )
        )
    return answer


async def _act(
    ctx: Ctx,
    referral: ReferralAccess,
    kind: ReferralActionKind,
    request_id: str,
    *,
    retained: bool | None = None,
    given: bool | None = None,
    hired: bool | None = None,
    reason: str | None = None,
    position_id: UUID | None = None,
) -> ReferralState:
    p = ctx.principal
    action = ReferralAction(
        kind=kind,
        request_id=request_id,
        user_id=p.user_id,
        organisation_id=p.organisation_id,
        role=p.role,
        retained=retained,
        given=given,
        hired=hired,
        reason=reason,
        position_id=position_id,
    )
    handle = ctx.client.get_workflow_handle_for(
        RecruitmentReferralWorkflow.run, referral.workflow_id
    )
    state: ReferralState = await send_update(
        handle,
        RecruitmentReferralWorkflow.act,
        action,
        id=action.key,
        closed="Cette candidature est close.",
    )
    return state


@command(*NETWORK)
async def screen(ctx: Ctx, referral: ReferralAccess, data: ScreeningCreate) -> ReferralState:
    """Shortlist the candidate or screen them out, with a reason."""
    return await _act(
        ctx,
        referral,
        ReferralActionKind.SCREEN,
        data.request_id,
        retained=data.retained,
        reason=data.reason,
    )


@command(*NETWORK, Role.MEMBER)
async def request_interview(
    ctx: Ctx, referral: ReferralAccess, data: InterviewRequestCreate
) -> ReferralState:
    """The employer wants to meet the shortlisted candidate."""
    return await _act(ctx, referral, ReferralActionKind.REQUEST_INTERVIEW, data.request_id)


@command(*OPERATORS, Role.AGENCY)
async def consent(ctx: Ctx, referral: ReferralAccess, data: ConsentCreate) -> ReferralState:
    """The referring agency records whether the candidate agrees to reveal their identity."""
    return await _act(ctx, referral, ReferralActionKind.CONSENT, data.request_id, given=data.given)


@command(*NETWORK, Role.MEMBER)
async def decide(ctx: Ctx, referral: ReferralAccess, data: DecisionCreate) -> ReferralState:
    """The employer hires (a place of the position named — required when the campaign has
    several: no hire fills the first open one silently) or rejects, with a reason. A rejection
    of a shortlisted profile is « not interested »: it closes the employer's review of that
    candidate."""
    if data.hired or data.position_id is not None:
        campaign = await RecruitmentRepository(ctx.conn).get_campaign(referral.campaign_id)
        if campaign is None:
            raise NotFound.of("Campagne")
        if data.position_id is not None and data.position_id not in {
            p.id for p in campaign.positions
        }:
            raise Invalid("position_id", "ce poste n'appartient pas à la campagne.")
        if data.hired and data.position_id is None and len(campaign.positions) > 1:
            raise Invalid(
                "position_id", "indiquez le poste pourvu : la campagne compte plusieurs postes."
            )
    return await _act(
        ctx,
        referral,
        ReferralActionKind.DECIDE,
        data.request_id,
        hired=data.hired,
        reason=data.reason,
        position_id=data.position_id,
    )


@command(*OPERATORS, Role.AGENCY)
async def withdraw(ctx: Ctx, referral: ReferralAccess, data: WithdrawalCreate) -> ReferralState:
    """The referring agency withdraws its candidate, with a reason."""
    return await _act(
        ctx, referral, ReferralActionKind.WITHDRAW, data.request_id, reason=data.reason
    )


@command(*OPERATORS)
async def erase(ctx: Ctx, referral: ReferralAccess) -> ErasureResult:
    """Erase a candidate's identity, contact and CV on request (anonymous statistics stay)."""
    return await erase_candidate(ctx.client, ctx.task_queue, referral.id)
