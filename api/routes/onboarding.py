"""Member onboarding (JSON): staff open it, the member accepts the charter, anyone allowed
reads it."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, status

from api.commands import onboarding as onb
from api.commands.base import Ctx
from api.commands.onboarding import OnboardingStarted
from api.deps import Context, acting
from api.errors import RESPONSES
from domain.onboarding import (
    CharterAcceptanceCreate,
    OnboardingCancelCreate,
    OnboardingCreate,
    OnboardingState,
)

router = APIRouter(prefix="/api/onboardings", tags=["adhésions"], responses=RESPONSES)


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=OnboardingStarted)
async def open_onboarding(
    ctx: Annotated[Ctx, Depends(acting(onb.open_onboarding))], data: OnboardingCreate
) -> OnboardingStarted:
    return await onb.open_onboarding(ctx, data)


@router.get("/{organisation_id}", response_model=OnboardingState)
async def get_onboarding(ctx: Context, organisation_id: UUID) -> OnboardingState:
    return await onb.state(onb.visible_onboarding(ctx, organisation_id))


@router.post("/{organisation_id}/charter", response_model=OnboardingState)
async def accept_charter(
    ctx: Annotated[Ctx, Depends(acting(onb.accept_charter))],
    organisation_id: UUID,
    data: CharterAcceptanceCreate,
) -> OnboardingState:
    return await onb.accept_charter(ctx, onb.visible_onboarding(ctx, organisation_id), data)


@router.post("/{organisation_id}/cancel", response_model=OnboardingState)
async def cancel_onboarding(
    ctx: Annotated[Ctx, Depends(acting(onb.cancel))],
    organisation_id: UUID,
    data: OnboardingCancelCreate,
) -> OnboardingState:
    return await onb.cancel(ctx, onb.visible_onboarding(ctx, organisation_id), data)
