"""Member onboarding: staff open it, the member accepts the charter, anyone allowed reads it."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import (
    AppSettings,
    CurrentUser,
    Pool,
    TemporalClient,
    not_found,
    refusal,
    require,
)
from domain.auth import Principal, Role
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
from workflows.clients import start_onboarding, update_with_retry
from workflows.onboarding import MemberOnboardingWorkflow

router = APIRouter(prefix="/api/onboardings", tags=["adhésions"])

Staff = Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF))]
Acceptor = Annotated[Principal, Depends(require(Role.ADMIN, Role.STAFF, Role.MEMBER))]


class OnboardingStarted(BaseModel):
    workflow_id: str
    organisation_id: UUID


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=OnboardingStarted)
async def open_onboarding(
    data: OnboardingCreate,
    pool: Pool,
    client: TemporalClient,
    settings: AppSettings,
    principal: Staff,
):
    async with pool.acquire() as c:
        org = await OrganisationRepository(c).get(data.organisation_id)
    if org is None:
        raise not_found("Organisation")
    if org.kind != OrganisationKind.MEMBER:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "Seule une entreprise membre peut adhérer au réseau."
        )
    if org.status == OrganisationStatus.ACTIVE:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{org.name} est déjà adhérente.")
    try:
        handle = await start_onboarding(
            client,
            settings.task_queue,
            MemberOnboardingInput(
                organisation_id=org.id,
                contact_name=data.contact_name,
                contact_email=str(data.contact_email),
                started_by=str(principal.user_id),
            ),
        )
    except WorkflowAlreadyStartedError:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"Une adhésion de {org.name} est déjà en cours."
        ) from None
    return OnboardingStarted(workflow_id=handle.id, organisation_id=org.id)


def _handle(client, principal: Principal, organisation_id: UUID) -> WorkflowHandle:
    if not principal.may_see(organisation_id):
        raise not_found("Adhésion")
    return client.get_workflow_handle(onboarding_workflow_id(organisation_id))


async def _state(handle: WorkflowHandle) -> OnboardingState:
    try:
        return await handle.query(MemberOnboardingWorkflow.state)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise not_found("Adhésion") from None
        raise


@router.get("/{organisation_id}", response_model=OnboardingState)
async def get_onboarding(organisation_id: UUID, client: TemporalClient, principal: CurrentUser):
    return await _state(_handle(client, principal, organisation_id))


async def _update(handle: WorkflowHandle, update, arg, update_id: str) -> OnboardingState:
    try:
        return await update_with_retry(handle, update, arg, id=update_id)
    except WorkflowUpdateFailedError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, refusal(err)) from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            # Closed already: a replayed request reads the outcome instead of failing.
            state = await _state(handle)
            if update is MemberOnboardingWorkflow.accept_charter and (
                state.step == OnboardingStep.ACTIVE
            ):
                return state
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"Cette adhésion est close ({state.step.value})."
            ) from None
        raise


@router.post("/{organisation_id}/charter", response_model=OnboardingState)
async def accept_charter(
    organisation_id: UUID,
    data: CharterAcceptanceCreate,
    client: TemporalClient,
    principal: Acceptor,
):
    handle = _handle(client, principal, organisation_id)
    acceptance = CharterAcceptance(
        request_id=data.request_id,
        user_id=principal.user_id,
        organisation_id=principal.organisation_id,
        role=principal.role,
    )
    return await _update(
        handle, MemberOnboardingWorkflow.accept_charter, acceptance, f"charter-{data.request_id}"
    )


@router.post("/{organisation_id}/cancel", response_model=OnboardingState)
async def cancel_onboarding(
    organisation_id: UUID, data: OnboardingCancelCreate, client: TemporalClient, principal: Staff
):
    handle = _handle(client, principal, organisation_id)
    cancel = OnboardingCancel(
        request_id=data.request_id, user_id=principal.user_id, reason=data.reason
    )
    return await _update(
        handle, MemberOnboardingWorkflow.cancel, cancel, f"cancel-{data.request_id}"
    )
