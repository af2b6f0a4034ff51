"""Recruitment campaigns: staff launch them, agencies refer candidates, staff screen, the
employer decides; everyone sees only what is theirs to see."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import JSONResponse, Response
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.deps import (
    AppSettings,
    CurrentUser,
    DataSealer,
    Pool,
    TemporalClient,
    not_found,
    require,
    send_update,
)
from domain.auth import Principal, Role
from domain.common import Page
from domain.csv_export import MEDIA_TYPE as CSV_MEDIA_TYPE
from domain.csv_export import csv_text
from domain.organisations import OrganisationKind, OrganisationStatus
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
    ReferralState,
    ReferralStep,
    ScreeningCreate,
    WithdrawalCreate,
    referral_workflow_id,
    report_csv_rows,
)
from store.crypto import Sealer
from store.organisations import OrganisationRepository
from store.recruitment import RecruitmentRepository, sealed_referral
from workflows.clients import erase_candidate, refer, start_campaign
from workflows.recruitment import RecruitmentCampaignWorkflow, RecruitmentReferralWorkflow

router = APIRouter(prefix="/api", tags=["recrutement"])

Launcher = Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.MANAGER))]
Agency = Annotated[Principal, Depends(require(Role.AGENCY))]
Staff = Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF))]

# Campaign ids are derived from the launcher's organisation and request id: a retried
# launch finds the same campaign.
CAMPAIGN_NS = uuid.UUID("5b0c1c3e-8e0a-4f49-9d55-2f6c1f0e7a10")


def _campaign_visible(c: CampaignPublic, p: Principal) -> bool:
    if p.sees_everything:
        return True
    if p.role == Role.MEMBER:
        return c.employer_id == p.organisation_id
    if p.role == Role.AGENCY:
        return p.organisation_id in c.agency_ids
    return False


async def _campaign(pool, campaign_id: UUID, p: Principal) -> CampaignPublic:
    async with pool.acquire() as c:
        campaign = await RecruitmentRepository(c).get_campaign(campaign_id)
    if campaign is None or not _campaign_visible(campaign, p):
        raise not_found("Campagne")
    return campaign


@router.post("/campaigns", status_code=status.HTTP_201_CREATED, response_model=CampaignPublic)
async def launch_campaign(
    data: CampaignCreate,
    pool: Pool,
    client: TemporalClient,
    settings: AppSettings,
    principal: Launcher,
):
    if data.deadline <= datetime.now(UTC):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "Données invalides — deadline : la date limite doit être dans le futur.",
        )
    async with pool.acquire() as c:
        orgs = OrganisationRepository(c)
        employer = await orgs.get(data.employer_id)
        if employer is None or employer.kind != OrganisationKind.MEMBER:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "Données invalides — employer_id : ce n'est pas une entreprise membre.",
            )
        if employer.status != OrganisationStatus.ACTIVE:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"{employer.name} n'est pas (encore) adhérente active."
            )
        for agency_id in data.agency_ids:
            agency = await orgs.get(agency_id)
            if agency is None or agency.kind != OrganisationKind.AGENCY:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    f"Données invalides — agency_ids : {agency_id} n'est pas une agence emploi.",
                )
    campaign_id = uuid.uuid5(CAMPAIGN_NS, f"{principal.organisation_id}:{data.request_id}")
    position_ids = [uuid.uuid5(campaign_id, str(i)) for i in range(len(data.positions))]
    # A retry of a launch whose campaign has already closed finds it in the store.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await start_campaign(
            client,
            settings.task_queue,
            CampaignInput(
                campaign_id=campaign_id,
                network_id=principal.organisation_id,
                created_by=principal.user_id,
                spec=data,
                position_ids=position_ids,
            ),
            request_id=f"{principal.organisation_id}:{data.request_id}",
        )
    return await _campaign(pool, campaign_id, principal)


@router.get("/campaigns", response_model=Page[CampaignPublic])
async def list_campaigns(
    pool: Pool,
    principal: CurrentUser,
    status_: Annotated[CampaignStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    if principal.role in (Role.PARTNER,):
        return Page[CampaignPublic](items=[], total=0, limit=limit, offset=offset)
    employer = principal.organisation_id if principal.role == Role.MEMBER else None
    agency = principal.organisation_id if principal.role == Role.AGENCY else None
    async with pool.acquire() as c:
        items, total = await RecruitmentRepository(c).list_campaigns(
            employer_id=employer, agency_id=agency, status=status_, limit=limit, offset=offset
        )
    return Page[CampaignPublic](items=items, total=total, limit=limit, offset=offset)


@router.get("/campaigns/{campaign_id}", response_model=CampaignPublic)
async def get_campaign(campaign_id: UUID, pool: Pool, principal: CurrentUser):
    return await _campaign(pool, campaign_id, principal)


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignPublic)
async def cancel_campaign(
    campaign_id: UUID,
    data: CampaignCancelCreate,
    pool: Pool,
    client: TemporalClient,
    principal: Launcher,
):
    campaign = await _campaign(pool, campaign_id, principal)
    handle = client.get_workflow_handle_for(RecruitmentCampaignWorkflow.run, campaign.workflow_id)
    await send_update(
        handle,
        RecruitmentCampaignWorkflow.cancel,
        CampaignCancel(request_id=data.request_id, user_id=principal.user_id, reason=data.reason),
        id=f"cancel-{data.request_id}",
        closed="La campagne est déjà close.",
    )
    return await _campaign(pool, campaign_id, principal)


async def _report(pool, campaign_id: UUID, p: Principal) -> CampaignReport:
    campaign = await _campaign(pool, campaign_id, p)
    if p.role == Role.AGENCY:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Le bilan est réservé au réseau et à "
            "l'employeur ; chaque agence suit ses candidatures.",
        )
    async with pool.acquire() as c:
        return await RecruitmentRepository(c).report(campaign)


@router.get("/campaigns/{campaign_id}/report", response_model=CampaignReport)
async def campaign_report(campaign_id: UUID, pool: Pool, principal: CurrentUser):
    return await _report(pool, campaign_id, principal)


@router.get("/campaigns/{campaign_id}/report.csv", response_class=Response)
async def campaign_report_csv(campaign_id: UUID, pool: Pool, principal: CurrentUser):
    report = await _report(pool, campaign_id, principal)
    return Response(
        csv_text(report_csv_rows(report)),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="bilan-{campaign_id}.csv"'},
    )


# --- referrals -----------------------------------------------------------------------------


@router.post("/campaigns/{campaign_id}/referrals", status_code=status.HTTP_201_CREATED)
async def refer_candidate(
    campaign_id: UUID,
    data: ReferralCreate,
    pool: Pool,
    client: TemporalClient,
    settings: AppSettings,
    sealer: DataSealer,
    principal: Agency,
):
    """An agency refers a candidate. `request_id` is the idempotency key: the same request
    sent again answers the same and records one referral, even after the campaign closed."""
    campaign = await _campaign(pool, campaign_id, principal)
    workflow_id = referral_workflow_id(campaign_id, principal.organisation_id, data.request_id)
    if known := await _registered(pool, workflow_id):
        return known
    if campaign.status != CampaignStatus.OPEN or datetime.now(UTC) >= campaign.deadline:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"Les candidatures sont closes pour « {campaign.title} » "
            f"(date limite : {campaign.deadline:%d/%m/%Y %H:%M} UTC).",
        )
    if data.position_id and data.position_id not in {p.id for p in campaign.positions}:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "Données invalides — position_id : ce poste n'appartient pas à la campagne.",
        )
    referral_id = uuid.uuid5(campaign_id, f"{principal.organisation_id}:{data.request_id}")
    try:
        reg = await refer(
            client,
            settings.task_queue,
            sealed_referral(sealer, referral_id, campaign_id, principal.organisation_id, data),
        )
    except WorkflowAlreadyStartedError:
        # The same request raced with its own retry, whose referral closed in between.
        if known := await _registered(pool, workflow_id):
            return known
        raise HTTPException(status.HTTP_409_CONFLICT, "Candidature déjà traitée.") from None
    if reg.step == ReferralStep.REFUSED:
        raise HTTPException(status.HTTP_409_CONFLICT, f"Candidature refusée : {reg.detail}.")
    return _registration_response(reg.referral_id, reg.pseudonym, reg.step, reg.duplicate_of_agency)


def _registration_response(referral_id, pseudonym, step: ReferralStep, duplicate_of):
    body = {
        "referral_id": str(referral_id),
        "pseudonym": pseudonym,
        "status": step.value,
        "duplicate_of_agency": duplicate_of,
    }
    if step == ReferralStep.DUPLICATE:
        body["detail"] = (
            f"Doublon : cette personne a déjà été proposée par {duplicate_of} ; "
            "la candidature reste créditée à cette agence."
        )
        return JSONResponse(body, status_code=status.HTTP_200_OK)
    return JSONResponse(body, status_code=status.HTTP_201_CREATED)


async def _registered(pool, workflow_id: str):
    """The answer already given to this request, if its referral is recorded."""
    async with pool.acquire() as c:
        row = await RecruitmentRepository(c).existing_registration(workflow_id)
    if row is None:
        return None
    step = ReferralStep.DUPLICATE if row["dup_agency"] else ReferralStep.SCREENING
    return _registration_response(row["id"], row["pseudonym"], step, row["dup_agency_name"])


def _reveal(p: Principal, employer_id: UUID):
    """Who may read a candidate's identity: the network, the referring agency, and the
    employer once the candidate consented."""

    def reveal(row) -> bool:
        if p.sees_everything:
            return True
        if p.role == Role.AGENCY:
            return row["agency_id"] == p.organisation_id
        return p.organisation_id == employer_id and row["consent_at"] is not None

    return reveal


@router.get("/campaigns/{campaign_id}/referrals", response_model=Page[ReferralPublic])
async def list_referrals(
    campaign_id: UUID,
    pool: Pool,
    sealer: DataSealer,
    principal: CurrentUser,
    status_: Annotated[list[ReferralStep] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    campaign = await _campaign(pool, campaign_id, principal)
    agency = principal.organisation_id if principal.role == Role.AGENCY else None
    async with pool.acquire() as c:
        items, total = await RecruitmentRepository(c, sealer).list_referrals(
            campaign_id,
            agency_id=agency,
            statuses=[s.value for s in status_] if status_ else None,
            limit=limit,
            offset=offset,
            reveal=_reveal(principal, campaign.employer_id),
            shortlisted_only=principal.role == Role.MEMBER,
        )
    return Page[ReferralPublic](items=items, total=total, limit=limit, offset=offset)


async def _referral(
    pool, referral_id: UUID, p: Principal, sealer: Sealer | None = None
) -> tuple[ReferralPublic, str, UUID]:
    async with pool.acquire() as c:
        repo = RecruitmentRepository(c, sealer)
        row = await c.fetchrow(
            "SELECT c.employer_id, r.agency_id, r.shortlisted_at FROM referrals r "
            "JOIN campaigns c ON c.id = r.campaign_id WHERE r.id = $1",
            referral_id,
        )
        if row is None:
            raise not_found("Candidature")
        visible = (
            p.sees_everything
            or (p.role == Role.AGENCY and row["agency_id"] == p.organisation_id)
            or (
                p.role == Role.MEMBER
                and row["employer_id"] == p.organisation_id
                and row["shortlisted_at"] is not None
            )
        )
        if not visible:
            raise not_found("Candidature")
        found = await repo.get_referral(referral_id, _reveal(p, row["employer_id"]))
    assert found is not None
    return found[0], found[1], row["employer_id"]


@router.get("/referrals/{referral_id}", response_model=ReferralPublic)
async def get_referral(referral_id: UUID, pool: Pool, sealer: DataSealer, principal: CurrentUser):
    return (await _referral(pool, referral_id, principal, sealer))[0]


async def _act(
    pool, client, referral_id: UUID, p: Principal, kind: str, request_id: str, **fields
) -> ReferralState:
    _, workflow_id, _ = await _referral(pool, referral_id, p)
    handle = client.get_workflow_handle_for(RecruitmentReferralWorkflow.run, workflow_id)
    action = ReferralAction(
        kind=kind,
        request_id=request_id,
        user_id=p.user_id,
        organisation_id=p.organisation_id,
        role=p.role,
        **fields,
    )
    return await send_update(
        handle,
        RecruitmentReferralWorkflow.act,
        action,
        id=action.key,
        closed="Cette candidature est close.",
    )


@router.post("/referrals/{referral_id}/screening", response_model=ReferralState)
async def screen(
    referral_id: UUID,
    data: ScreeningCreate,
    pool: Pool,
    client: TemporalClient,
    principal: Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.MANAGER))],
):
    return await _act(
        pool,
        client,
        referral_id,
        principal,
        "screen",
        data.request_id,
        retained=data.retained,
        reason=data.reason,
    )


@router.post("/referrals/{referral_id}/interview-request", response_model=ReferralState)
async def request_interview(
    referral_id: UUID,
    data: InterviewRequestCreate,
    pool: Pool,
    client: TemporalClient,
    principal: Annotated[
        Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.MANAGER, Role.MEMBER))
    ],
):
    return await _act(pool, client, referral_id, principal, "request_interview", data.request_id)


@router.post("/referrals/{referral_id}/consent", response_model=ReferralState)
async def record_consent(
    referral_id: UUID,
    data: ConsentCreate,
    pool: Pool,
    client: TemporalClient,
    principal: Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.AGENCY))],
):
    return await _act(
        pool, client, referral_id, principal, "consent", data.request_id, given=data.given
    )


@router.post("/referrals/{referral_id}/decision", response_model=ReferralState)
async def decide(
    referral_id: UUID,
    data: DecisionCreate,
    pool: Pool,
    client: TemporalClient,
    principal: Annotated[
        Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.MANAGER, Role.MEMBER))
    ],
):
    if data.position_id is not None:
        referral, _, _ = await _referral(pool, referral_id, principal)
        async with pool.acquire() as c:
            campaign = await RecruitmentRepository(c).get_campaign(referral.campaign_id)
        if campaign is None or data.position_id not in {p.id for p in campaign.positions}:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "Données invalides — position_id : ce poste n'appartient pas à la campagne.",
            )
    return await _act(
        pool,
        client,
        referral_id,
        principal,
        "decide",
        data.request_id,
        hired=data.hired,
        reason=data.reason,
        position_id=data.position_id,
    )


@router.post("/referrals/{referral_id}/withdrawal", response_model=ReferralState)
async def withdraw(
    referral_id: UUID,
    data: WithdrawalCreate,
    pool: Pool,
    client: TemporalClient,
    principal: Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.AGENCY))],
):
    return await _act(
        pool, client, referral_id, principal, "withdraw", data.request_id, reason=data.reason
    )


@router.delete("/referrals/{referral_id}/personal-data", response_model=ErasureResult)
async def erase_personal_data(
    referral_id: UUID,
    pool: Pool,
    client: TemporalClient,
    settings: AppSettings,
    principal: Staff,
):
    """Erase a candidate's identity, contact and CV on request (anonymous statistics stay)."""
    await _referral(pool, referral_id, principal)
    return await erase_candidate(client, settings.task_queue, referral_id)
