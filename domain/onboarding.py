"""Member onboarding: a company joins the network and accepts its charter."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from domain.auth import Role
from domain.common import REQUEST_ID_PATTERN, FreeText

PersonName = Annotated[str, FreeText(2, 120, one_line=True)]
RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]


def onboarding_workflow_id(organisation_id: UUID) -> str:
    """One onboarding per organisation: the id is the dedup key."""
    return f"onboarding-{organisation_id}"


class OnboardingStep(StrEnum):
    VALIDATING = "validating"
    AWAITING_CHARTER = "awaiting_charter"
    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUSED = "refused"


class OnboardingCreate(BaseModel):
    """API input: staff open a member's onboarding."""

    model_config = ConfigDict(extra="forbid")

    organisation_id: UUID
    contact_name: PersonName
    contact_email: EmailStr


class MemberOnboardingInput(BaseModel):
    organisation_id: UUID
    contact_name: str
    contact_email: str
    started_by: str
    reminder_after: timedelta = timedelta(days=7)
    expire_after: timedelta = timedelta(days=30)


class CharterAcceptanceCreate(BaseModel):
    """API input: the member accepts the network's charter."""

    model_config = ConfigDict(extra="forbid")

    request_id: RequestId = Field(
        description="Identifiant choisi par le client ; rejouer la même demande ne change rien"
    )


class CharterAcceptance(BaseModel):
    """Update input: who accepted, for which organisation."""

    request_id: str
    user_id: UUID
    organisation_id: UUID
    role: Role


class OnboardingCancelCreate(BaseModel):
    """API input: staff stop an onboarding."""

    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    reason: Annotated[str, FreeText(3, 500)]


class OnboardingCancel(BaseModel):
    request_id: str
    user_id: UUID
    reason: str


class OnboardingState(BaseModel):
    workflow_id: str
    organisation_id: UUID
    step: OnboardingStep
    started_at: datetime
    accepted_at: datetime | None = None
    accepted_by: UUID | None = None
    reminders_sent: int = 0
    last_reminder_at: datetime | None = None
    closed_at: datetime | None = None
    detail: str | None = None


class MemberCheck(BaseModel):
    organisation_id: UUID


class MemberChecked(BaseModel):
    organisation_id: UUID
    name: str


class MembershipRecord(BaseModel):
    organisation_id: UUID
    workflow_id: str
    contact_name: str
    contact_email: str
    started_by: str = "system"


class MembershipActivation(BaseModel):
    organisation_id: UUID
    workflow_id: str
    accepted_by: UUID
    accepted_at: datetime


class MembershipClosure(BaseModel):
    organisation_id: UUID
    workflow_id: str
    outcome: OnboardingStep
    actor: str = "system"
    reason: str | None = None
