"""Partnership conventions, phase after phase: signatures, the phase's life with its KPI
snapshots, evaluation, then renewal into the next phase or closing."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from uuid import UUID

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from temporalio.client import Client

    from activities.convention import ConventionActivities
    from domain.actions import TaskAction
    from domain.auth import Role

    # What the client-side starters at the end of this module use (never in a workflow).
    from domain.convention import (
        PARTY_ROLE_LABELS,
        Amendment,
        AmendmentRecord,
        Cancel,
        ConventionInput,
        ConventionState,
        ConventionStep,
        Decision,
        EvaluationRecord,
        Expense,
        ExpenseRecord,
        KpiSnapshot,
        Party,
        PhaseRecord,
        PhaseSpec,
        PhaseStepRecord,
        PhaseSummary,
        Review,
        Signature,
        SignatureAct,
        SignatureRecord,
        SnapshotAsk,
        SnapshotRequest,
        convention_workflow_id,
        evaluate,
        midnight,
        midpoint,
        next_snapshot_at,
        phase_end,
    )
    from domain.formats import PARIS
    from domain.processes import ProcessKind, ProcessStatus, TaskOpen
    from domain.recruitment import RegisterRequest
    from workflows.clients import relais_attributes, update_with_start
    from workflows.common import ProcessRecorder, run_activity

DECISION_DAYS = 30  # due date of the manager's renew-or-close task
MAX_PHASE_NUMBER = 99  # PhaseSpec.number's bound


@workflow.defn
class ConventionWorkflow:
    """One convention (`convention-<uuid>`), one phase per run: a renewal continues as new
    into the next phase, keeping the earlier phases' evaluations in `lineage`.

    States and what people can do:
    - `awaiting_signatures`: each party's signatory has a task and signs (`sign`; a repeat
      changes nothing). Reminders every `reminder_days`, then a task for the network's
      managers. A manager may `cancel`.
    - `signed`: every party signed; waits for the phase's first day. `amend`, `cancel`.
    - `active`: a KPI snapshot on the first of each month (every `snapshot_months`), counted
      from the territory's real activity; a mid-phase review task for the managers
      (`review`). Staff record expenses (`record_expense`), managers amend targets or budget
      (`amend`, audited), anyone of the network asks for fresh figures (`refresh`).
    - `evaluating`: the phase's end (a durable timer) took the final snapshot and evaluated
      it (target, actual, percentage, budget used); a manager `decide`s: renew with the next
      phase's dates, budget and targets, or close.
    - `renewed` (this run continued as new), `closed`, `cancelled`: terminal for the run.
    The `state` query answers at any time.
    """

    @workflow.init
    def __init__(self, input: ConventionInput) -> None:
        self._input = input
        if input.resume is not None:
            self._state = input.resume
        else:
            self._state = ConventionState(
                convention_id=input.convention_id,
                workflow_id=workflow.info().workflow_id,
                title=input.title,
                territory=input.territory,
                step=ConventionStep.AWAITING_SIGNATURES,
                phase=input.phase.model_copy(update={"number": input.phase.number or 1}),
                parties=input.parties,
            )
        self._recorder = ProcessRecorder(
            ProcessKind.CONVENTION, input.network_id, self._title(), seq=input.seq
        )
        self._lock = asyncio.Lock()  # one write to the phase at a time: snapshots, amendments
        self._recorded = input.resume is not None and (
            input.resume.step != ConventionStep.AWAITING_SIGNATURES or bool(input.resume.signatures)
        )
        self._stored: set[UUID] = {s.organisation_id for s in self._state.signatures}
        self._decision: Decision | None = None
        self._cancel: Cancel | None = None
        self._settled = False
        self._signing: set[UUID] = set(self._stored)  # signatures stored or being written

    # --- the phase ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: ConventionInput) -> ConventionState:
        st = self._state
        if st.step == ConventionStep.AWAITING_SIGNATURES:
            await run_activity(ConventionActivities.record_phase, self._phase_record())
            self._recorded = True
            await self._gather_signatures()
            if self._cancel is not None:
                return await self._cancelled()
            await self._move(ConventionStep.SIGNED)
        if st.step == ConventionStep.SIGNED:
            start = midnight(st.phase.starts_on)
            await self._recorder.record(ProcessStatus.RUNNING, ConventionStep.SIGNED)
            if workflow.now() < start:
                try:
                    await workflow.wait_condition(
                        lambda: self._cancel is not None, timeout=start - workflow.now()
                    )
                except TimeoutError:
                    pass
            if self._cancel is not None:
                return await self._cancelled()
            await self._move(ConventionStep.ACTIVE)
        if st.step == ConventionStep.ACTIVE:
            await self._recorder.record(ProcessStatus.RUNNING, ConventionStep.ACTIVE)
            await self._live_phase()
            await self._evaluate()
        while self._decision is None:
            await workflow.wait_condition(
                lambda: self._decision is not None or workflow.info().is_continue_as_new_suggested()
            )
            if self._decision is None:
                await self._continue_if_long()
        decision = self._decision
        assert decision is not None
        if decision.renew is not None:
            await self._renew(decision)  # continues as new: does not return
        await self._close(decision)
        return st

    async def _gather_signatures(self) -> None:
        st, input = self._state, self._input
        wid, number = st.workflow_id, st.phase.number
        due = workflow.now() + timedelta(days=input.reminder_days * (input.escalate_after + 1))
        for party in st.unsigned():
            await self._recorder.open_task(
                TaskOpen(
                    key=self._sign_key(party),
                    workflow_id=wid,
                    process=ProcessKind.CONVENTION,
                    action=TaskAction.SIGN_CONVENTION,
                    title=f"Signer la convention « {st.title} » (phase {number})",
                    assignee_organisation_id=party.organisation_id,
                    assignee_role=party.signatory_role,
                    due_at=due,
                )
            )
            await self._mail(
                party,
                f"to-sign-{number}",
                f"Convention à signer : {st.title}",
                f"La phase {number} de la convention « {st.title} » attend la signature de "
                f"{party.organisation_name} ({PARTY_ROLE_LABELS[party.role]}). Signez depuis "
                "votre espace Relais (« Mes tâches »).",
            )
        await self._recorder.record(
            ProcessStatus.WAITING, ConventionStep.AWAITING_SIGNATURES, waiting_on="signataires"
        )
        while True:
            try:
                await workflow.wait_condition(
                    lambda: self._cancel is not None or not self._missing(),
                    timeout=timedelta(days=input.reminder_days),
                )
                break
            except TimeoutError:
                pass
            st.reminders_sent += 1
            for party in st.unsigned():
                await self._mail(
                    party,
                    f"sign-reminder-{number}-{st.reminders_sent}",
                    f"Rappel : convention à signer ({st.title})",
                    f"La convention « {st.title} » attend toujours la signature de "
                    f"{party.organisation_name}.",
                )
            if st.reminders_sent >= input.escalate_after and not st.escalated:
                st.escalated = True
                names = ", ".join(p.organisation_name for p in st.unsigned())
                await self._manager_task(
                    self._recorder.key(f"escalation-{number}"),
                    TaskAction.CHASE_SIGNATURES,
                    f"Signatures en retard (« {st.title} ») : {names}",
                    timedelta(days=input.reminder_days),
                )
                await self._recorder.record(
                    ProcessStatus.WAITING,
                    ConventionStep.AWAITING_SIGNATURES,
                    waiting_on="signataires (escalade au responsable)",
                )
            if self._cancel is None and self._missing():
                await self._continue_if_long()
        if st.escalated:
            outcome = "cancelled" if self._cancel else "signed"
            await self._recorder.close_task(self._recorder.key(f"escalation-{number}"), outcome)

    async def _live_phase(self) -> None:
        """Snapshots on their dates until the phase's end, the mid-phase review on its date."""
        st, end = self._state, phase_end(self._state.phase)
        mid = midpoint(st.phase)
        while (now := workflow.now()) < end:
            if not st.review_opened and now >= mid:
                st.review_opened = True
                if st.reviewed_at is None:  # reviewed early: nothing to ask
                    await self._manager_task(
                        self._review_key(),
                        TaskAction.REVIEW_CONVENTION,
                        f"Revue à mi-parcours : « {st.title} » (phase {st.phase.number})",
                        timedelta(days=30),
                    )
            nxt = next_snapshot_at(now, st.phase, self._input.snapshot_months)
            wake = min(nxt, mid) if not st.review_opened and mid > now else nxt
            try:  # woken early only when the history grew long (many updates)
                await workflow.wait_condition(
                    workflow.info().is_continue_as_new_suggested, timeout=wake - now
                )
            except TimeoutError:
                pass
            if workflow.now() >= nxt and nxt < end:
                await self._snapshot(nxt)
            await self._continue_if_long()

    async def _snapshot(self, at: datetime, today: date | None = None) -> KpiSnapshot:
        """Figures counted up to the day before `at` (a snapshot at midnight closes the day
        just over), or through `today` for one asked now, never past the phase's last day."""
        st = self._state
        as_of = min(today or (at - timedelta(microseconds=1)).date(), st.phase.ends_on)
        async with self._lock:
            snapshot: KpiSnapshot = await run_activity(
                ConventionActivities.take_snapshot,
                SnapshotRequest(
                    convention_id=st.convention_id,
                    phase_number=st.phase.number or 1,
                    territory=st.territory,
                    starts_on=st.phase.starts_on,
                    as_of=as_of,
                    taken_at=workflow.now(),
                ),
            )
            st.snapshots_taken += 1
            st.last_snapshot = snapshot
        return snapshot

    async def _evaluate(self) -> None:
        st = self._state
        snapshot = await self._snapshot(phase_end(st.phase))
        async with self._lock:
            st.evaluation = evaluate(st.phase, snapshot, st.budget_used_cents)
            await self._save_evaluation()
            # Said once stored: whoever reads « evaluating » can read the evaluation.
            st.step = ConventionStep.EVALUATING
        await self._set_step(ConventionStep.EVALUATING)
        if st.review_opened:
            await self._recorder.close_task(
                self._review_key(), "reviewed" if st.reviewed_at else "phase over"
            )
        await self._manager_task(
            self._decision_key(),
            TaskAction.DECIDE_CONVENTION,
            f"Renouveler ou clore « {st.title} » (phase {st.phase.number} évaluée)",
            timedelta(days=DECISION_DAYS),
        )
        for party in st.parties:
            await self._mail(
                party,
                f"evaluated-{st.phase.number}",
                f"Évaluation de la phase {st.phase.number} : {st.title}",
                f"La phase {st.phase.number} de la convention « {st.title} » "
                f"({st.phase.starts_on:%d/%m/%Y} – {st.phase.ends_on:%d/%m/%Y}) est terminée. "
                "Son évaluation (objectifs, réalisé, budget consommé) est disponible dans Relais.",
            )
        await self._recorder.record(
            ProcessStatus.WAITING, ConventionStep.EVALUATING, waiting_on="manager"
        )

    async def _renew(self, decision: Decision) -> None:
        st, input = self._state, self._input
        assert decision.renew is not None
        nxt = PhaseSpec.model_validate(
            {**decision.renew.model_dump(), "number": self._next_number(decision)}
        )
        await self._set_step(ConventionStep.RENEWED, f"renouvelée en phase {nxt.number}")
        await self._recorder.close_task(self._decision_key(), "renewed")
        st.step = ConventionStep.RENEWED
        st.detail = f"renouvelée en phase {nxt.number}"
        self._settled = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        summary = PhaseSummary(  # after the last expense accepted before the decision
            number=st.phase.number or 1,
            starts_on=st.phase.starts_on,
            ends_on=st.phase.ends_on,
            run_id=workflow.info().run_id,
            outcome=ConventionStep.RENEWED,
            evaluation=st.evaluation,
        )
        following = ConventionState(
            convention_id=st.convention_id,
            workflow_id=st.workflow_id,
            title=st.title,
            territory=st.territory,
            step=ConventionStep.AWAITING_SIGNATURES,
            phase=nxt,
            parties=st.parties,
            lineage=[*st.lineage, summary],
        )
        workflow.continue_as_new(
            input.model_copy(update={"phase": nxt, "resume": following, "seq": self._recorder.seq})
        )

    async def _close(self, decision: Decision) -> None:
        st = self._state
        await self._set_step(ConventionStep.CLOSED, decision.close_reason)
        await self._recorder.close_task(self._decision_key(), "closed")
        st.step = ConventionStep.CLOSED
        st.detail = decision.close_reason
        st.lineage = [
            *st.lineage,
            PhaseSummary(
                number=st.phase.number or 1,
                starts_on=st.phase.starts_on,
                ends_on=st.phase.ends_on,
                run_id=workflow.info().run_id,
                outcome=ConventionStep.CLOSED,
                evaluation=st.evaluation,
            ),
        ]
        st.closed_at = workflow.now()
        await self._recorder.record(ProcessStatus.COMPLETED, ConventionStep.CLOSED)
        self._settled = True
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _cancelled(self) -> ConventionState:
        st, cancel = self._state, self._cancel
        assert cancel is not None
        st.step = ConventionStep.CANCELLED
        st.detail = cancel.reason
        st.closed_at = workflow.now()
        await self._set_step(ConventionStep.CANCELLED, cancel.reason)
        for party in st.parties:
            await self._recorder.close_task(self._sign_key(party), "cancelled")
            await self._mail(
                party,
                f"cancelled-{st.phase.number}",
                f"Convention abandonnée : {st.title}",
                f"La phase {st.phase.number} de la convention « {st.title} » est abandonnée : "
                f"{cancel.reason}",
            )
        await self._recorder.record(ProcessStatus.CANCELLED, ConventionStep.CANCELLED)
        self._settled = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return st

    # --- helpers -----------------------------------------------------------------------------

    def _next_number(self, d: Decision) -> int:
        assert d.renew is not None
        return d.renew.number or (self._state.phase.number or 1) + 1

    def _title(self) -> str:
        return f"Convention « {self._state.title} » – phase {self._state.phase.number}"

    def _missing(self) -> list[Party]:
        return [p for p in self._state.parties if p.organisation_id not in self._stored]

    def _sign_key(self, party: Party) -> str:
        return self._recorder.key(f"sign-{self._state.phase.number}-{party.organisation_id}")

    def _review_key(self) -> str:
        return self._recorder.key(f"review-{self._state.phase.number}")

    def _decision_key(self) -> str:
        return self._recorder.key(f"decision-{self._state.phase.number}")

    def _phase_record(self) -> PhaseRecord:
        st, input = self._state, self._input
        return PhaseRecord(
            convention_id=st.convention_id,
            workflow_id=st.workflow_id,
            network_id=input.network_id,
            created_by=input.created_by,
            title=st.title,
            territory=st.territory,
            parties=st.parties,
            phase=st.phase,
            step=st.step,
        )

    async def _move(self, step: ConventionStep) -> None:
        self._state.step = step
        await self._set_step(step)

    async def _set_step(self, step: ConventionStep, detail: str | None = None) -> None:
        await run_activity(
            ConventionActivities.set_step,
            PhaseStepRecord(
                convention_id=self._state.convention_id,
                phase_number=self._state.phase.number or 1,
                step=step,
                detail=detail,
            ),
        )

    async def _save_evaluation(self) -> None:
        st = self._state
        assert st.evaluation is not None
        await run_activity(
            ConventionActivities.save_evaluation,
            EvaluationRecord(
                convention_id=st.convention_id,
                phase_number=st.phase.number or 1,
                evaluation=st.evaluation,
            ),
        )

    async def _manager_task(self, key: str, action: str, title: str, due_in: timedelta) -> None:
        """A task for the network's managers (escalation, review, decision)."""
        await self._recorder.open_task(
            TaskOpen(
                key=key,
                workflow_id=self._state.workflow_id,
                process=ProcessKind.CONVENTION,
                action=action,
                title=title,
                assignee_organisation_id=self._input.network_id,
                assignee_role=Role.MANAGER,
                due_at=workflow.now() + due_in,
            )
        )

    async def _mail(self, party: Party, key: str, subject: str, body: str) -> None:
        if party.email:
            await self._recorder.mail(f"{key}-{party.organisation_id}", party.email, subject, body)

    async def _continue_if_long(self) -> None:
        """A long phase (years of reminders or snapshots) continues as new in the same step."""
        if not workflow.info().is_continue_as_new_suggested():
            return
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            self._input.model_copy(update={"resume": self._state, "seq": self._recorder.seq})
        )

    def _require(self, *steps: ConventionStep, what: str) -> None:
        if self._state.step not in steps:
            raise ValueError(f"{what} impossible à l'étape « {self._state.step.value} »")

    # --- what people do ----------------------------------------------------------------------

    @workflow.update
    async def sign(self, act: SignatureAct) -> ConventionState:
        st, org = self._state, act.organisation_id
        await workflow.wait_condition(lambda: self._recorded)
        if org not in self._signing and org not in self._stored:
            self._signing.add(org)
            signed_at = workflow.now()
            try:
                await run_activity(
                    ConventionActivities.sign,
                    SignatureRecord(
                        convention_id=st.convention_id,
                        phase_number=st.phase.number or 1,
                        organisation_id=org,
                        signatory_id=act.user_id,
                        signed_at=signed_at,
                        workflow_id=st.workflow_id,
                    ),
                )
            except Exception:
                self._signing.discard(org)  # not signed: the signatory may try again
                raise
            # Counted as signed only once stored.
            st.signatures.append(
                Signature(organisation_id=org, signatory_id=act.user_id, signed_at=signed_at)
            )
            party = next(p for p in st.parties if p.organisation_id == org)
            await self._recorder.close_task(self._sign_key(party), "signed")
            self._stored.add(org)
        # A repeat answers once the first is stored; the last signature once the phase is
        # signed, so that its signatory reads the outcome.
        await workflow.wait_condition(
            lambda: (
                (org in self._stored or org not in self._signing)
                and (bool(self._missing()) or st.step != ConventionStep.AWAITING_SIGNATURES)
            )
        )
        if org not in self._stored:
            raise ApplicationError("la signature n'a pas pu être enregistrée, réessayez")
        return st

    @sign.validator
    def _validate_sign(self, act: SignatureAct) -> None:
        party = next(
            (p for p in self._state.parties if p.signatory_id == act.user_id),
            None,
        )
        if party is None or party.organisation_id != act.organisation_id:
            raise ValueError("vous n'êtes pas signataire de cette convention")
        if party.organisation_id in self._signing:
            return  # a repeat changes nothing
        if self._cancel is not None:
            raise ValueError("cette convention est abandonnée")
        self._require(ConventionStep.AWAITING_SIGNATURES, what="une signature")

    @workflow.update
    async def amend(self, a: Amendment) -> ConventionState:
        st = self._state
        if a.request_id in st.amendment_ids:
            return st
        st.amendment_ids.append(a.request_id)
        async with self._lock:
            targets = {**st.phase.targets, **a.targets}
            budget = (
                st.phase.annual_budget_cents
                if a.annual_budget_cents is None
                else a.annual_budget_cents
            )
            st.phase = st.phase.model_copy(
                update={"targets": targets, "annual_budget_cents": budget}
            )
            st.amendments += 1
            await run_activity(
                ConventionActivities.amend,
                AmendmentRecord(
                    convention_id=st.convention_id,
                    phase_number=st.phase.number or 1,
                    workflow_id=st.workflow_id,
                    amendment=a,
                    phase=st.phase,
                ),
            )
        return st

    @amend.validator
    def _validate_amend(self, a: Amendment) -> None:
        if a.request_id in self._state.amendment_ids:
            return
        # Targets are amended while the phase runs, never once its results are known.
        self._require(ConventionStep.SIGNED, ConventionStep.ACTIVE, what="un avenant")

    @workflow.update
    async def record_expense(self, e: Expense) -> ConventionState:
        st = self._state
        async with self._lock:
            total = await run_activity(
                ConventionActivities.add_expense,
                ExpenseRecord(
                    convention_id=st.convention_id,
                    phase_number=st.phase.number or 1,
                    workflow_id=st.workflow_id,
                    expense=e,
                ),
            )
            st.budget_used_cents = total.used_cents
            if st.evaluation is not None and st.last_snapshot is not None:
                st.evaluation = evaluate(st.phase, st.last_snapshot, st.budget_used_cents)
                await self._save_evaluation()
        return st

    @record_expense.validator
    def _validate_expense(self, e: Expense) -> None:
        self._require(
            ConventionStep.SIGNED,
            ConventionStep.ACTIVE,
            ConventionStep.EVALUATING,
            what="une dépense",
        )
        if self._decision is not None:
            raise ValueError("la décision sur cette phase est prise : plus de dépense")
        phase = self._state.phase
        if not phase.starts_on <= e.spent_on <= phase.ends_on:
            raise ValueError(
                f"la dépense doit dater de la phase ({phase.starts_on:%d/%m/%Y} – "
                f"{phase.ends_on:%d/%m/%Y})"
            )

    @workflow.update
    async def refresh(self, ask: SnapshotAsk) -> KpiSnapshot:
        # Through today on Paris' calendar, the one visits are dated on.
        now = workflow.now()
        return await self._snapshot(now, today=now.astimezone(PARIS).date())

    @refresh.validator
    def _validate_refresh(self, ask: SnapshotAsk) -> None:
        self._require(ConventionStep.ACTIVE, what="un calcul des indicateurs")

    @workflow.update
    async def review(self, r: Review) -> ConventionState:
        st = self._state
        if st.reviewed_at is None:
            st.reviewed_at = workflow.now()
            st.review_note = r.note
            if st.review_opened:
                await self._recorder.close_task(self._review_key(), "reviewed")
        return st

    @review.validator
    def _validate_review(self, r: Review) -> None:
        if self._state.reviewed_at is not None:
            return
        self._require(ConventionStep.ACTIVE, what="une revue")

    @workflow.update
    async def decide(self, d: Decision) -> ConventionState:
        if self._decision is None:
            self._decision = d
        await workflow.wait_condition(lambda: self._settled)
        return self._state

    @decide.validator
    def _validate_decide(self, d: Decision) -> None:
        st = self._state
        if self._decision is not None:
            if (self._decision.renew is None) == (d.renew is None):
                return  # a repeat: answered with the first decision's outcome
            raise ValueError("la décision sur cette phase est déjà prise")
        self._require(ConventionStep.EVALUATING, what="une décision")
        if d.renew is not None:
            if d.renew.starts_on <= st.phase.ends_on:
                raise ValueError(
                    f"la phase suivante commence après la fin de celle-ci "
                    f"({st.phase.ends_on:%d/%m/%Y})"
                )
            number = st.phase.number or 1
            if d.renew.number is not None and d.renew.number <= number:
                raise ValueError(f"la phase suivante porte un numéro après {number}")
            if self._next_number(d) > MAX_PHASE_NUMBER:
                raise ValueError(f"une convention compte au plus {MAX_PHASE_NUMBER} phases")

    @workflow.update
    async def cancel(self, c: Cancel) -> ConventionState:
        if self._cancel is None:
            self._cancel = c
        await workflow.wait_condition(lambda: self._settled)
        if self._state.step != ConventionStep.CANCELLED:
            raise ApplicationError(
                f"abandon impossible : la phase est {self._state.step.value}",
                type="ConventionClosed",
            )
        return self._state

    @cancel.validator
    def _validate_cancel(self, c: Cancel) -> None:
        if self._cancel is not None:
            return
        self._require(ConventionStep.AWAITING_SIGNATURES, ConventionStep.SIGNED, what="un abandon")

    @workflow.update
    async def opened(self, r: RegisterRequest) -> ConventionState:
        """Answers once the phase is in the store: its creator can read it back."""
        await workflow.wait_condition(lambda: self._recorded)
        return self._state

    @workflow.query
    def state(self) -> ConventionState:
        return self._state


# --- starting it (client side: the API's commands, the demo, the tests) ---------------


async def start_convention(
    client: Client, task_queue: str, input: ConventionInput, request_id: str, indexed: bool = True
) -> ConventionState:
    """Start (or find again, for a retried request) a convention; answers once its phase is
    stored. Raises WorkflowAlreadyStartedError when that convention has ended."""
    return await update_with_start(
        client,
        ConventionWorkflow.opened,
        RegisterRequest(request_id=request_id),
        update_id=f"open-{request_id}",
        run=ConventionWorkflow.run,
        input=input,
        id=convention_workflow_id(input.convention_id),
        task_queue=task_queue,
        search_attributes=relais_attributes(ProcessKind.CONVENTION, input.network_id, indexed),
    )
