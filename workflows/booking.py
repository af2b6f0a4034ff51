"""Reservations of bookable resources: one workflow per reservation, from the booking to the
end of its slot. Postgres decides who holds a slot (an exclusion constraint); the workflow
carries the waits: on the waitlist until promoted or the slot begins, then until the slot
ends or the member cancels — which promotes the next in line."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # What the client-side starters at the end of this module use (never in a workflow).
    from temporalio.client import Client

    from activities.booking import BookingActivities
    from activities.recruitment import org_recipient
    from domain.auth import NETWORK_ROLES
    from domain.booking import (
        Promoted,
        ReservationCancel,
        ReservationCancelling,
        ReservationEnd,
        ReservationInput,
        ReservationState,
        ReservationStatus,
        reservation_workflow_id,
    )
    from domain.processes import ProcessKind, ProcessStatus
    from domain.recruitment import RegisterRequest
    from workflows.clients import relais_attributes, update_with_start
    from workflows.common import ProcessRecorder, run_activity

OPEN = (ReservationStatus.CONFIRMED, ReservationStatus.WAITLISTED)


@workflow.defn
class ReservationWorkflow:
    """A member's reservation of a room or a vehicle for a slot.

    - `confirmed`: the slot is the member's until it ends (`completed`) or it `cancel`s,
      which confirms the first waiting reservations whose slot is now free.
    - `waitlisted`: someone holds the slot; promoted (`confirmed`, the member is told) when
      it is freed, `expired` if still waiting when the slot begins, or `cancel`led.
    - `refused`: past the resource's booking horizon or its future bookings per member.
    """

    @workflow.init
    def __init__(self, input: ReservationInput) -> None:
        self._input = input
        self._state: ReservationState | None = None
        self._cancel: ReservationCancel | None = None
        self._promoted = False
        self._recorder = ProcessRecorder(ProcessKind.BOOKING, input.member_id, "Réservation")

    @workflow.run
    async def run(self, input: ReservationInput) -> ReservationState:
        state = await run_activity(BookingActivities.reserve, input, local=True)
        self._state = state
        slot = f"{input.starts_at:%d/%m/%Y %H:%M}–{input.ends_at:%H:%M}"
        self._recorder.title = f"Réservation : {state.resource_name}, {slot}"
        if state.status == ReservationStatus.REFUSED:
            # Past the resource's limits, decided by the store when two requests raced (the
            # API refuses the others before they start): the member is answered at once.
            await self._recorder.record(ProcessStatus.FAILED, "refused")
            return await self._finish()

        if state.status == ReservationStatus.WAITLISTED:
            await self._recorder.record(ProcessStatus.WAITING, "waitlisted", waiting_on="slot")
            try:
                await workflow.wait_condition(
                    lambda: self._promoted or self._cancel is not None,
                    timeout=max(input.starts_at - workflow.now(), timedelta(0)),
                )
            except TimeoutError:
                pass
            if self._cancel is None and not self._promoted:
                expired = await run_activity(
                    BookingActivities.end_reservation,
                    ReservationEnd(reservation_id=input.reservation_id, status="expired"),
                )
                if expired:
                    state.status = ReservationStatus.EXPIRED
                    await self._recorder.mail(
                        "expired",
                        org_recipient(input.member_id),
                        f"Liste d'attente : {state.resource_name} non disponible",
                        f"Le créneau {slot} ne s'est pas libéré : votre demande est close.",
                    )
                    await self._recorder.record(ProcessStatus.EXPIRED, "expired")
                    return await self._finish()
                self._promoted = True  # promoted in the store; its signal is on its way
            if self._promoted and self._cancel is None:
                state.status = ReservationStatus.CONFIRMED
                state.waitlist_position = None
                await self._recorder.mail(
                    "promoted",
                    org_recipient(input.member_id),
                    f"Réservation confirmée : {state.resource_name}",
                    f"Un créneau s'est libéré : {slot} vous est réservé.",
                )

        if state.status == ReservationStatus.CONFIRMED and self._cancel is None:
            await self._recorder.record(ProcessStatus.RUNNING, "confirmed")
            try:
                await workflow.wait_condition(
                    lambda: self._cancel is not None,
                    timeout=max(input.ends_at - workflow.now(), timedelta(0)),
                )
            except TimeoutError:
                pass
        if self._cancel is not None:
            await self._do_cancel(self._cancel)
            return await self._finish()
        await run_activity(
            BookingActivities.end_reservation,
            ReservationEnd(reservation_id=input.reservation_id, status="completed"),
        )
        state.status = ReservationStatus.COMPLETED
        await self._recorder.record(ProcessStatus.COMPLETED, "completed")
        return await self._finish()

    async def _do_cancel(self, cancel: ReservationCancel) -> None:
        assert self._state is not None
        done = await run_activity(
            BookingActivities.cancel_reservation,
            ReservationCancelling(reservation_id=self._input.reservation_id, reason=cancel.reason),
        )
        for reservation_id in done.promoted:
            await workflow.get_external_workflow_handle(
                reservation_workflow_id(reservation_id)
            ).signal(ReservationWorkflow.promoted, Promoted(reservation_id=reservation_id))
        self._state.status = ReservationStatus.CANCELLED
        self._state.reason = cancel.reason
        await self._recorder.record(ProcessStatus.CANCELLED, "cancelled")

    async def _finish(self) -> ReservationState:
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self._state is not None
        return self._state

    @workflow.update
    async def book(self, _: RegisterRequest) -> ReservationState:
        """Sent with the start: answers once the slot is taken or the reservation waits."""
        await workflow.wait_condition(lambda: self._state is not None)
        assert self._state is not None
        return self._state

    @workflow.update
    async def cancel(self, cancel: ReservationCancel) -> ReservationState:
        if self._cancel is None:
            self._cancel = cancel
        await workflow.wait_condition(
            lambda: self._state is not None and self._state.status not in OPEN
        )
        assert self._state is not None
        return self._state

    @cancel.validator
    def _validate_cancel(self, cancel: ReservationCancel) -> None:
        if cancel.role not in NETWORK_ROLES and cancel.organisation_id != self._input.member_id:
            raise ValueError("seule l'entreprise qui a réservé peut annuler")
        if self._state is None or self._state.status not in OPEN:
            raise ValueError("cette réservation n'est plus active")
        if self._cancel is None and workflow.now() >= self._input.ends_at:
            raise ValueError("le créneau est passé")

    @workflow.signal
    def promoted(self, _: Promoted) -> None:
        self._promoted = True

    @workflow.query
    def state(self) -> ReservationState | None:
        return self._state


# --- starting it (client side: the API's commands, the demo, the tests) ---------------


async def book(
    client: Client, task_queue: str, input: ReservationInput, indexed: bool = True
) -> ReservationState:
    """Reserve a slot (confirmed or waitlisted); the same request retried finds the same
    reservation."""
    return await update_with_start(
        client,
        ReservationWorkflow.book,
        RegisterRequest(request_id=str(input.reservation_id)),
        update_id=f"book-{input.reservation_id}",
        run=ReservationWorkflow.run,
        input=input,
        id=reservation_workflow_id(input.reservation_id),
        task_queue=task_queue,
        search_attributes=relais_attributes(ProcessKind.BOOKING, input.member_id, indexed),
    )
