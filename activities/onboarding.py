"""Effects of a member's onboarding."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from activities.errors import OnboardingRefused
from domain.onboarding import (
    MemberCheck,
    MemberChecked,
    MembershipActivation,
    MembershipClosure,
    MembershipRecord,
)
from domain.organisations import OrganisationKind, OrganisationStatus
from domain.processes import AuditEvent
from store.memberships import MembershipRepository
from store.organisations import OrganisationRepository
from store.processes import ProcessRepository


class OnboardingActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn
    async def check_member(self, req: MemberCheck) -> MemberChecked:
        async with self.pool.acquire() as c:
            org = await OrganisationRepository(c).get(req.organisation_id)
        if org is None:
            raise OnboardingRefused("organisation inconnue", "unknown")
        if org.kind != OrganisationKind.MEMBER:
            raise OnboardingRefused(f"seule une entreprise membre peut adhérer (type : {org.kind})")
        if org.status == OrganisationStatus.ACTIVE:
            raise OnboardingRefused("cette entreprise est déjà adhérente")
        return MemberChecked(organisation_id=org.id, name=org.name)

    @activity.defn
    async def record_membership(self, m: MembershipRecord) -> None:
        async with self.pool.acquire() as c, c.transaction():
            if await MembershipRepository(c).record(m):  # not again on a retry
                await ProcessRepository(c).audit(
                    AuditEvent(
                        actor=m.started_by,
                        action="onboarding.started",
                        workflow_id=m.workflow_id,
                        entity_type="organisation",
                        entity_id=str(m.organisation_id),
                    )
                )
            await OrganisationRepository(c).set_status(
                m.organisation_id, OrganisationStatus.PENDING
            )

    @activity.defn
    async def activate_membership(self, a: MembershipActivation) -> None:
        async with self.pool.acquire() as c, c.transaction():
            changed = await MembershipRepository(c).activate(
                a.organisation_id, a.accepted_at, a.accepted_by
            )
            await OrganisationRepository(c).set_status(a.organisation_id, OrganisationStatus.ACTIVE)
            if changed:  # a retry after a lost completion must not audit twice
                await ProcessRepository(c).audit(
                    AuditEvent(
                        actor=str(a.accepted_by),
                        action="membership.activated",
                        workflow_id=a.workflow_id,
                        entity_type="organisation",
                        entity_id=str(a.organisation_id),
                    )
                )
        activity.logger.info("membership active", extra={"organisation_id": str(a.organisation_id)})

    @activity.defn
    async def close_membership(self, m: MembershipClosure) -> None:
        async with self.pool.acquire() as c, c.transaction():
            if await MembershipRepository(c).close(m.organisation_id, m.outcome):
                await ProcessRepository(c).audit(
                    AuditEvent(
                        actor=m.actor,
                        action=f"membership.{m.outcome}",
                        workflow_id=m.workflow_id,
                        entity_type="organisation",
                        entity_id=str(m.organisation_id),
                        data={"reason": m.reason} if m.reason else {},
                    )
                )
