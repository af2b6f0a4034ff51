"""Recruitment: one workflow per campaign and one per referral.

Why a workflow per referral: a campaign may take thousands of referrals (5,000 in the
benchmark) and each referral lives for weeks with its own waits, reminders and escalation.
Kept in the campaign workflow, every referral would add a dozen events to one history and
force constant continue-as-new with updates in flight; as its own workflow (id derived from
the agency's request id, so a retry lands on it again) each history stays under a hundred
events, and the campaign hears only of what changes it: hires. The campaign still
continues-as-new when Temporal suggests it, which only a campaign with thousands of hires
would reach.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar
from uuid import UUID

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.types import MethodSyncOrAsyncSingleParam

with workflow.unsafe.imports_passed_through():
    from temporalio.client import (
        Client,
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleIntervalSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleSpec,
    )
    from temporalio.common import WorkflowIDConflictPolicy

    from activities.recruitment import RecruitmentActivities, org_recipient
    from domain.actions import ReferralActionKind, TaskAction
    from domain.auth import NETWORK_ROLES, Role
    from domain.processes import ProcessKind, ProcessStatus, TaskOpen

    # What the client-side starters at the end of this module use (never in a workflow).
    from domain.recruitment import (
        OPEN_REFERRAL,
        TERMINAL_CAMPAIGN,
        CampaignCancel,
        CampaignClosed,
        CampaignInput,
        CampaignRef,
        CampaignState,
        CampaignStatus,
        CampaignStatusChange,
        ErasureInput,
        ErasureResult,
        HireRecorded,
        HireRequest,
        InterviewSettled,
        ReferralAction,
        ReferralInput,
        ReferralState,
        ReferralStep,
        ReferralStepChange,
        RegisterReferral,
        RegisterRequest,
        Registration,
        RelayOffer,
        campaign_workflow_id,
        referral_workflow_id,
    )
    from workflows.clients import relais_attributes, update_with_start
    from workflows.common import ProcessRecorder, refusal, run_activity

SignalT = TypeVar("SignalT")

CLOSING_CHECK_EVERY = timedelta(days=1)
INTERVIEW_STEPS = (ReferralStep.INTERVIEW_REQUESTED, ReferralStep.INTERVIEW)


@workflow.defn
class RecruitmentCampaignWorkflow:
    """A recruitment campaign for a member employer, relayed to job agencies.

    States and what people can do:
    - `opening`: the campaign is recorded and the offer relayed to every invited agency.
    - `open`: agencies refer candidates (each a `RecruitmentReferralWorkflow`) until the
      deadline. Staff may `cancel`.
    - `closing`: the deadline passed; intake is closed, interviews under way may finish,
      within `grace_days`. Staff may `cancel`.
    - `filled` (every position filled, at any time), `closed`, `cancelled`: open referrals are
      told, the employer receives the report. Terminal.
    Referrals signal `hire_recorded`; `state` answers at any time.
    """

    @workflow.init
    def __init__(self, input: CampaignInput) -> None:
        self._input = input
        spec = input.spec
        self._state = CampaignState(
            campaign_id=input.campaign_id,
            status=input.status,
            filled=dict(input.filled),
            targets={
                str(pid): p.count for pid, p in zip(input.position_ids, spec.positions, strict=True)
            },
            deadline=spec.deadline,
        )
        self._hired: set[str] = set(input.hired_referrals)
        self._settled = False  # an interview ended since the last check
        self._cancel: CampaignCancel | None = None
        self._recorder = ProcessRecorder(
            ProcessKind.RECRUITMENT,
            spec.employer_id,
            f"Recrutement : {spec.title}",
            seq=input.status_seq,
        )

    @workflow.run
    async def run(self, input: CampaignInput) -> CampaignState:
        ref = CampaignRef(campaign_id=input.campaign_id)
        if self._state.status == CampaignStatus.OPENING:
            await run_activity(RecruitmentActivities.create_campaign, input)
            for agency_id in input.spec.agency_ids:
                await run_activity(
                    RecruitmentActivities.relay_offer,
                    RelayOffer(campaign_id=input.campaign_id, agency_id=agency_id),
                )
            self._state.status = CampaignStatus.OPEN
            await self._recorder.record(ProcessStatus.WAITING, "open", waiting_on="agency")

        if self._state.status == CampaignStatus.OPEN:
            remaining = input.spec.deadline - workflow.now()
            await self._wait_for_end(remaining)
            if not self._ended:
                await self._set_status(CampaignStatus.CLOSING)
                await self._recorder.record(ProcessStatus.RUNNING, "closing")

        if self._state.status == CampaignStatus.CLOSING:
            grace_end = input.spec.deadline + timedelta(days=input.spec.grace_days)
            while not self._ended and workflow.now() < grace_end:
                self._settled = False
                if await run_activity(RecruitmentActivities.count_in_interview, ref) == 0:
                    break
                # Woken by an interview's end (or a hire); the daily check is a safety net.
                await self._wait_for_end(
                    min(CLOSING_CHECK_EVERY, grace_end - workflow.now()),
                    wake=lambda: self._settled,
                )

        final = (
            CampaignStatus.CANCELLED
            if self._cancel
            else CampaignStatus.FILLED
            if self._state.all_filled
            else CampaignStatus.CLOSED
        )
        await self._set_status(final, self._cancel.reason if self._cancel else None)
        await run_activity(
            RecruitmentActivities.notify_open_referrals,
            ref,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=1),
        )
        await run_activity(RecruitmentActivities.send_report, ref)
        self._state.closed_at = workflow.now()
        await self._recorder.record(
            ProcessStatus.CANCELLED if self._cancel else ProcessStatus.COMPLETED, final.value
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    @property
    def _ended(self) -> bool:
        return self._cancel is not None or self._state.all_filled

    async def _wait_for_end(
        self, within: timedelta, wake: Callable[[], bool] = lambda: False
    ) -> None:
        """Wait until filled, cancelled, `wake()` or `within` elapsed, continuing-as-new if
        the history grows long (thousands of hires)."""
        deadline = workflow.now() + within
        while not self._ended and not wake() and workflow.now() < deadline:
            try:
                await workflow.wait_condition(
                    lambda: self._ended or wake() or workflow.info().is_continue_as_new_suggested(),
                    timeout=deadline - workflow.now(),
                )
            except TimeoutError:
                return
            if not self._ended and workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    self._input.model_copy(
                        update={
                            "status": self._state.status,
                            "filled": self._state.filled,
                            "hired_referrals": sorted(self._hired),
                            "status_seq": self._recorder.seq,
                        }
                    )
                )

    async def _set_status(self, status: CampaignStatus, reason: str | None = None) -> None:
        self._state.status = status
        await run_activity(
            RecruitmentActivities.set_campaign_status,
            CampaignStatusChange(
                campaign_id=self._input.campaign_id,
                status=status,
                at=workflow.now(),
                reason=reason,
            ),
        )

    @workflow.signal
    def hire_recorded(self, hire: HireRecorded) -> None:
        key = str(hire.referral_id)
        if key in self._hired:  # a signal re-sent after a retry counts once
            return
        self._hired.add(key)
        pid = str(hire.position_id)
        self._state.filled[pid] = self._state.filled.get(pid, 0) + 1
        self._settled = True

    @workflow.signal
    def interview_settled(self, _: InterviewSettled) -> None:
        self._settled = True

    @workflow.update
    async def opened(self, _: RegisterRequest) -> CampaignState:
        """Answers once the campaign is recorded and relayed (sent with the start)."""
        await workflow.wait_condition(lambda: self._state.status != CampaignStatus.OPENING)
        return self._state

    @workflow.update
    async def cancel(self, cancel: CampaignCancel) -> CampaignState:
        if self._cancel is None:
            self._cancel = cancel
        await workflow.wait_condition(lambda: self._state.closed_at is not None)
        return self._state

    @cancel.validator
    def _validate_cancel(self, cancel: CampaignCancel) -> None:
        if self._state.status in TERMINAL_CAMPAIGN or self._state.closed_at is not None:
            raise ValueError(f"la campagne est close ({self._state.status.value})")

    @workflow.query
    def state(self) -> CampaignState:
        return self._state


# What each action needs: the steps it is allowed in, and who may take it.
ACTION_STEPS = {
    ReferralActionKind.SCREEN: (ReferralStep.SCREENING,),
    ReferralActionKind.REQUEST_INTERVIEW: (ReferralStep.SHORTLISTED,),
    ReferralActionKind.CONSENT: (ReferralStep.INTERVIEW_REQUESTED,),
    ReferralActionKind.DECIDE: (ReferralStep.SHORTLISTED, ReferralStep.INTERVIEW),
    ReferralActionKind.WITHDRAW: OPEN_REFERRAL[1:],
}
ACTION_LABELS = {
    ReferralActionKind.SCREEN: "le tri",
    ReferralActionKind.REQUEST_INTERVIEW: "la demande d'entretien",
    ReferralActionKind.CONSENT: "le consentement",
    ReferralActionKind.DECIDE: "la décision",
    ReferralActionKind.WITHDRAW: "le retrait",
}


@workflow.defn
class RecruitmentReferralWorkflow:
    """One candidate referred by one agency to one campaign.

    States and what people can do (through the `act` update):
    - `registering` → `duplicate` (the same person was referred first by another agency:
      credited to it, this agency is told) or `refused` (campaign closed, agency not invited).
    - `screening`: staff `screen` (retained or not, with a reason).
    - `shortlisted`: the employer sees a pseudonymised profile; it may `request_interview`
      or `decide` (reject). Reminder after the decision SLA, manager escalation after twice.
    - `interview_requested`: the referring agency records the candidate's `consent`; only
      then is the identity shown to the employer.
    - `interview`: the employer `decide`s — hired (fills a position) or rejected, with a
      reason; same SLA reminders.
    - At any open step the agency may `withdraw` the candidate, and the campaign's closing
      ends the referral as `not_retained`. The agency is told every outcome.
    """

    @workflow.init
    def __init__(self, input: ReferralInput) -> None:
        self._input = input
        self._state = ReferralState(
            referral_id=input.referral_id,
            campaign_id=input.campaign_id,
            agency_id=input.agency_id,
            step=ReferralStep.REGISTERING,
        )
        self._registration: Registration | None = None
        self._pending: ReferralAction | None = None
        # action key -> refusal message, if any; the key names the action, who sent it and
        # their request id, so two people's request ids never collide.
        self._answered: dict[str, str | None] = {}
        self._campaign_closed: CampaignClosed | None = None
        self._recorder = ProcessRecorder(ProcessKind.REFERRAL, input.agency_id, "Candidature")
        self._task_key: str | None = None

    @workflow.run
    async def run(self, input: ReferralInput) -> ReferralState:
        wid = workflow.info().workflow_id
        try:
            reg = await run_activity(
                RecruitmentActivities.register_referral,
                RegisterReferral(workflow_id=wid, input=input),
                local=True,  # the agency waits for this answer
            )
        except FailureError as err:  # a local activity's refusal comes bare
            if (no := refusal(err, "IntakeRefused")) is None:
                raise
            # What the activity returned itself before it raised IntakeRefused (runs recorded
            # then replay through that result, handled below like this one).
            reg = Registration(
                referral_id=input.referral_id, step=ReferralStep.REFUSED, detail=no.message
            )
        self._registration = reg
        self._state.pseudonym = reg.pseudonym
        self._state.registered_at = workflow.now()
        self._recorder.title = f"Candidature {reg.pseudonym or ''}".strip()
        if reg.step in (ReferralStep.REFUSED, ReferralStep.DUPLICATE):
            self._state.step = reg.step
            self._state.reason = reg.detail
            if reg.step == ReferralStep.DUPLICATE:
                await self._tell_agency(
                    "duplicate",
                    "Candidature en doublon",
                    f"Cette personne a déjà été proposée par {reg.duplicate_of_agency} : la "
                    "candidature reste créditée à la première agence.",
                )
            await self._recorder.record(ProcessStatus.FAILED, reg.step.value)
            return await self._finish()

        assert reg.network_id and reg.employer_id and reg.decision_sla_days
        sla = timedelta(days=reg.decision_sla_days)
        self._state.step = ReferralStep.SCREENING
        while self._state.step in OPEN_REFERRAL:
            step = self._state.step
            on_employer = step in (ReferralStep.SHORTLISTED, ReferralStep.INTERVIEW)
            assignee, role, action = {
                ReferralStep.SCREENING: (reg.network_id, Role.STAFF, TaskAction.SCREEN),
                ReferralStep.SHORTLISTED: (
                    reg.employer_id,
                    Role.MEMBER,
                    TaskAction.REQUEST_INTERVIEW,
                ),
                ReferralStep.INTERVIEW_REQUESTED: (
                    input.agency_id,
                    Role.AGENCY,
                    TaskAction.CONSENT,
                ),
                ReferralStep.INTERVIEW: (reg.employer_id, Role.MEMBER, TaskAction.DECIDE),
            }[step]
            await self._open_task(step, assignee, role, action, sla)
            await self._recorder.record(ProcessStatus.WAITING, step.value, waiting_on=role.value)
            if not await self._await_action(sla if on_employer else None):
                await self._move(ReferralStep.NOT_RETAINED, "campagne close")
                await self._tell_agency(
                    "outcome",
                    "Candidature non retenue",
                    "La campagne est close sans décision sur cette candidature.",
                )
                break
            act = self._pending
            assert act is not None
            error = await self._apply(act, reg.employer_id)
            self._answered[act.key] = error
            self._pending = None

        await self._close_task(self._state.step.value)
        status = (
            ProcessStatus.COMPLETED
            if self._state.step == ReferralStep.HIRED
            else ProcessStatus.CANCELLED
            if self._state.step == ReferralStep.WITHDRAWN
            else ProcessStatus.FAILED
        )
        await self._recorder.record(status, self._state.step.value)
        return await self._finish()

    async def _finish(self) -> ReferralState:
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    async def _await_action(self, sla: timedelta | None) -> bool:
        """Wait for a person's action (True) or the campaign's closing (False). On the
        employer: reminder after the SLA, escalation to a manager after twice the SLA."""
        ready = lambda: self._pending is not None or self._campaign_closed is not None  # noqa: E731
        if sla is not None:
            for escalate in (False, True):
                try:
                    await workflow.wait_condition(ready, timeout=sla)
                    break
                except TimeoutError:
                    await self._remind(escalate)
        await workflow.wait_condition(ready)
        return self._pending is not None

    async def _remind(self, escalate: bool) -> None:
        reg = self._registration
        assert reg is not None and reg.employer_id and reg.network_id
        step = self._state.step.value
        if not escalate:
            self._state.reminders_sent += 1
            await self._recorder.mail(
                f"reminder:{step}",
                org_recipient(reg.employer_id),
                f"Rappel : candidature {self._state.pseudonym} en attente de votre décision",
                "Le délai de décision convenu est dépassé. Merci de répondre sur Relais.",
            )
            return
        self._state.escalated = True
        await self._recorder.mail(
            f"escalation:{step}",
            org_recipient(reg.network_id),
            f"Escalade : candidature {self._state.pseudonym} sans décision de l'employeur",
            "L'employeur n'a pas répondu après deux fois le délai convenu.",
        )
        await self._recorder.open_task(
            TaskOpen(
                key=f"{workflow.info().workflow_id}:escalation:{step}",
                workflow_id=workflow.info().workflow_id,
                process=ProcessKind.REFERRAL,
                action=TaskAction.FOLLOW_UP,
                title=f"Relancer l'employeur ({self._state.pseudonym})",
                assignee_organisation_id=reg.network_id,
                assignee_role=Role.MANAGER,
                due_at=workflow.now() + timedelta(days=2),
            )
        )

    async def _apply(self, act: ReferralAction, employer_id: UUID) -> str | None:
        """Carry out one action; returns a refusal message, or None."""
        if act.kind == ReferralActionKind.WITHDRAW:
            await self._move(ReferralStep.WITHDRAWN, act.reason)
            await self._tell_agency("outcome", "Candidature retirée", f"Motif : {act.reason}")
        elif act.kind == ReferralActionKind.SCREEN:
            if act.retained:
                await self._move(ReferralStep.SHORTLISTED, act.reason)
            else:
                await self._move(ReferralStep.SCREENED_OUT, act.reason)
                await self._tell_agency(
                    "outcome", "Candidature non retenue au tri", f"Motif : {act.reason}"
                )
        elif act.kind == ReferralActionKind.REQUEST_INTERVIEW:
            await self._move(ReferralStep.INTERVIEW_REQUESTED, None)
            await self._tell_agency(
                "interview",
                "Entretien demandé",
                "L'employeur souhaite rencontrer ce candidat : recueillez son consentement "
                "à transmettre son identité, puis enregistrez-le sur Relais.",
            )
        elif act.kind == ReferralActionKind.CONSENT:
            if act.given:
                await self._move(ReferralStep.INTERVIEW, None)
            else:
                await self._move(ReferralStep.WITHDRAWN, "consentement refusé")
                await self._recorder.mail(
                    "consent-refused",
                    org_recipient(employer_id),
                    f"Entretien annulé — {self._state.pseudonym}",
                    "Le candidat n'a pas consenti à transmettre son identité : sa candidature "
                    "est retirée.",
                )
        elif act.kind == ReferralActionKind.DECIDE and not act.hired:
            await self._move(ReferralStep.REJECTED, act.reason)
            await self._tell_agency("outcome", "Candidature refusée", f"Motif : {act.reason}")
        elif act.kind == ReferralActionKind.DECIDE:
            try:
                hire = await run_activity(
                    RecruitmentActivities.record_hire,
                    HireRequest(
                        referral_id=self._input.referral_id,
                        campaign_id=self._input.campaign_id,
                        position_id=act.position_id,
                        at=workflow.now(),
                        reason=act.reason or "",
                    ),
                )
            except ActivityError as err:
                if (no := refusal(err, "HireRefused")) is None:
                    raise
                return no.message
            if hire.position_id is None:  # a refusal returned before HireRefused (histories)
                return hire.refusal or "embauche impossible"
            self._state.step = ReferralStep.HIRED
            self._state.decided_at = workflow.now()
            self._state.hired_position_id = hire.position_id
            await self._signal_campaign(
                RecruitmentCampaignWorkflow.hire_recorded,
                HireRecorded(referral_id=self._input.referral_id, position_id=hire.position_id),
            )
            await self._tell_agency("outcome", "Candidat embauché", "Félicitations !")
        return None

    async def _move(self, step: ReferralStep, reason: str | None) -> None:
        await self._close_task(step.value)
        leaves_interview = self._state.step in INTERVIEW_STEPS and step not in OPEN_REFERRAL
        self._state.step = step
        if reason:
            self._state.reason = reason
        if step in (ReferralStep.REJECTED, ReferralStep.HIRED):
            self._state.decided_at = workflow.now()
        await run_activity(
            RecruitmentActivities.set_referral_step,
            ReferralStepChange(
                referral_id=self._input.referral_id, step=step, at=workflow.now(), reason=reason
            ),
        )
        if leaves_interview and self._campaign_closed is None:
            await self._signal_campaign(
                RecruitmentCampaignWorkflow.interview_settled,
                InterviewSettled(referral_id=self._input.referral_id),
            )

    async def _signal_campaign(
        self,
        signal: MethodSyncOrAsyncSingleParam[RecruitmentCampaignWorkflow, SignalT, None],
        arg: SignalT,
    ) -> None:
        try:
            await workflow.get_external_workflow_handle(
                campaign_workflow_id(self._input.campaign_id)
            ).signal(signal, arg)
        except FailureError:
            # The campaign closed in between (a hire committed before its closing is in its
            # report already): nothing left to tell it.
            workflow.logger.info("campaign already closed when signalled")

    async def _open_task(
        self, step: ReferralStep, assignee: UUID, role: Role, action: TaskAction, sla: timedelta
    ) -> None:
        self._task_key = f"{workflow.info().workflow_id}:{step.value}"
        titles = {
            TaskAction.SCREEN: "Trier la candidature",
            TaskAction.REQUEST_INTERVIEW: "Examiner le profil",
            TaskAction.CONSENT: "Recueillir le consentement du candidat",
            TaskAction.DECIDE: "Décider",
        }
        await self._recorder.open_task(
            TaskOpen(
                key=self._task_key,
                workflow_id=workflow.info().workflow_id,
                process=ProcessKind.REFERRAL,
                action=action,
                title=f"{titles[action]} ({self._state.pseudonym})",
                assignee_organisation_id=assignee,
                assignee_role=role,
                due_at=workflow.now() + sla,
                subject_id=str(self._input.referral_id),
            )
        )

    async def _close_task(self, outcome: str) -> None:
        if self._task_key:
            await self._recorder.close_task(self._task_key, outcome)
            self._task_key = None

    async def _tell_agency(self, key: str, subject: str, body: str) -> None:
        await self._recorder.mail(
            key,
            org_recipient(self._input.agency_id),
            f"{subject} — {self._state.pseudonym}",
            body,
        )

    @workflow.update
    async def register(self, _: RegisterRequest) -> Registration:
        """Sent with the start: answers once the referral is recorded (or refused)."""
        await workflow.wait_condition(lambda: self._registration is not None)
        assert self._registration is not None
        return self._registration

    @workflow.update
    async def act(self, action: ReferralAction) -> ReferralState:
        if action.key not in self._answered:
            if self._pending is None:
                self._pending = action
            await workflow.wait_condition(lambda: action.key in self._answered)
        error = self._answered[action.key]
        if error:
            raise ApplicationError(error, type="ReferralRefused")
        return self._state

    @act.validator
    def _validate_act(self, action: ReferralAction) -> None:
        if action.key in self._answered or (
            self._pending is not None and self._pending.key == action.key
        ):
            return  # a replay: answered with the first outcome
        if self._pending is not None:
            raise ValueError("une autre action est en cours sur cette candidature, réessayez")
        allowed = ACTION_STEPS.get(action.kind)
        if allowed is None:
            raise ValueError(f"action inconnue : {action.kind}")
        if self._state.step not in allowed or self._campaign_closed is not None:
            raise ValueError(
                f"{ACTION_LABELS[action.kind]} n'est pas possible à l'étape "
                f"« {self._state.step.value} »"
            )
        reg = self._registration
        network = action.role in NETWORK_ROLES
        if action.kind == ReferralActionKind.SCREEN and not network:
            raise ValueError("seule l'équipe du réseau trie les candidatures")
        if action.kind in (
            ReferralActionKind.REQUEST_INTERVIEW,
            ReferralActionKind.DECIDE,
        ) and not (network or (reg is not None and action.organisation_id == reg.employer_id)):
            raise ValueError("seul l'employeur de la campagne décide")
        if action.kind in (ReferralActionKind.CONSENT, ReferralActionKind.WITHDRAW) and not (
            network or action.organisation_id == self._input.agency_id
        ):
            raise ValueError("seule l'agence qui a proposé ce candidat peut le faire")
        if (
            action.kind == ReferralActionKind.DECIDE
            and action.hired
            and self._state.step != ReferralStep.INTERVIEW
        ):
            raise ValueError("une embauche suit un entretien (consentement du candidat requis)")

    @workflow.signal
    def campaign_closed(self, notice: CampaignClosed) -> None:
        self._campaign_closed = notice

    @workflow.query
    def state(self) -> ReferralState:
        return self._state


@workflow.defn
class CandidateErasureWorkflow:
    """Erases candidates' personal data: one on request, or — run daily by a schedule —
    every candidate not hired whose campaign closed more than N months ago. Anonymous
    statistics (status, postcode, dates, reasons) stay for the reports."""

    @workflow.run
    async def run(self, input: ErasureInput) -> ErasureResult:
        return await run_activity(RecruitmentActivities.erase_candidates, input)


# --- starting it (client side: the API's commands, the demo, the tests) ---------------


ERASURE_SCHEDULE_ID = "relais-candidate-erasure"


async def start_campaign(
    client: Client, task_queue: str, input: CampaignInput, request_id: str, indexed: bool = True
) -> CampaignState:
    """Start (or find again, for a retried request) a campaign; answers once it is open.
    Raises WorkflowAlreadyStartedError when the campaign exists and is already closed."""
    return await update_with_start(
        client,
        RecruitmentCampaignWorkflow.opened,
        RegisterRequest(request_id=request_id),
        update_id=f"open-{request_id}",
        run=RecruitmentCampaignWorkflow.run,
        input=input,
        id=campaign_workflow_id(input.campaign_id),
        task_queue=task_queue,
        search_attributes=relais_attributes(
            ProcessKind.RECRUITMENT, input.spec.employer_id, indexed
        ),
    )


async def refer(
    client: Client, task_queue: str, input: ReferralInput, indexed: bool = True
) -> Registration:
    """Start a referral and answer with its registration. The workflow id comes from the
    agency's request id: the same request retried reaches the same workflow and answer.
    Raises WorkflowAlreadyStartedError when that referral's workflow is already closed: the
    caller answers from the store."""
    request_id = input.request_id
    return await update_with_start(
        client,
        RecruitmentReferralWorkflow.register,
        RegisterRequest(request_id=request_id),
        update_id=f"register-{request_id}",
        run=RecruitmentReferralWorkflow.run,
        input=input,
        id=referral_workflow_id(input.campaign_id, input.agency_id, request_id),
        task_queue=task_queue,
        search_attributes=relais_attributes(ProcessKind.REFERRAL, input.agency_id, indexed),
    )


async def ensure_erasure_schedule(client: Client, task_queue: str, months: int) -> None:
    """The daily erasure of candidates not hired (idempotent: kept if it exists)."""
    try:
        await client.create_schedule(
            ERASURE_SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    CandidateErasureWorkflow.run,
                    ErasureInput(months=months),
                    id="candidate-erasure",
                    task_queue=task_queue,
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=1))]),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        pass


async def erase_candidate(client: Client, task_queue: str, referral_id: UUID) -> ErasureResult:
    return await client.execute_workflow(
        CandidateErasureWorkflow.run,
        ErasureInput(referral_id=referral_id),
        id=f"erasure-{referral_id}",
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
