"""Pooled services: one workflow per pool (a catalogue service and a month).

The pool is the aggregate its members act on: the first request starts it
(update-with-start on `pool-<service>-<period>`, so concurrent first requests meet in one
workflow), each later request joins it through the same update, and members answer their
quotes, withdraw and rate through updates validated against the pool's state. A pool holds
at most a few hundred members, so its history stays far below Temporal's limits; the
bookkeeping for all members of a step goes to Postgres in one activity.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from uuid import UUID

from temporalio import workflow
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    # What the client-side starters at the end of this module use (never in a workflow).
    from temporalio.client import Client

    from activities.pooling import PoolingActivities
    from activities.recruitment import org_recipient
    from domain.actions import TaskAction
    from domain.auth import NETWORK_ROLES, Role
    from domain.formats import euros
    from domain.pool_decisions import Change, apply_requote, ready_to_order, requote
    from domain.pooling import (
        IN_POOL,
        TERMINAL_POOL,
        UNIT_LABELS,
        InvoiceLine,
        Invoicing,
        JoinRequest,
        JoinResult,
        MemberAction,
        OrderChange,
        OrderPlacement,
        Participant,
        PoolInput,
        PoolState,
        PoolStatus,
        PoolSync,
        ProviderAction,
        RecordRequest,
        RequestRecord,
        RequestStatus,
        quote_shares,
        rule_met,
    )
    from domain.processes import (
        OutboxMessage,
        ProcessKind,
        ProcessStatus,
        TaskClose,
        TaskOpen,
    )
    from workflows.clients import relais_attributes, update_with_start
    from workflows.common import ProcessRecorder, refusal, run_activity

PROVIDER_REMINDER = timedelta(days=7)
# A pool's history grows by about 16 events per member: 300 members stay near 5,000 events,
# half of Temporal's limit, with no need to continue-as-new mid-quote.
MAX_MEMBERS = 300
RATING_WINDOW = timedelta(days=14)
STEP_DELIVERY = ("delivered", "cancel_delivery")
# Pools started from here on take members until the order is placed (issue 17). Pools that
# were already running keep the path their history recorded: joins closed once the rule was
# met, declines weighed at the end of the acceptance window.
JOINS_UNTIL_ORDER = "joins-until-order"
# Pools started from here on answer a join once the member is quoted (when the rule is met)
# and the acceptance that completes the pool once the order is placed: the API answers from
# the update's result instead of being polled.
ANSWERS_WHEN_DONE = "answers-when-done"
# Pools started from here on write the rows of members' acts that arrive together in one
# local activity (one transaction), instead of one each, in turn: ten acceptances sent at once
# are stored in one or two writes, not ten one after the other.
BATCHED_ACTS = "batched-acts"
# Pools started from here on write where they stand (their status projection) in the same
# transaction as the step's rows, tasks and mail, not in a local activity of its own after.
ONE_WRITE_PER_STEP = "one-write-per-step"
# An answer never waits longer than this for what follows it (then it answers as it stands).
ANSWER_WAIT = timedelta(minutes=1)
# Where a pool stands after a step: its process status, step and whom it waits on.
Step = tuple[ProcessStatus, str, str | None]
LEFT_WORDS = {
    RequestStatus.DECLINED: ("devis décliné", "devis déclinés"),
    RequestStatus.WITHDRAWN: ("retrait", "retraits"),
    RequestStatus.EXPIRED: ("devis sans réponse", "devis sans réponse"),
}


@workflow.defn
class ServicePoolWorkflow:
    """A pool of members' requests for one service and one month.

    States and what people can do:
    - `gathering`: members `join` (a request) or `withdraw`, until the pooling rule is met or
      the window closes (then, with too few, the pool fails and everyone is told why).
    - `quoting`: each member has a quote in exact cents and `accept`s or `decline`s it
      within the acceptance window; members may still `withdraw`, and others may still
      `join` until the order is placed (within the window, up to the catalogue's maximum).
      Each change of members splits the price again at once (domain.pool_decisions): a late
      joiner is quoted, a member whose share fell stands accepted at the lower amount (it is
      told), one whose share rose above what it accepted is asked again. A pool that no
      longer meets its rule fails at once and says why. (Pools started before
      `JOINS_UNTIL_ORDER` closed to joins here and weighed declines after the window.)
    - `ordered`: the order is placed with the provider, who confirms or refuses it.
    - `confirmed`: the provider reports the delivery done, or cancels it.
    - `rating`: each member is invoiced its share (shares sum to the provider's price) and
      may rate the service, for 14 days. Then `completed`.
    A refusal or a cancelled delivery compensates: the order is cancelled, commitments are
    released, members are told, nothing is billed (`failed`, compensated).
    """

    @workflow.init
    def __init__(self, input: PoolInput) -> None:
        self._input = input
        service = input.service
        self._state = PoolState(
            pool_id=input.pool_id,
            service_code=service.code,
            service_name=service.name,
            period=input.period,
            status=PoolStatus.GATHERING,
            closes_at=input.closes_at,
        )
        self._created = False
        self._joins: dict[str, JoinResult] = {}  # request id -> the answer given
        self._joining: dict[str, UUID] = {}  # requests being recorded -> their member
        self._provider: ProviderAction | None = None
        self._sync_lock = asyncio.Lock()
        # Set by run() (JOINS_UNTIL_ORDER); until then the pool is gathering, where both
        # paths take joins alike.
        self._late_joins = False
        self._ordering = False  # the order is being placed
        self._changed = False  # members came or went since the last split
        self._joined = 0  # how many joined since the last split
        self._left: list[RequestStatus] = []  # how those who left since then left
        self._answers = False  # set by run() (ANSWERS_WHEN_DONE)
        self._batched = False  # set by run() (BATCHED_ACTS)
        self._one_write = False  # set by run() (ONE_WRITE_PER_STEP)
        # Members' acts waiting to be written (BATCHED_ACTS): the requests they changed, the
        # tasks they close, the batch they will be written in, and its writer.
        self._acts_changed: dict[UUID, Participant] = {}
        self._acts_closing: list[TaskClose] = []
        self._acts_batch: asyncio.Future[None] | None = None
        self._acts_writer: asyncio.Task[None] | None = None
        self._busy = 0  # handlers changing the pool now (not those waiting for an outcome)
        self._synced_round = 0  # the last quote round stored
        self._order_stored = False
        self._recorder = ProcessRecorder(
            ProcessKind.POOLING,
            service.network_id,
            f"Mutualisation : {service.name} ({input.period})",
            seq=input.status_seq,
        )

    # --- the process ----------------------------------------------------------------------

    @workflow.run
    async def run(self, input: PoolInput) -> PoolState:
        self._late_joins = workflow.patched(JOINS_UNTIL_ORDER)
        self._answers = self._late_joins and workflow.patched(ANSWERS_WHEN_DONE)
        self._batched = self._answers and workflow.patched(BATCHED_ACTS)
        self._one_write = self._batched and workflow.patched(ONE_WRITE_PER_STEP)
        await run_activity(PoolingActivities.create_pool, input, local=True)
        self._created = True
        await self._recorder.record(ProcessStatus.WAITING, "gathering", waiting_on="member")

        remaining = input.closes_at - workflow.now()
        if remaining > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: (self._rule_met() or self._full()) and not self._joining,
                    timeout=remaining,
                )
            except TimeoutError:
                pass
        # From here on a join is a late one (refused in pools before JOINS_UNTIL_ORDER).
        self._state.status = PoolStatus.QUOTING
        await workflow.wait_condition(lambda: not self._joining)
        if not self._rule_met():
            when = "une fois le regroupement complet" if self._full() else None
            await self._fail(self._rule_missing(when or "à la clôture de la fenêtre"))
            return await self._finish()

        if self._late_joins:
            committed = await self._quote_while_open()
        else:
            committed = await self._quote_until_committed()
        if not committed:
            return await self._finish()
        try:
            if not await self._order():
                return await self._finish()
        except ActivityError as err:  # a refusal no retry can change
            await self._compensate(f"incident lors de la commande ({err.cause or err})")
            return await self._finish()
        await self._rate()
        return await self._finish()

    async def _quote_until_committed(self) -> bool:
        """Quote rounds until every member left has accepted its share (True) or the rule
        no longer holds (False, the pool failed)."""
        service = self._input.service
        while True:
            active = self._state.active()
            shares = quote_shares(service.cost, service.split_rule, [p.demand() for p in active])
            self._state.total_cents = sum(shares.values())
            self._state.quote_round += 1
            deadline = workflow.now() + timedelta(days=service.acceptance_days)
            self._state.quote_deadline = deadline
            tasks, mails = [], []
            for p in active:
                p.quote_cents = shares[str(p.request_id)]
                if p.status == RequestStatus.ACCEPTED and (p.accepted_cents or 0) >= p.quote_cents:
                    continue  # its share did not rise above what it accepted
                again = p.status == RequestStatus.ACCEPTED
                p.status = RequestStatus.QUOTED
                tasks.append(self._task(p, TaskAction.ACCEPT_QUOTE, "Accepter le devis", deadline))
                mails.append(self._quote_mail(p, deadline, again))
            await self._sync(tasks_open=tasks, mails=mails)
            await self._recorder.record(ProcessStatus.WAITING, "quoting", waiting_on="member")

            members = {p.request_id for p in active}
            try:
                await workflow.wait_condition(
                    lambda: not any(p.status == RequestStatus.QUOTED for p in self._state.active()),
                    timeout=deadline - workflow.now(),
                )
            except TimeoutError:
                pass
            await workflow.wait_condition(workflow.all_handlers_finished)
            silent = [p for p in self._state.participants if p.status == RequestStatus.QUOTED]
            for p in silent:
                p.status = RequestStatus.EXPIRED
                p.reason = "pas de réponse au devis dans le délai"
            if silent:
                await self._sync(
                    tasks_close=[
                        self._task_close(p, TaskAction.ACCEPT_QUOTE, "expired") for p in silent
                    ],
                    mails=[
                        self._mail(
                            p,
                            "expired",
                            f"Devis expiré : {self._state.service_name}",
                            "Sans réponse de votre part dans le délai, votre demande est retirée "
                            "du regroupement.",
                        )
                        for p in silent
                    ],
                )
            if {p.request_id for p in self._state.active()} == members:
                return True  # nobody left: every share stands accepted
            if not self._rule_met():
                await self._fail(self._rule_missing("après les désistements"))
                return False

    async def _quote_while_open(self) -> bool:
        """Quote, and split again at each change of members, until every member still in
        has accepted its share (True) or the rule no longer holds (False, the pool failed)."""
        while True:
            await workflow.wait_condition(lambda: not self._joining)
            if not self._rule_met():
                gone = self._gone()
                await self._fail(
                    self._rule_missing(f"après les désistements ({gone})" if gone else
                                       "après les désistements")
                )  # fmt: skip
                return False
            self._changed = False
            await self._split_again()
            while not self._changed:
                if self._may_order():
                    return True
                due = min(
                    (p.answer_by for p in self._state.active() if p.answer_by and
                     p.status == RequestStatus.QUOTED),
                    default=None,
                )  # fmt: skip
                if due is not None and due <= workflow.now():
                    await self._expire_unanswered()
                    continue
                try:
                    await workflow.wait_condition(
                        lambda: self._changed or self._may_order(),
                        timeout=due - workflow.now() if due else None,
                    )
                except TimeoutError:
                    await self._expire_unanswered()

    def _may_order(self) -> bool:
        # Handlers that only wait for the outcome (answers-when-done) do not hold the order.
        settled = self._busy == 0 if self._answers else workflow.all_handlers_finished()
        return not self._joining and settled and ready_to_order(self._state.active())

    async def _split_again(self) -> None:
        """Split the price among the members still in; ask those it asks, tell the others
        what changed for them."""
        service = self._input.service
        active = self._state.active()
        why = self._why()
        self._joined, self._left = 0, []
        rq = requote(service, active)
        apply_requote(active, rq)
        self._state.quote_round += 1
        self._state.total_cents = rq.total_cents
        answer_by = workflow.now() + timedelta(days=service.acceptance_days)
        tasks, mails = [], []
        for p in active:
            change, before = rq.changes[str(p.request_id)], rq.previous[str(p.request_id)]
            if change in (Change.ASKED, Change.ASKED_AGAIN):
                p.answer_by, p.asked_round = answer_by, self._state.quote_round
                tasks.append(self._task(p, TaskAction.ACCEPT_QUOTE, "Accepter le devis", answer_by))
            if change == Change.ASKED:
                mails.append(self._quote_mail(p, answer_by, again=False))
            elif change != Change.KEPT:
                mails.append(self._change_mail(p, change, before or 0, why))
        deadlines = [
            p.answer_by for p in active if p.answer_by and p.status == RequestStatus.QUOTED
        ]
        if deadlines:
            self._state.quote_deadline = max(deadlines)
        quoting = (ProcessStatus.WAITING, "quoting", "member")
        await self._sync(tasks_open=tasks, mails=mails, stands=quoting if self._one_write else None)
        self._synced_round = self._state.quote_round
        if not self._one_write:
            await self._recorder.record(*quoting)

    async def _expire_unanswered(self) -> None:
        now = workflow.now()
        silent = [
            p
            for p in self._state.active()
            if p.status == RequestStatus.QUOTED and p.answer_by and p.answer_by <= now
        ]
        for p in silent:
            p.status = RequestStatus.EXPIRED
            p.reason = "pas de réponse au devis dans le délai"
            self._left.append(p.status)
        if not silent:
            return
        self._changed = True
        await self._sync(
            tasks_close=[self._task_close(p, TaskAction.ACCEPT_QUOTE, "expired") for p in silent],
            mails=[
                self._mail(
                    p,
                    "expired",
                    f"Devis expiré : {self._state.service_name}",
                    "Sans réponse de votre part dans le délai, votre demande est retirée "
                    "du regroupement.",
                )
                for p in silent
            ],
        )

    def _why(self) -> str:
        if self._joined and self._left:
            return "La composition du regroupement a changé"
        if self._joined > 1:
            return f"{self._joined} entreprises ont rejoint le regroupement"
        if self._joined:
            return "Une entreprise a rejoint le regroupement"
        return "Des membres se sont retirés"

    def _gone(self) -> str:
        """How the members who just left left, without naming them (« 1 devis décliné »)."""
        counts = {s: self._left.count(s) for s in LEFT_WORDS if s in self._left}
        return ", ".join(
            f"{n} {LEFT_WORDS[s][0] if n == 1 else LEFT_WORDS[s][1]}" for s, n in counts.items()
        )

    async def _order(self) -> bool:
        """Place the order, wait for the provider's confirmation and the delivery; invoice.
        False when the provider refused or cancelled (compensated)."""
        service = self._input.service
        committed = self._state.active()
        for p in committed:
            p.status = RequestStatus.COMMITTED
        self._ordering = True  # no join from here on
        unit = UNIT_LABELS[service.unit]
        await run_activity(
            PoolingActivities.place_order,
            OrderPlacement(
                pool_id=self._state.pool_id,
                provider_id=service.provider_id,
                total_cents=self._state.total_cents or 0,
                service_name=service.name,
                period=self._state.period,
                lines=[f"{p.member_name} : {p.quantity} {unit}(s)" for p in committed],
            ),
        )
        # Ordered once the order is placed: who reads the state then finds the order too.
        self._state.status = PoolStatus.ORDERED
        ordered = (ProcessStatus.WAITING, "ordered", "provider")
        await self._sync(
            stands=ordered if self._one_write else None,
            tasks_open=[
                self._provider_task(
                    TaskAction.CONFIRM_ORDER, "Confirmer la commande", PROVIDER_REMINDER
                )
            ],
            mails=[
                self._mail(
                    p,
                    "ordered",
                    f"Commande passée : {service.name}",
                    f"Tous les membres ont accepté : la commande est passée auprès de "
                    f"{service.provider_name}. Votre part : {euros(p.quote_cents or 0)}.",
                )
                for p in committed
            ],
        )
        self._order_stored = True
        if not self._one_write:
            await self._recorder.record(*ordered)
        act = await self._provider_answer(("confirm", "refuse"))
        if act.kind == "refuse":
            await self._compensate(f"le prestataire a refusé la commande ({act.reason or '—'})")
            return False
        self._state.order_reference = act.reference
        await run_activity(
            PoolingActivities.set_order,
            OrderChange(pool_id=self._state.pool_id, status="confirmed", reference=act.reference),
        )
        self._state.status = PoolStatus.CONFIRMED
        await self._sync_and_record(
            (ProcessStatus.WAITING, "confirmed", "provider"),
            tasks_close=[self._provider_task_close(TaskAction.CONFIRM_ORDER, "confirmed")],
            tasks_open=[
                self._provider_task(
                    TaskAction.DELIVER, "Confirmer la livraison", timedelta(days=45)
                )
            ],
        )

        act = await self._provider_answer(("delivered", "cancel_delivery"))
        if act.kind == "cancel_delivery":
            await self._compensate(f"livraison annulée par le prestataire ({act.reason or '—'})")
            return False
        await run_activity(
            PoolingActivities.set_order,
            OrderChange(pool_id=self._state.pool_id, status="delivered"),
        )
        await run_activity(
            PoolingActivities.write_invoices,
            Invoicing(
                pool_id=self._state.pool_id,
                lines=[
                    InvoiceLine(
                        request_id=p.request_id,
                        pool_id=self._state.pool_id,
                        member_id=p.member_id,
                        description=(
                            f"{service.name} — {self._state.period} — {p.quantity} {unit}(s), "
                            f"part mutualisée"
                        ),
                        amount_cents=p.quote_cents or 0,
                    )
                    for p in committed
                ],
            ),
        )
        return True

    async def _rate(self) -> None:
        committed = [p for p in self._state.participants if p.status == RequestStatus.COMMITTED]
        for p in committed:
            p.status = RequestStatus.INVOICED
        self._state.status = PoolStatus.RATING
        due = workflow.now() + RATING_WINDOW
        await self._sync_and_record(
            (ProcessStatus.WAITING, "rating", "member"),
            tasks_close=[self._provider_task_close(TaskAction.DELIVER, "delivered")],
            tasks_open=[
                self._task(p, TaskAction.RATE, "Évaluer le service", due) for p in committed
            ],
            mails=[
                self._mail(
                    p,
                    "invoiced",
                    f"Facture : {self._state.service_name} ({self._state.period})",
                    f"Le service est livré. Votre part facturée : {euros(p.quote_cents or 0)}. "
                    "Dites-nous ce que vous en avez pensé sur Relais.",
                )
                for p in committed
            ],
        )
        try:
            await workflow.wait_condition(
                lambda: all(p.rating is not None for p in committed), timeout=RATING_WINDOW
            )
        except TimeoutError:
            pass
        self._state.status = PoolStatus.COMPLETED
        await self._sync_and_record(
            (ProcessStatus.COMPLETED, "completed", None),
            tasks_close=[
                self._task_close(p, TaskAction.RATE, "no_rating")
                for p in committed
                if p.rating is None
            ],
        )

    async def _provider_answer(self, kinds: tuple[str, ...]) -> ProviderAction:
        ready = lambda: self._provider is not None and self._provider.kind in kinds  # noqa: E731
        try:
            await workflow.wait_condition(ready, timeout=PROVIDER_REMINDER)
        except TimeoutError:
            service = self._input.service
            await self._sync(
                tasks_open=[
                    TaskOpen(
                        key=self._recorder.key(f"follow-up:{self._state.status.value}"),
                        workflow_id=workflow.info().workflow_id,
                        process=ProcessKind.POOLING,
                        action=TaskAction.FOLLOW_UP,
                        title=f"Relancer {service.provider_name} ({service.name})",
                        assignee_organisation_id=service.network_id,
                        assignee_role=Role.STAFF,
                        due_at=workflow.now() + timedelta(days=2),
                    )
                ],
                mails=[
                    OutboxMessage(
                        dedup_key=self._recorder.key(f"provider-reminder:{self._state.status}"),
                        recipient=org_recipient(service.provider_id),
                        subject=f"Rappel : commande groupée {service.name} en attente",
                        body="Merci de répondre sur Relais.",
                        workflow_id=workflow.info().workflow_id,
                    )
                ],
            )
            await workflow.wait_condition(ready)
        assert self._provider is not None
        return self._provider

    async def _compensate(self, reason: str) -> None:
        """After commitment: cancel the order, release every commitment, tell everyone;
        nothing is billed."""
        await run_activity(
            PoolingActivities.set_order,
            OrderChange(pool_id=self._state.pool_id, status="cancelled", reason=reason),
        )
        self._state.compensated = True
        await self._fail(
            reason,
            statuses=(RequestStatus.COMMITTED,),
            extra_close=[
                self._provider_task_close(TaskAction.CONFIRM_ORDER, "cancelled"),
                self._provider_task_close(TaskAction.DELIVER, "cancelled"),
            ],
        )

    async def _fail(
        self,
        reason: str,
        statuses: tuple[RequestStatus, ...] = IN_POOL,
        extra_close: list[TaskClose] | None = None,
    ) -> PoolState:
        self._state.status = PoolStatus.FAILED
        self._state.reason = reason
        told = [p for p in self._state.participants if p.status in statuses]
        for p in told:
            p.status = RequestStatus.RELEASED
            p.reason = reason
        await self._sync_and_record(
            (ProcessStatus.FAILED, "compensated" if self._state.compensated else "failed", None),
            tasks_close=[self._task_close(p, TaskAction.ACCEPT_QUOTE, "released") for p in told]
            + (extra_close or []),
            mails=[
                self._mail(
                    p,
                    "failed",
                    f"Regroupement annulé : {self._state.service_name} ({self._state.period})",
                    f"Le regroupement ne peut pas aboutir : {reason}. Votre engagement est levé "
                    "et rien ne vous sera facturé.",
                )
                for p in told
            ],
        )
        return self._state

    async def _finish(self) -> PoolState:
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    # --- rules and bookkeeping ------------------------------------------------------------

    def _rule_met(self) -> bool:
        return rule_met(self._input.service.pooling, [p.demand() for p in self._state.active()])

    def _full(self) -> bool:
        """The catalogue's maximum is reached: nobody else may join (pools that take members
        until the order only)."""
        most = self._input.service.max_participants
        return self._late_joins and most is not None and len(self._state.active()) >= most

    def _rule_missing(self, when: str) -> str:
        rule = self._input.service.pooling
        active = self._state.active()
        quantity = sum(p.quantity for p in active)
        return (
            f"{len(active)} participant(s) et une quantité de {quantity} {when}, pour "
            f"{rule.min_participants} participant(s) et {rule.min_quantity} au minimum"
        )

    async def _sync(
        self,
        *,
        changed: list[Participant] | None = None,
        tasks_open: list[TaskOpen] | None = None,
        tasks_close: list[TaskClose] | None = None,
        mails: list[OutboxMessage] | None = None,
        stands: Step | None = None,
    ) -> None:
        """Write the pool's state (all members', or only `changed`) with tasks and mail, and
        where it now `stands` (its status projection) when given. One at a time, each with
        the state as it is when it runs: rows never go back."""
        async with self._sync_lock:
            pool = self._state.model_copy(
                update={"participants": changed} if changed is not None else {}
            )
            await run_activity(
                PoolingActivities.sync_pool,
                PoolSync(
                    pool=pool,
                    tasks_open=tasks_open or [],
                    tasks_close=tasks_close or [],
                    mails=mails or [],
                    status=self._recorder.advance(*stands) if stands else None,
                ),
                local=True,
            )

    async def _sync_and_record(
        self,
        stands: Step,
        *,
        tasks_open: list[TaskOpen] | None = None,
        tasks_close: list[TaskClose] | None = None,
        mails: list[OutboxMessage] | None = None,
    ) -> None:
        """A step's bookkeeping and where the pool now stands: one write (ONE_WRITE_PER_STEP),
        or the status projection in a local activity of its own after (older pools)."""
        one = stands if self._one_write else None
        await self._sync(tasks_open=tasks_open, tasks_close=tasks_close, mails=mails, stands=one)
        if one is None:
            await self._recorder.record(*stands)

    async def _sync_act(self, p: Participant, task: TaskClose | None) -> None:
        """Write a member's act with the others that came with it (BATCHED_ACTS): the acts
        handled in one workflow task go in one sync, those that come while it is written in
        the next. Returns once a sync holding this act is written; raises what it raised."""
        self._acts_changed[p.request_id] = p
        if task is not None:
            self._acts_closing.append(task)
        if self._acts_batch is None:
            self._acts_batch = asyncio.get_running_loop().create_future()
        written = self._acts_batch
        if self._acts_writer is None or self._acts_writer.done():
            self._acts_writer = asyncio.create_task(self._write_acts())
        await asyncio.shield(written)  # one act cancelled never cancels the others'

    async def _write_acts(self) -> None:
        # A task of its own: it first runs once every handler of this workflow task has
        # queued its act, and after each write takes whatever came meanwhile.
        while self._acts_batch is not None:
            written, self._acts_batch = self._acts_batch, None
            changed, closing = list(self._acts_changed.values()), self._acts_closing
            self._acts_changed, self._acts_closing = {}, []
            try:
                await self._sync(changed=changed, tasks_close=closing)
            except Exception as err:  # each act of the batch fails as it would have alone
                written.set_exception(err)
            else:
                written.set_result(None)

    def _task(self, p: Participant, action: TaskAction, title: str, due: datetime) -> TaskOpen:
        return TaskOpen(
            key=self._recorder.key(f"{action}:{p.request_id}:{self._state.quote_round}"),
            workflow_id=workflow.info().workflow_id,
            process=ProcessKind.POOLING,
            action=action,
            title=f"{title} — {self._state.service_name} ({self._state.period})",
            assignee_organisation_id=p.member_id,
            assignee_role=Role.MEMBER,
            due_at=due,
            subject_id=str(p.request_id),
        )

    def _task_close(self, p: Participant, action: TaskAction, outcome: str) -> TaskClose:
        # A quote's task is the one of the round that asked it (pools that take members until
        # the order split again while some quotes wait); before, always the current round.
        asked = p.asked_round if action == TaskAction.ACCEPT_QUOTE else None
        round_ = self._state.quote_round if asked is None else asked
        return TaskClose(
            key=self._recorder.key(f"{action}:{p.request_id}:{round_}"), outcome=outcome
        )

    def _provider_task(self, action: TaskAction, title: str, due_in: timedelta) -> TaskOpen:
        service = self._input.service
        return TaskOpen(
            key=self._recorder.key(action),
            workflow_id=workflow.info().workflow_id,
            process=ProcessKind.POOLING,
            action=action,
            title=f"{title} — {service.name} ({self._state.period})",
            assignee_organisation_id=service.provider_id,
            assignee_role=Role.PARTNER,
            due_at=workflow.now() + due_in,
        )

    def _provider_task_close(self, action: TaskAction, outcome: str) -> TaskClose:
        return TaskClose(key=self._recorder.key(action), outcome=outcome)

    def _mail(self, p: Participant, what: str, subject: str, body: str) -> OutboxMessage:
        return OutboxMessage(
            dedup_key=self._recorder.key(f"{what}:{p.request_id}:{self._state.quote_round}"),
            recipient=org_recipient(p.member_id),
            subject=subject,
            body=body,
            workflow_id=workflow.info().workflow_id,
        )

    def _quote_mail(self, p: Participant, deadline: datetime, again: bool) -> OutboxMessage:
        service = self._input.service
        opening = (
            "Des membres se sont retirés : votre part est recalculée et dépasse ce que vous "
            "aviez accepté."
            if again
            else f"Le regroupement « {service.name} » pour {self._state.period} est constitué."
        )
        return self._mail(
            p,
            "quote",
            f"Devis : {service.name} ({self._state.period}) — {euros(p.quote_cents or 0)}",
            f"{opening} Votre part : {euros(p.quote_cents or 0)} pour {p.quantity} "
            f"{UNIT_LABELS[service.unit]}(s), sur un total de "
            f"{euros(self._state.total_cents or 0)}. Acceptez ou déclinez sur Relais avant le "
            f"{deadline:%d/%m/%Y}.",
        )

    def _change_mail(self, p: Participant, change: Change, before: int, why: str) -> OutboxMessage:
        service, period = self._input.service, self._state.period
        now, total = euros(p.quote_cents or 0), euros(self._state.total_cents or 0)
        answer = (
            f"Acceptez ou déclinez sur Relais avant le {p.answer_by:%d/%m/%Y}."
            if p.answer_by
            else ""
        )
        if change == Change.LOWERED:
            return self._mail(
                p,
                "lowered",
                f"Votre part baisse : {service.name} ({period}) — {now}",
                f"{why} : votre part passe de {euros(before)} à {now}, sur un total de {total}. "
                "Votre acceptation vaut pour ce nouveau montant : vous n'avez rien à faire.",
            )
        if change == Change.ASKED_AGAIN:
            return self._mail(
                p,
                "quote",
                f"Devis : {service.name} ({period}) — {now}",
                f"{why} : votre part est recalculée à {now} et dépasse ce que vous aviez "
                f"accepté ({euros(p.accepted_cents or before)}), sur un total de {total}. "
                f"{answer}",
            )
        return self._mail(
            p,
            "quote",
            f"Devis mis à jour : {service.name} ({period}) — {now}",
            f"{why} : votre part passe de {euros(before)} à {now} pour {p.quantity} "
            f"{UNIT_LABELS[service.unit]}(s), sur un total de {total}. {answer}",
        )

    # --- what people do -------------------------------------------------------------------

    @workflow.update
    async def join(self, j: JoinRequest) -> JoinResult:
        """A member's request joins the pool; answers once it is recorded (or refused)."""
        key = str(j.request_id)
        if key not in self._joins:
            if key not in self._joining:
                self._joining[key] = j.member_id
                self._busy += 1
                await workflow.wait_condition(lambda: self._created)
                rec: RequestRecord | None = None
                try:
                    rec = await run_activity(
                        PoolingActivities.record_request,
                        RecordRequest(pool=self._input, join=j),
                        local=True,
                    )
                    # A refusal returned before PoolRequestRefused (histories still hold it).
                    refused = rec.refusal
                except FailureError as err:  # a local activity's refusal comes bare
                    if (no := refusal(err, "PoolRequestRefused")) is None:
                        raise
                    refused = no.message
                status = RequestStatus.REFUSED if refused else RequestStatus.JOINED
                if rec is not None and not refused:
                    self._joined += 1
                    self._changed = True
                    self._state.participants.append(
                        Participant(
                            request_id=j.request_id,
                            member_id=j.member_id,
                            member_name=rec.member_name,
                            quantity=j.quantity,
                            headcount=rec.headcount,
                            status=status,
                        )
                    )
                self._joins[key] = JoinResult(
                    request_id=j.request_id,
                    pool_id=self._state.pool_id,
                    status=status,
                    refusal=refused,
                    pool_status=self._state.status,
                    participants=len(self._state.active()),
                )
                del self._joining[key]
                self._busy -= 1
                if self._answers and rec is not None and not refused:
                    await self._until_quoted()
            await workflow.wait_condition(lambda: key in self._joins)
        return self._joins[key]

    async def _until_quoted(self) -> None:
        """A join that meets the rule (or joins a pool already quoting) is answered once its
        quote is stored: whoever reads the request then reads its quote."""
        if not (self._rule_met() or self._state.status == PoolStatus.QUOTING):
            return  # still gathering: nothing to quote yet
        asked = self._state.quote_round
        try:
            await workflow.wait_condition(
                lambda: (
                    self._synced_round > asked
                    or self._state.status not in (PoolStatus.GATHERING, PoolStatus.QUOTING)
                ),
                timeout=ANSWER_WAIT,
            )
        except TimeoutError:
            pass  # answered as it stands

    @join.validator
    def _validate_join(self, j: JoinRequest) -> None:
        key = str(j.request_id)
        if key in self._joins or key in self._joining:
            return  # the same request again: answered as the first time
        status = PoolStatus.ORDERED if self._ordering else self._state.status
        taking = (PoolStatus.GATHERING, PoolStatus.QUOTING) if self._late_joins else ()
        if status != PoolStatus.GATHERING and status not in taking:
            raise ValueError(
                f"le regroupement « {self._state.service_name} » pour {self._state.period} "
                f"ne prend plus de demandes ({status.value})"
            )
        if status == PoolStatus.QUOTING and workflow.now() >= self._input.closes_at:
            raise ValueError(
                f"la fenêtre de mutualisation pour {self._state.period} est close : le "
                "regroupement ne prend plus de demandes"
            )
        most = self._input.service.max_participants or MAX_MEMBERS
        if len(self._state.active()) + len(self._joining) >= most:
            raise ValueError(f"le regroupement est complet ({most} entreprises)")
        if j.member_id in self._joining.values() or any(
            p.member_id == j.member_id for p in self._state.active()
        ):
            raise ValueError(
                "votre entreprise a déjà une demande dans ce regroupement : retirez-la avant "
                "d'en faire une autre"
            )

    @workflow.update
    async def act(self, a: MemberAction) -> Participant:
        p = self._state.participant(a.request_id)
        assert p is not None  # checked by the validator
        task = None
        if a.kind == "accept" and p.status == RequestStatus.QUOTED:
            p.status = RequestStatus.ACCEPTED
            p.accepted_cents = p.quote_cents
            task = self._task_close(p, TaskAction.ACCEPT_QUOTE, "accepted")
        elif a.kind == "decline" and p.status == RequestStatus.QUOTED:
            p.status = RequestStatus.DECLINED
            p.reason = a.reason or "devis décliné"
            task = self._task_close(p, TaskAction.ACCEPT_QUOTE, "declined")
            self._left.append(p.status)
            self._changed = True
        elif a.kind == "withdraw" and p.status in (RequestStatus.JOINED, RequestStatus.QUOTED):
            if p.status == RequestStatus.QUOTED:
                task = self._task_close(p, TaskAction.ACCEPT_QUOTE, "withdrawn")
            p.status = RequestStatus.WITHDRAWN
            p.reason = a.reason or "retrait du membre"
            self._left.append(p.status)
            self._changed = True
        elif a.kind == "rate" and p.rating is None:
            p.rating = a.stars
            p.rating_comment = a.comment
            task = self._task_close(p, TaskAction.RATE, "rated")
        else:
            return p  # the same action again: answered with the state it led to
        self._busy += 1
        try:
            if self._batched:
                await self._sync_act(p, task)
            else:
                await self._sync(changed=[p], tasks_close=[task] if task else [])
        finally:
            self._busy -= 1
        answer = p.model_copy()  # the request as this act left it
        if self._answers and a.kind == "accept" and ready_to_order(self._state.active()):
            # The acceptance that completes the pool is answered once the order is placed
            # (or once a late change of members asks for new answers).
            asked = self._state.quote_round
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._order_stored
                        or self._state.status in TERMINAL_POOL
                        or self._state.quote_round != asked
                    ),
                    timeout=ANSWER_WAIT,
                )
            except TimeoutError:
                pass
        return answer

    @act.validator
    def _validate_act(self, a: MemberAction) -> None:
        p = self._state.participant(a.request_id)
        if p is None:
            raise ValueError("cette demande n'est pas dans ce regroupement")
        if a.role not in NETWORK_ROLES and a.organisation_id != p.member_id:
            raise ValueError("seule l'entreprise qui a fait la demande peut agir sur elle")
        s = p.status
        replay = {
            # Accepted at this amount, or at less since (a share that fell stands accepted).
            "accept": s in (RequestStatus.ACCEPTED, RequestStatus.COMMITTED, RequestStatus.INVOICED)
            and a.quote_cents is not None
            and p.accepted_cents is not None
            and a.quote_cents >= p.accepted_cents,
            "decline": s == RequestStatus.DECLINED,
            "withdraw": s == RequestStatus.WITHDRAWN,
            "rate": p.rating is not None and p.rating == a.stars,
        }[a.kind]
        if replay:
            return
        if a.kind in ("accept", "decline") and s != RequestStatus.QUOTED:
            raise ValueError(f"aucun devis n'attend votre réponse (demande : {s.value})")
        if a.kind == "accept" and a.quote_cents != p.quote_cents:
            raise ValueError(
                f"le devis a changé : votre part est maintenant de {euros(p.quote_cents or 0)}, "
                "relisez-le avant d'accepter"
            )
        if a.kind == "withdraw" and s not in (RequestStatus.JOINED, RequestStatus.QUOTED):
            raise ValueError(
                f"le retrait n'est possible qu'avant d'accepter le devis (demande : {s.value})"
            )
        if a.kind == "rate":
            if s != RequestStatus.INVOICED or self._state.status != PoolStatus.RATING:
                raise ValueError("l'évaluation suit la livraison du service")
            if p.rating is not None:
                raise ValueError("ce service est déjà évalué")
            if a.stars is None:
                raise ValueError("une note de 1 à 5 est requise")

    @workflow.update
    async def provider(self, a: ProviderAction) -> PoolState:
        """The provider confirms or refuses the order, then reports the delivery."""
        if self._provider is None or self._provider.kind != a.kind:
            self._provider = a
        done = {
            "confirm": (PoolStatus.CONFIRMED, PoolStatus.RATING),
            "refuse": (),
            "delivered": (PoolStatus.RATING,),
            "cancel_delivery": (),
        }[a.kind]
        await workflow.wait_condition(
            lambda: self._state.status in done or self._state.status in TERMINAL_POOL
        )
        return self._state

    @provider.validator
    def _validate_provider(self, a: ProviderAction) -> None:
        service = self._input.service
        if a.role not in NETWORK_ROLES and a.organisation_id != service.provider_id:
            raise ValueError(f"seul le prestataire ({service.provider_name}) répond à la commande")
        given = self._provider.kind if self._provider else None
        if given == a.kind:
            return  # the same answer again
        step = ("confirm", "refuse") if a.kind in ("confirm", "refuse") else STEP_DELIVERY
        if given in step:
            raise ValueError(f"le prestataire a déjà répondu ({given})")
        status = self._state.status
        if a.kind in ("confirm", "refuse") and status != PoolStatus.ORDERED:
            raise ValueError(f"aucune commande n'attend de confirmation (regroupement : {status})")
        if a.kind in ("delivered", "cancel_delivery") and status != PoolStatus.CONFIRMED:
            raise ValueError(f"aucune livraison n'est attendue (regroupement : {status})")
        if status in TERMINAL_POOL:
            raise ValueError("le regroupement est clos")

    @workflow.query
    def state(self) -> PoolState:
        return self._state


# --- starting it (client side: the API's commands, the demo, the tests) ---------------


async def join_pool(
    client: Client, task_queue: str, pool: PoolInput, join: JoinRequest, indexed: bool = True
) -> JoinResult:
    """A member's request joins the pool of its service and period, starting it if it is the
    first: concurrent first requests meet in one workflow (the pool's id). Raises
    WorkflowUpdateFailedError when the pool no longer takes requests, and
    WorkflowAlreadyStartedError when it has ended."""
    return await update_with_start(
        client,
        ServicePoolWorkflow.join,
        join,
        update_id=f"join-{join.request_id}",
        run=ServicePoolWorkflow.run,
        input=pool,
        id=pool.pool_id,
        task_queue=task_queue,
        search_attributes=relais_attributes(ProcessKind.POOLING, pool.service.network_id, indexed),
    )
