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
    # The earliest due date among its open tasks, and whether it has passed.
    next_due_at: datetime | None = None
    overdue: bool = False


class ProcessFilter(BaseModel):
    """What a list of processes may be narrowed to (query string of `GET /api/processes`)."""

    process: ProcessKind | None = None
    status: ProcessStatus | None = None
    organisation_id: UUID | None = None
    waiting_on: str | None = Field(default=None, max_length=50)
    overdue: bool = False
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class ProcessCount(BaseModel):
    process: ProcessKind
    status: ProcessStatus
    count: int


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
    # The record the task is about, when the workflow id does not say it (a member's request
    # in a pool, a referral).
    subject_id: str | None = None


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
    subject_id: str | None = None
    assignee_organisation_name: str | None = None
    overdue: bool = False


class TimelineEvent(BaseModel):
    """One line of a process's history: an audited act, or a task opened or closed."""

    at: datetime
    kind: str  # "audit", "task_opened", "task_closed"
    action: str
    actor: str | None = None  # a person's name, an organisation, or None for the system
    detail: str | None = None
    data: dict[str, Any] | None = None  # an audited act's choices and reason


class ProcessDetail(BaseModel):
    process: ProcessPublic
    tasks: list[TaskPublic]
    timeline: list[TimelineEvent]
    # The workflow's own answer to its `state` query (None when closed long ago, unreachable,
    # or not the caller's to read).
    live: dict[str, Any] | None = None
    live_error: str | None = None


class AuditEvent(BaseModel):
    actor: str  # a user id, or "system"
    action: str
    workflow_id: str | None = None
    entity_type: str
    entity_id: str
    data: dict[str, Any] = Field(default_factory=dict)
    # One row per act: a retried act finds it (None: every call is a row).
    dedup_key: str | None = None


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class OutboxPublic(BaseModel):
    id: UUID
    recipient: str
    recipients: list[str] | None
    subject: str
    body: str
    workflow_id: str | None
    created_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    attempts: int
    last_error: str | None

    @property
    def status(self) -> OutboxStatus:
        if self.sent_at:
            return OutboxStatus.SENT
        return OutboxStatus.FAILED if self.failed_at else OutboxStatus.QUEUED


class OutboxBatch(BaseModel):
    """Input of the outbox sender: how many mails one activity call may send."""

    limit: int = Field(default=50, ge=1, le=500)


class OutboxSent(BaseModel):
    sent: int = 0
    retried: int = 0
    failed: int = 0
    # Seconds until the next queued mail is due (None: nothing queued).
    next_due_in: float | None = None


class OutboxMessage(BaseModel):
    """A mail to send. `dedup_key` makes a retried activity queue it once."""

    dedup_key: str
    recipient: str
    subject: str
    body: str
    workflow_id: str | None = None


class OutboxRelayInput(BaseModel):
    """The outbox sender's settings; carried over each continue-as-new."""

    batch: int = Field(default=50, ge=1, le=500)
    poll_seconds: float = Field(default=5, ge=0.5, le=3600)
    rounds_per_run: int = Field(default=200, ge=1, le=1000)
