"""Membership records written by the onboarding workflow."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.onboarding import MembershipRecord
from store.pool import Conn

# A retried activity finds its row and changes nothing; an onboarding reopened after it
# expired or was cancelled starts the row afresh.
RECORD = """
INSERT INTO memberships (organisation_id, workflow_id, contact_name, contact_email, status)
VALUES ($1, $2, $3, $4, 'awaiting_charter')
ON CONFLICT (organisation_id) DO UPDATE
SET workflow_id = EXCLUDED.workflow_id, contact_name = EXCLUDED.contact_name,
    contact_email = EXCLUDED.contact_email, status = 'awaiting_charter',
    charter_accepted_at = NULL, charter_accepted_by = NULL, updated_at = now()
WHERE memberships.status IN ('expired', 'cancelled')"""
ACTIVATE = """
UPDATE memberships
SET status = 'active', charter_accepted_at = $2, charter_accepted_by = $3, updated_at = now()
WHERE organisation_id = $1 AND status <> 'active'"""
CLOSE = """
UPDATE memberships SET status = $2, updated_at = now()
WHERE organisation_id = $1 AND status = 'awaiting_charter'"""
GET_STATUS = "SELECT status FROM memberships WHERE organisation_id = $1"


class MembershipRepository:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def record(self, m: MembershipRecord) -> bool:
        """True when this call (re)opened the membership (False on a retry)."""
        result = await self.conn.execute(
            RECORD, m.organisation_id, m.workflow_id, m.contact_name, m.contact_email
        )
        return result == "INSERT 0 1"

    async def activate(self, organisation_id: UUID, at: datetime, by: UUID) -> bool:
        """True when this call made the change (False on a retry)."""
        return await self.conn.execute(ACTIVATE, organisation_id, at, by) == "UPDATE 1"

    async def close(self, organisation_id: UUID, status: str) -> bool:
        return await self.conn.execute(CLOSE, organisation_id, status) == "UPDATE 1"

    async def status(self, organisation_id: UUID) -> str | None:
        return await self.conn.fetchval(GET_STATUS, organisation_id)
