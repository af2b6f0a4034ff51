"""Client-side starters: the one place that knows each workflow's id, task queue and search
attributes. Used by the API and the demo loader; never imported by a workflow."""

from __future__ import annotations

from uuid import UUID

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from domain.onboarding import MemberOnboardingInput, OnboardingState, onboarding_workflow_id
from domain.processes import ProcessKind, ProcessStatus
from workflows.common import SA_ORGANISATION, SA_PROCESS, SA_STATUS
from workflows.onboarding import MemberOnboardingWorkflow


def _indexed(process: ProcessKind, organisation_id: UUID) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(SA_PROCESS, process.value),
            SearchAttributePair(SA_STATUS, ProcessStatus.RUNNING.value),
            SearchAttributePair(SA_ORGANISATION, str(organisation_id)),
        ]
    )


async def start_onboarding(
    client: Client, task_queue: str, input: MemberOnboardingInput
) -> WorkflowHandle[MemberOnboardingWorkflow, OnboardingState]:
    """Raises WorkflowAlreadyStartedError while one is running for the organisation."""
    return await client.start_workflow(
        MemberOnboardingWorkflow.run,
        input,
        id=onboarding_workflow_id(input.organisation_id),
        task_queue=task_queue,
        search_attributes=_indexed(ProcessKind.ONBOARDING, input.organisation_id),
    )
