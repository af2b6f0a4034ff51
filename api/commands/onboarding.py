"""Onboarding acts: staff open a member company's onboarding, the member (or staff for it)
accepts the charter, staff cancel it."""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from pydantic import BaseModel
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.commands.base import OPERATORS, Ctx, command, refusal
from domain.auth import Role
from domain.errors import Conflict, NotFound
from domain.onboarding import (
    CharterAcceptance,
    CharterAcceptanceCreate,
    MemberOnboardingInput,
    OnboardingCancel,
    OnboardingCancelCreate,
    OnboardingCreate,
    OnboardingState,
    OnboardingStep,
    onboarding_workflow_id,
)
from domain.organisations import OrganisationKind, OrganisationStatus
from store.organisations import OrganisationRepository
from workflows.clients import update_with_retry
from workflows.onboarding import MemberOnboardingWorkflow, start_onboarding

Handle = WorkflowHandle[MemberOnboardingWorkflow, OnboardingState]


class OnboardingStarted(BaseModel):
    workflow_id: str
    organisation_id: UUID


def visible_onboarding(ctx: Ctx, organisation_id: UUID) -> Handle:
    """The onboarding of a company the caller may see (the network, or the company itself)."""
    if not ctx.principal.may_see(organisation_id):
        raise NotFound.of("Adhésion")
    return ctx.client.get_workflow_handle_for(
        MemberOnboardingWorkflow.run, onboarding_workflow_id(organisation_id)
    )


async def state(handle: Handle) -> OnboardingState:
    try:
        return await handle.query(MemberOnboardingWorkflow.state)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise NotFound.of("Adhésion") from None
        raise


A = TypeVar("A", bound=BaseModel)


async def _update(
    handle: Handle,
    update: UpdateMethodMultiParam[[MemberOnboardingWorkflow, A], OnboardingState],
    arg: A,
    update_id: str,
) -> OnboardingState:
    try:
        result: OnboardingState = await update_with_retry(handle, update, arg, id=update_id)
        return result
    except WorkflowUpdateFailedError as err:
        raise Conflict(refusal(err)) from None
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        # Closed already: a replayed request reads the outcome instead of failing.
        found = await state(handle)
        if (
            update is MemberOnboardingWorkflow.accept_charter
            and found.step == OnboardingStep.ACTIVE
        ):
            return found
        raise Conflict(f"Cette adhésion est close ({found.step.value}).") from None


@command(*OPERATORS, audited=False)
async def open_onboarding(ctx: Ctx, data: OnboardingCreate) -> OnboardingStarted:
    """Start a member company's onboarding: its contact is asked to accept the charter."""
    org = await OrganisationRepository(ctx.conn).get(data.organisation_id)
    if org is None:
        raise NotFound.of("Organisation")
    if org.kind != OrganisationKind.MEMBER:
        raise Conflict("Seule une entreprise membre peut adhérer au réseau.")
    if org.status == OrganisationStatus.ACTIVE:
        raise Conflict(f"{org.name} est déjà adhérente.")
    try:
        handle = await start_onboarding(
            ctx.client,
            ctx.task_queue,
            MemberOnboardingInput(
                organisation_id=org.id,
                contact_name=data.contact_name,
                contact_email=str(data.contact_email),
                started_by=str(ctx.principal.user_id),
            ),
        )
    except WorkflowAlreadyStartedError:
        raise Conflict(f"Une adhésion de {org.name} est déjà en cours.") from None
    return OnboardingStarted(workflow_id=handle.id, organisation_id=org.id)


@command(*OPERATORS, Role.MEMBER, audited=False)
async def accept_charter(
    ctx: Ctx, handle: Handle, data: CharterAcceptanceCreate
) -> OnboardingState:
    """The member (or staff for it) accepts the network's charter: the membership starts."""
    p = ctx.principal
    acceptance = CharterAcceptance(
        request_id=data.request_id,
        user_id=p.user_id,
        organisation_id=p.organisation_id,
        role=p.role,
    )
    return await _update(
        handle, MemberOnboardingWorkflow.accept_charter, acceptance, f"charter-{data.request_id}"
    )


@command(*OPERATORS, audited=False)  # its activity audits it
async def cancel(ctx: Ctx, handle: Handle, data: OnboardingCancelCreate) -> OnboardingState:
    """Stop an onboarding, with a reason."""
    act = OnboardingCancel(
        request_id=data.request_id, user_id=ctx.principal.user_id, reason=data.reason
    )
    return await _update(handle, MemberOnboardingWorkflow.cancel, act, f"cancel-{data.request_id}")
