"""Directory acts: staff create organisations; staff, or an organisation itself, correct its
details. Everyone reads the directory as far as their role lets them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from uuid import UUID

from api.commands.base import OPERATORS, Ctx, command
from domain.auth import Role
from domain.common import Page
from domain.errors import Conflict, Forbidden, NotFound
from domain.organisations import (
    FIELD_LABELS,
    STAFF_ONLY_FIELDS,
    ChangeDecisionCreate,
    ChangeRequestCreate,
    ChangeRequestPublic,
    ChangeStatus,
    OrganisationCreate,
    OrganisationFilter,
    OrganisationKind,
    OrganisationPublic,
    OrganisationStatus,
    OrganisationUpdate,
)
from domain.processes import AuditEvent, TimelineEvent
from store.organisations import ChangeRepository, OrganisationRepository
from store.processes import ProcessRepository

# A member, agency or partner may correct its own organisation's details.
SELF_EDITORS = (*OPERATORS, Role.MEMBER, Role.AGENCY, Role.PARTNER)


async def visible_organisation(ctx: Ctx, organisation_id: UUID) -> OrganisationPublic:
    org = await OrganisationRepository(ctx.conn).get(organisation_id)
    if org is None or not ctx.principal.may_see(org.id):
        raise NotFound.of("Organisation")
    return org


async def directory(ctx: Ctx, f: OrganisationFilter) -> Page[OrganisationPublic]:
    return await OrganisationRepository(ctx.conn).list(f, only_id=ctx.principal.scope)


async def history(ctx: Ctx, organisation_id: UUID) -> list[TimelineEvent]:
    """What was done to an organisation's record: created, changed, its membership."""
    await visible_organisation(ctx, organisation_id)
    return await OrganisationRepository(ctx.conn).history(organisation_id)


@command(*OPERATORS)
async def create(ctx: Ctx, data: OrganisationCreate) -> OrganisationPublic:
    """Add an organisation to the directory; a SIRET is there once. A member company starts
    pending: it becomes active once it has accepted the charter (its onboarding); the visits
    it received before (same SIRET) become its own."""
    async with ctx.conn.transaction():
        repo = OrganisationRepository(ctx.conn)
        existing = await repo.get_by_siret(data.siret)
        if existing:
            raise Conflict(f"Le SIRET {data.siret} est déjà enregistré ({existing.name}).")
        status = (
            OrganisationStatus.PENDING
            if data.kind == OrganisationKind.MEMBER
            else OrganisationStatus.ACTIVE
        )
        org = await repo.create(data, status=status)
        if org.kind == OrganisationKind.MEMBER:  # visited before it joined: its visits
            await repo.claim_visits(org.id, org.siret)
        return org


def _labels(fields: Iterable[str]) -> str:
    return ", ".join(FIELD_LABELS.get(f, f) for f in sorted(fields))


@command(*SELF_EDITORS, audited=False)
async def update(ctx: Ctx, organisation_id: UUID, data: OrganisationUpdate) -> OrganisationPublic:
    """Correct an organisation's details. What decides eligibility, a share of a bill or who
    the organisation is (name, NAF, headcount, territory, status) only the network's staff
    change; an organisation proposes it (`propose_change`). Every change is audited."""
    p = ctx.principal
    if not p.may_see(organisation_id):
        raise NotFound.of("Organisation")
    protected = data.model_fields_set & STAFF_ONLY_FIELDS
    if protected and not p.sees_everything:
        if "status" in protected:
            raise Forbidden("Seule l'équipe du réseau peut changer le statut.")
        raise Forbidden(
            f"Ces informations ({_labels(protected)}) décident de l'éligibilité et des parts "
            "de factures : l'équipe du réseau les modifie. Proposez le changement "
            "(« Demander une modification »), elle le validera."
        )
    return await _apply(ctx, organisation_id, data, reason=None)


async def _apply(
    ctx: Ctx, organisation_id: UUID, data: OrganisationUpdate, reason: str | None
) -> OrganisationPublic:
    """The change, and its audit (each field before and after), in one transaction."""
    repo = OrganisationRepository(ctx.conn)
    async with ctx.conn.transaction():
        before = await repo.get(organisation_id)
        org = await repo.update(organisation_id, data)
        if before is None or org is None:
            raise NotFound.of("Organisation")
        changed = {
            f: {"avant": _plain(getattr(before, f)), "après": _plain(getattr(org, f))}
            for f in data.model_fields_set
            if getattr(before, f) != getattr(org, f)
        }
        if changed:
            await ProcessRepository(ctx.conn).audit(
                AuditEvent(
                    actor=str(ctx.principal.user_id),
                    action="organisation.updated",
                    entity_type="organisation",
                    entity_id=str(organisation_id),
                    data={"changes": changed, **({"reason": reason} if reason else {})},
                )
            )
    return org


def _plain(value: object) -> object:
    return value.value if isinstance(value, StrEnum) else value


@command(*SELF_EDITORS)
async def propose_change(
    ctx: Ctx, organisation_id: UUID, data: ChangeRequestCreate
) -> ChangeRequestPublic:
    """An organisation asks the network's staff to change its name, NAF, headcount or
    territory, with a reason."""
    p = ctx.principal
    await visible_organisation(ctx, organisation_id)
    return await ChangeRepository(ctx.conn).propose(
        organisation_id, data.changes(), data.reason, p.user_id
    )


async def change_requests(
    ctx: Ctx, organisation_id: UUID | None, pending_only: bool
) -> list[ChangeRequestPublic]:
    """The network: every organisation's (or one's); an organisation: its own."""
    p = ctx.principal
    if not p.sees_everything:
        organisation_id = p.organisation_id
    return await ChangeRepository(ctx.conn).list(organisation_id, pending_only=pending_only)


async def visible_change(ctx: Ctx, change_id: UUID) -> ChangeRequestPublic:
    found = await ChangeRepository(ctx.conn).get(change_id)
    if found is None or not ctx.principal.may_see(found.organisation_id):
        raise NotFound.of("Demande de modification")
    return found


@command(*OPERATORS)
async def decide_change(
    ctx: Ctx, change: ChangeRequestPublic, data: ChangeDecisionCreate
) -> ChangeRequestPublic:
    """Staff approve a proposal (the change is applied and audited) or refuse it."""
    if change.status != ChangeStatus.PENDING:
        raise Conflict("Cette demande de modification a déjà été traitée.")
    repo = ChangeRepository(ctx.conn)
    async with ctx.conn.transaction():
        status = ChangeStatus.APPROVED if data.approve else ChangeStatus.REFUSED
        if not await repo.decide(change.id, status, ctx.principal.user_id, data.note):
            raise Conflict("Cette demande de modification a déjà été traitée.")
        if data.approve:
            update = OrganisationUpdate.model_validate(change.changes)
            await _apply(ctx, change.organisation_id, update, reason=change.reason)
    return await visible_change(ctx, change.id)
