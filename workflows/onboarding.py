"""Member onboarding, the first process: proves API → Temporal → activity → Postgres."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from temporalio.client import Client, WorkflowHandle

    from activities.onboarding import OnboardingActivities
    from domain.actions import TaskAction
    from domain.auth import NETWORK_ROLES, Role

    # What the client-side starters at the end of this module use (never in a workflow).
    from domain.onboarding import (
        CharterAcceptance,
        MemberCheck,
        MemberOnboardingInput,
        MembershipActivation,
        MembershipClosure,
        MembershipRecord,
        OnboardingCancel,
        OnboardingState,
        OnboardingStep,
        onboarding_workflow_id,
    )
    from domain.processes import ProcessKind, ProcessStatus, TaskOpen
    from workflows.clients import relais_attributes
    from workflows.common import ProcessRecorder, refusal, run_activity

OPEN_STEPS = (OnboardingStep.VALIDATING, OnboardingStep.AWAITING_CHARTER)


@workflow.defn
class MemberOnboardingWorkflow:
    """A member company joins the network.

    States and what people can do:
    - `validating`: the company is checked (a member, not already active). A refusal ends
      the workflow in `refused`.
    - `awaiting_charter`: a welcome mail is queued and a task asks the member to accept the
      network's charter. The member (or staff on its behalf) sends the `accept_charter`
      update; staff may send `cancel`. A reminder goes out after `reminder_after`; without
      an answer the onboarding `expired` after `expire_after`.
    - `active`: the company is an active member. Terminal, as are `expired`, `cancelled`,
      `refused`.
    The `state` query answers at any time.
    """

    @workflow.init
    def __init__(self, input: MemberOnboardingInput) -> None:
        self._input = input
        self._state = OnboardingState(
            workflow_id=workflow.info().workflow_id,
            organisation_id=input.organisation_id,
            step=OnboardingStep.VALIDATING,
            started_at=workflow.now(),
        )
        self._acceptance: CharterAcceptance | None = None
        # Set once every effect of the outcome is stored: updates answer only then.
        self._settled = False
        # Set once the outcome is decided: no update may change it any more.
        self._closing = False
        self._cancel: OnboardingCancel | None = None
        self._recorder = ProcessRecorder(
            ProcessKind.ONBOARDING, input.organisation_id, "Adhésion d'une entreprise"
        )

    @workflow.run
    async def run(self, input: MemberOnboardingInput) -> OnboardingState:
        wid = self._state.workflow_id
        try:
            checked = await run_activity(
                OnboardingActivities.check_member,
                MemberCheck(organisation_id=input.organisation_id),
            )
        except ActivityError as err:
            if (no := refusal(err, "OnboardingRefused")) is not None:
                self._closing = True
                self._state.step = OnboardingStep.REFUSED
                self._state.detail = no.message
                if no.details and no.details[0] == "unknown":
                    self._recorder.organisation_id = None  # nothing to point at
                await self._recorder.record(ProcessStatus.FAILED, OnboardingStep.REFUSED)
                self._settle()
                await workflow.wait_condition(workflow.all_handlers_finished)
                return self._state
            raise
        self._recorder.title = f"Adhésion de {checked.name}"
        await self._recorder.record(ProcessStatus.RUNNING, OnboardingStep.VALIDATING)

        await run_activity(
            OnboardingActivities.record_membership,
            MembershipRecord(
                organisation_id=input.organisation_id,
                workflow_id=wid,
                contact_name=input.contact_name,
                contact_email=input.contact_email,
                started_by=input.started_by,
            ),
        )
        await self._recorder.mail(
            "welcome",
            input.contact_email,
            f"Bienvenue dans le réseau, {checked.name}",
            f"Bonjour {input.contact_name},\n\nVotre adhésion est enregistrée. Pour l'activer, "
            "acceptez la charte du réseau depuis votre espace Relais (« Mes tâches »).",
        )
        task_key = self._recorder.key("charter")
        await self._recorder.open_task(
            TaskOpen(
                key=task_key,
                workflow_id=wid,
                process=ProcessKind.ONBOARDING,
                action=TaskAction.ACCEPT_CHARTER,
                title=f"Accepter la charte du réseau ({checked.name})",
                assignee_organisation_id=input.organisation_id,
                assignee_role=Role.MEMBER,
                due_at=workflow.now() + input.expire_after,
            )
        )
        if self._state.step == OnboardingStep.VALIDATING:
            self._state.step = OnboardingStep.AWAITING_CHARTER
        await self._recorder.record(
            ProcessStatus.WAITING, OnboardingStep.AWAITING_CHARTER, waiting_on="member"
        )

        if not await self._wait_for_answer(input.reminder_after):
            self._state.reminders_sent += 1
            self._state.last_reminder_at = workflow.now()
            await self._recorder.mail(
                "reminder-1",
                input.contact_email,
                f"Rappel : adhésion de {checked.name}",
                f"Bonjour {input.contact_name},\n\nVotre adhésion attend toujours l'acceptation "
                "de la charte du réseau.",
            )
            await self._wait_for_answer(input.expire_after - input.reminder_after)

        self._closing = True
        if self._acceptance is not None:
            await self._activate(self._acceptance)
            await self._recorder.close_task(task_key, "accepted")
            await self._recorder.record(ProcessStatus.COMPLETED, OnboardingStep.ACTIVE)
        else:
            step, status = (
                (OnboardingStep.CANCELLED, ProcessStatus.CANCELLED)
                if self._cancel
                else (OnboardingStep.EXPIRED, ProcessStatus.EXPIRED)
            )
            await run_activity(
                OnboardingActivities.close_membership,
                MembershipClosure(
                    organisation_id=input.organisation_id,
                    workflow_id=wid,
                    outcome=step,
                    actor=str(self._cancel.user_id) if self._cancel else "system",
                    reason=self._cancel.reason if self._cancel else "délai dépassé",
                ),
            )
            await self._recorder.close_task(task_key, step.value)
            self._state.step = step
            await self._recorder.record(status, step)
        self._settle()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    def _settle(self) -> None:
        self._state.closed_at = workflow.now()
        self._settled = True

    async def _wait_for_answer(self, within: timedelta) -> bool:
        try:
            await workflow.wait_condition(
                lambda: self._acceptance is not None or self._cancel is not None, timeout=within
            )
            return True
        except TimeoutError:
            return False

    async def _activate(self, acceptance: CharterAcceptance) -> None:
        accepted_at = workflow.now()
        await run_activity(
            OnboardingActivities.activate_membership,
            MembershipActivation(
                organisation_id=self._input.organisation_id,
                workflow_id=self._state.workflow_id,
                accepted_by=acceptance.user_id,
                accepted_at=accepted_at,
            ),
        )
        self._state.accepted_at = accepted_at
        self._state.accepted_by = acceptance.user_id
        self._state.step = OnboardingStep.ACTIVE

    @workflow.update
    async def accept_charter(self, acceptance: CharterAcceptance) -> OnboardingState:
        if self._acceptance is None:
            self._acceptance = acceptance
        # Answer once the membership is really active, so the caller can read it back.
        await workflow.wait_condition(lambda: self._settled)
        if self._state.step != OnboardingStep.ACTIVE:
            raise ApplicationError(
                f"cette adhésion est close ({self._state.step.value})", type="OnboardingClosed"
            )
        return self._state

    @accept_charter.validator
    def _validate_acceptance(self, acceptance: CharterAcceptance) -> None:
        if acceptance.role not in NETWORK_ROLES and (
            acceptance.organisation_id != self._input.organisation_id
        ):
            raise ValueError("seule l'entreprise concernée peut accepter sa charte")
        if self._acceptance is not None:
            return  # a repeat: answered with the outcome of the first
        if self._cancel is not None or self._closing:
            raise ValueError(f"cette adhésion est close ({self._state.step.value})")

    @workflow.update
    async def cancel(self, cancel: OnboardingCancel) -> OnboardingState:
        if self._cancel is None:
            self._cancel = cancel
        await workflow.wait_condition(lambda: self._settled)
        if self._state.step != OnboardingStep.CANCELLED:
            raise ApplicationError(
                f"cette adhésion ne peut plus être annulée ({self._state.step.value})",
                type="OnboardingClosed",
            )
        return self._state

    @cancel.validator
    def _validate_cancel(self, cancel: OnboardingCancel) -> None:
        if self._cancel is not None:
            return  # a repeat
        if self._acceptance is not None or self._closing:
            raise ValueError(f"cette adhésion ne peut plus être annulée ({self._state.step.value})")

    @workflow.query
    def state(self) -> OnboardingState:
        return self._state


# --- starting it (client side: the API's commands, the demo, the tests) ---------------


async def start_onboarding(
    client: Client, task_queue: str, input: MemberOnboardingInput
) -> WorkflowHandle[MemberOnboardingWorkflow, OnboardingState]:
    """Raises WorkflowAlreadyStartedError while one is running for the organisation."""
    return await client.start_workflow(
        MemberOnboardingWorkflow.run,
        input,
        id=onboarding_workflow_id(input.organisation_id),
        task_queue=task_queue,
        search_attributes=relais_attributes(ProcessKind.ONBOARDING, input.organisation_id),
    )
