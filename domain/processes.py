"""What every workflow tells the store about itself: status projection, tasks, audit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from domain.auth import Role


class ProcessKind(StrEnum):
    ONBOARDING = "onboarding"
    RECRUITMENT = "recruitment"
    REFERRAL = "referral"
    POOLING = "pooling"
    BOOKING = "booking"
    CONVENTION = "convention"


class ProcessStatus(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"  # on a person
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class StatusProjection(BaseModel):
    """Where a workflow stands. `seq` grows with each change so that a late, retried
    activity never overwrites a newer state."""

    workflow_id: str
    run_id: str
    process: ProcessKind
    organisation_id: UUID | None = None
    title: str
    status: ProcessStatus
    step: str
    waiting_on: str | None = None
    since: datetime
    seq: int = Field(ge=0)


class ProcessPublic(BaseModel):
    workflow_id: str
    process: ProcessKind
    organisation_id: UUID | None
    organisation_name: str | None
    title: str
    status: ProcessStatus
    step: str
    waiting_on: str | None
    since: datetime
    started_at: datetime
    updated_at: datetime


class TaskOpen(BaseModel):
    """A wait on a person. `key` is unique per workflow step, so a retry opens nothing new."""

    key: str
    workflow_id: str
    process: ProcessKind
    action: str
    title: str
    assignee_organisation_id: UUID
    assignee_role: Role
    due_at: datetime


class TaskClose(BaseModel):
    key: str
    outcome: str


class TaskPublic(BaseModel):
    id: UUID
    workflow_id: str
    process: ProcessKind
    action: str
    title: str
    assignee_organisation_id: UUID
    assignee_role: Role
    due_at: datetime
    created_at: datetime
    closed_at: datetime | None
    outcome: str | None


class AuditEvent(BaseModel):
    actor: str  # a user id, or "system"
    action: str
    workflow_id: str | None = None
    entity_type: str
    entity_id: str
    data: dict[str, Any] = Field(default_factory=dict)


class OutboxMessage(BaseModel):
    """A mail to send. `dedup_key` makes a retried activity queue it once."""

    dedup_key: str
    recipient: str
    subject: str
    body: str
    workflow_id: str | None = None
