"""Recruitment campaigns (JSON): staff launch them, agencies refer candidates, staff screen,
the employer decides; everyone sees only what is theirs to see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse, Response

from api.commands import recruitment as rec
from api.commands.base import Ctx
from api.deps import NOTICE_HEADER, Context, VisibleCampaign, VisibleReferral, acting
from api.errors import RESPONSES
from domain.common import Page
from domain.csv_export import MEDIA_TYPE as CSV_MEDIA_TYPE
from domain.csv_export import csv_text
from domain.recruitment import (
    CampaignCancelCreate,
    CampaignCreate,
    CampaignPublic,
    CampaignReport,
    CampaignStatus,
    ConsentCreate,
    DecisionCreate,
    ErasureResult,
    InterviewRequestCreate,
    ReferralCreate,
    ReferralPublic,
    ReferralRegistered,
    ReferralState,
    ReferralStep,
    ScreeningCreate,
    WithdrawalCreate,
    report_csv_rows,
)

router = APIRouter(prefix="/api", tags=["recrutement"], responses=RESPONSES)


@router.post("/campaigns", status_code=status.HTTP_201_CREATED, response_model=CampaignPublic)
async def launch_campaign(
    ctx: Annotated[Ctx, Depends(acting(rec.launch))], data: CampaignCreate
) -> CampaignPublic:
    """Launch a campaign (positions, local territory, invited agencies, deadline with time
    zone, decision SLA); `request_id` makes a retry find the same campaign."""
    return await rec.launch(ctx, data)


@router.get("/campaigns", response_model=Page[CampaignPublic])
async def list_campaigns(
    ctx: Context,
    status_: Annotated[CampaignStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[CampaignPublic]:
    return await rec.list_campaigns(ctx, status_, limit, offset)


@router.get("/campaigns/{campaign_id}", response_model=CampaignPublic)
async def get_campaign(campaign: VisibleCampaign) -> CampaignPublic:
    return campaign


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignPublic)
async def cancel_campaign(
    ctx: Annotated[Ctx, Depends(acting(rec.cancel))],
    campaign: VisibleCampaign,
    data: CampaignCancelCreate,
) -> CampaignPublic:
    return await rec.cancel(ctx, campaign, data)


@router.get("/campaigns/{campaign_id}/report", response_model=CampaignReport)
async def campaign_report(ctx: Context, campaign: VisibleCampaign) -> CampaignReport:
    return await rec.report(ctx, campaign)


@router.get("/campaigns/{campaign_id}/report.csv", response_class=Response)
async def campaign_report_csv(ctx: Context, campaign: VisibleCampaign) -> Response:
    report = await rec.report(ctx, campaign)
    return Response(
        csv_text(report_csv_rows(report)),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="bilan-{campaign.id}.csv"'},
    )


@router.post(
    "/campaigns/{campaign_id}/referrals",
    status_code=status.HTTP_201_CREATED,
    response_model=ReferralRegistered,
    responses={200: {"model": ReferralRegistered, "description": "Doublon"}},
)
async def refer_candidate(
    ctx: Annotated[Ctx, Depends(acting(rec.refer))],
    campaign: VisibleCampaign,
    data: ReferralCreate,
) -> JSONResponse:
    """An agency refers a candidate: 201 new, 200 a duplicate (credited to the first agency,
    named). `request_id` is the idempotency key: the same request sent again answers the
    same and records one referral, even after the campaign closed."""
    reg = await rec.refer(ctx, campaign, data)
    return JSONResponse(
        reg.model_dump(mode="json"),
        status_code=status.HTTP_200_OK if reg.duplicate else status.HTTP_201_CREATED,
        headers={NOTICE_HEADER: " ".join(ctx.notices)} if ctx.notices else None,
    )


@router.get("/campaigns/{campaign_id}/referrals", response_model=Page[ReferralPublic])
async def list_referrals(
    ctx: Context,
    campaign: VisibleCampaign,
    status_: Annotated[list[ReferralStep] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[ReferralPublic]:
    return await rec.list_referrals(ctx, campaign, status_, limit, offset)


@router.get("/referrals/{referral_id}", response_model=ReferralPublic)
async def get_referral(ctx: Context, referral: VisibleReferral) -> ReferralPublic:
    return await rec.read_referral(ctx, referral)


@router.post("/referrals/{referral_id}/screening", response_model=ReferralState)
async def screen(
    ctx: Annotated[Ctx, Depends(acting(rec.screen))],
    referral: VisibleReferral,
    data: ScreeningCreate,
) -> ReferralState:
    return await rec.screen(ctx, referral, data)


@router.post("/referrals/{referral_id}/interview-request", response_model=ReferralState)
async def request_interview(
    ctx: Annotated[Ctx, Depends(acting(rec.request_interview))],
    referral: VisibleReferral,
    data: InterviewRequestCreate,
) -> ReferralState:
    return await rec.request_interview(ctx, referral, data)


@router.post("/referrals/{referral_id}/consent", response_model=ReferralState)
async def record_consent(
    ctx: Annotated[Ctx, Depends(acting(rec.consent))],
    referral: VisibleReferral,
    data: ConsentCreate,
) -> ReferralState:
    return await rec.consent(ctx, referral, data)


@router.post("/referrals/{referral_id}/decision", response_model=ReferralState)
async def decide(
    ctx: Annotated[Ctx, Depends(acting(rec.decide))],
    referral: VisibleReferral,
    data: DecisionCreate,
) -> ReferralState:
    return await rec.decide(ctx, referral, data)


@router.post("/referrals/{referral_id}/withdrawal", response_model=ReferralState)
async def withdraw(
    ctx: Annotated[Ctx, Depends(acting(rec.withdraw))],
    referral: VisibleReferral,
    data: WithdrawalCreate,
) -> ReferralState:
    return await rec.withdraw(ctx, referral, data)


@router.delete("/referrals/{referral_id}/personal-data", response_model=ErasureResult)
async def erase_personal_data(
    ctx: Annotated[Ctx, Depends(acting(rec.erase))], referral: VisibleReferral
) -> ErasureResult:
    """Erase a candidate's identity, contact and CV on request (anonymous statistics stay)."""
    return await rec.erase(ctx, referral)
