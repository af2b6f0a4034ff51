"""Convention acts: the network launches a convention, each party's signatory signs,
managers amend, review, renew or close (or cancel a phase not yet begun), the network records
expenses and asks for a KPI snapshot. A party's users see the conventions they are party to;
the network sees every one."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from temporalio.client import WorkflowHandle, WorkflowQueryFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.commands import limits
from api.commands.base import MANAGERS, NETWORK, Ctx, act_id, command, send_update
from domain.common import Page
from domain.convention import (
    Amendment,
    AmendmentCreate,
    AmendmentLine,
    Cancel,
    CancelCreate,
    ConventionCreate,
    ConventionInput,
    ConventionPublic,
    ConventionState,
    ConventionStep,
    Decision,
    DecisionCreate,
    Evaluation,
    Expense,
    ExpenseCreate,
    ExpenseLine,
    KpiSnapshot,
    Review,
    ReviewCreate,
    SignatureAct,
    SignatureCreate,
    SnapshotAsk,
    convention_workflow_id,
    evaluation_csv_rows,
)
from domain.csv_export import csv_text
from domain.errors import Forbidden, Invalid, NotFound, Unavailable
from domain.processes import TaskPublic
from store.convention import ConventionRepository, Signatory
from store.processes import ProcessRepository
from workflows.convention import ConventionWorkflow, start_convention

CONVENTION_NS = uuid.UUID("8d3f6b1e-2a4c-4e8b-9f10-7c5d2e6a9b31")
CLOSED = "Cette convention est close : plus aucune action n'y est possible."


def convention_id_for(network_id: UUID, request_id: str) -> UUID:
    return uuid.uuid5(CONVENTION_NS, f"{network_id}:{request_id}")


async def visible_convention(ctx: Ctx, convention_id: UUID) -> ConventionPublic:
    conv = await ConventionRepository(ctx.conn).get(convention_id)
    p = ctx.principal
    if conv is None or not (
        p.sees_everything or any(x.organisation_id == p.organisation_id for x in conv.parties)
    ):
        raise NotFound.of("Convention")
    return conv


async def list_conventions(
    ctx: Ctx, status: ConventionStep | None, limit: int, offset: int
) -> Page[ConventionPublic]:
    return await ConventionRepository(ctx.conn).list(ctx.principal.scope, status, limit, offset)


async def signatory_choices(ctx: Ctx, organisation_ids: list[UUID]) -> list[Signatory]:
    """Who may be named to sign for these organisations, for the network preparing a
    convention (a party's signatory is one of its own people)."""
    if not ctx.principal.sees_everything:
        raise Forbidden("Réservé à l'équipe du réseau.")
    return await ConventionRepository(ctx.conn).signatory_choices(organisation_ids)


async def expenses(ctx: Ctx, conv: ConventionPublic, phase: int) -> list[ExpenseLine]:
    """The expenses recorded against a phase (the network's and the parties' to read)."""
    return await ConventionRepository(ctx.conn).expenses(conv.id, phase)


async def amendments(ctx: Ctx, conv: ConventionPublic) -> list[AmendmentLine]:
    return await ConventionRepository(ctx.conn).amendments(conv.workflow_id)


async def open_tasks(ctx: Ctx, conv: ConventionPublic) -> list[TaskPublic]:
    """The convention's tasks still open (whoever they are for: the caller's inbox says
    which the caller may complete)."""
    tasks = await ProcessRepository(ctx.conn).tasks_of(conv.workflow_id)
    return [t for t in tasks if t.closed_at is None]


def _handle(ctx: Ctx, convention_id: UUID) -> WorkflowHandle[ConventionWorkflow, Any]:
    return ctx.client.get_workflow_handle_for(
        ConventionWorkflow.run, convention_workflow_id(convention_id)
    )


async def live_state(ctx: Ctx, conv: ConventionPublic) -> ConventionState:
    """The current phase as its workflow holds it."""
    try:
        state: ConventionState = await _handle(ctx, conv.id).query(ConventionWorkflow.state)
        return state
    except (RPCError, WorkflowQueryFailedError):
        raise Unavailable("État en direct indisponible, réessayez.") from None


async def snapshots(ctx: Ctx, conv: ConventionPublic, phase: int | None) -> list[KpiSnapshot]:
    return await ConventionRepository(ctx.conn).snapshots(conv.id, phase or conv.phase_number)


def evaluation(conv: ConventionPublic, phase: int | None) -> Evaluation:
    """A phase's evaluation (the latest evaluated by default)."""
    evaluated = [ph for ph in conv.phases if ph.evaluation is not None]
    chosen = [ph for ph in evaluated if phase in (None, ph.number)]
    if not chosen or chosen[-1].evaluation is None:
        which = f"La phase {phase}" if phase else "Aucune phase"
        raise NotFound(f"{which} n'est pas encore évaluée.")
    return chosen[-1].evaluation


async def evaluation_csv(ctx: Ctx, conv: ConventionPublic, phase: int | None) -> tuple[str, str]:
    """The evaluation as a CSV file (for the JSON API and the printable page alike): its
    name and its text."""
    await limits.reports(ctx)
    e = evaluation(conv, phase)
    text = csv_text(evaluation_csv_rows(conv.title, e))
    return f"evaluation-{conv.id}-phase-{e.phase_number}.csv", text


async def _send(ctx: Ctx, conv: ConventionPublic, update: Any, arg: Any, **kwargs: Any) -> Any:
    return await send_update(
        _handle(ctx, conv.id),
        update,
        arg,
        **kwargs,
        closed=CLOSED,
        refused="Action impossible : {}.",
    )


@command(*NETWORK)
async def create(ctx: Ctx, data: ConventionCreate) -> ConventionPublic:
    """A new convention and its first phase; every party's signatory gets a task to sign.
    `request_id` is the idempotency key: the same request again answers the same convention."""
    parties = await ConventionRepository(ctx.conn).check_parties(data.parties)
    if isinstance(parties, str):
        raise Invalid("parties", f"{parties}.")
    network_id = ctx.principal.organisation_id
    convention_id = convention_id_for(network_id, data.request_id)
    phase = data.phase.model_copy(update={"number": data.phase.number or 1})
    try:
        await start_convention(
            ctx.client,
            ctx.task_queue,
            ConventionInput(
                convention_id=convention_id,
                network_id=network_id,
                created_by=ctx.principal.user_id,
                title=data.title,
                territory=data.territory,
                parties=parties,
                phase=phase,
                reminder_days=data.reminder_days,
                escalate_after=data.escalate_after,
                snapshot_months=data.snapshot_months,
            ),
            request_id=f"{network_id}:{data.request_id}",
        )
    except WorkflowAlreadyStartedError:
        pass  # a retry of a launch whose convention has ended: the store has it
    return await visible_convention(ctx, convention_id)


@command(audited=False)
async def sign(ctx: Ctx, conv: ConventionPublic, data: SignatureCreate) -> ConventionState:
    """The caller signs the current phase for its organisation (its parties' signatories
    only). Signing again changes nothing."""
    p = ctx.principal
    if not any(x.signatory_id == p.user_id for x in conv.parties):
        raise Forbidden("Vous n'êtes pas signataire de cette convention.")
    state: ConventionState = await _send(
        ctx,
        conv,
        ConventionWorkflow.sign,
        SignatureAct(user_id=p.user_id, organisation_id=p.organisation_id),
    )
    return state


@command(*MANAGERS, audited=False)
async def amend(ctx: Ctx, conv: ConventionPublic, data: AmendmentCreate) -> ConventionState:
    """Targets or annual budget of the running phase (recorded in the audit trail)."""
    state: ConventionState = await _send(
        ctx,
        conv,
        ConventionWorkflow.amend,
        Amendment(**data.model_dump(), user_id=ctx.principal.user_id),
    )
    return state


@command(*NETWORK, audited=False)
async def add_expense(ctx: Ctx, conv: ConventionPublic, data: ExpenseCreate) -> ConventionState:
    """An expense against the phase's budget."""
    state: ConventionState = await _send(
        ctx,
        conv,
        ConventionWorkflow.record_expense,
        Expense(**data.model_dump(), user_id=ctx.principal.user_id),
    )
    return state


@command(*NETWORK, audited=False)
async def refresh_kpis(ctx: Ctx, conv: ConventionPublic) -> KpiSnapshot:
    """Count the KPIs now, without waiting for the month's snapshot."""
    await limits.snapshots(ctx)
    snapshot: KpiSnapshot = await _send(
        ctx, conv, ConventionWorkflow.refresh, SnapshotAsk(user_id=ctx.principal.user_id)
    )
    return snapshot


@command(*MANAGERS)
async def review(ctx: Ctx, conv: ConventionPublic, data: ReviewCreate) -> ConventionState:
    """The mid-phase review's note."""
    state: ConventionState = await _send(
        ctx, conv, ConventionWorkflow.review, Review(note=data.note, user_id=ctx.principal.user_id)
    )
    return state


@command(*MANAGERS)
async def decide(ctx: Ctx, conv: ConventionPublic, data: DecisionCreate) -> ConventionState:
    """After the evaluation: renew into the next phase (it then awaits its signatures) or
    close the convention."""
    decision = Decision(**data.model_dump(), user_id=ctx.principal.user_id)
    state: ConventionState = await _send(
        ctx, conv, ConventionWorkflow.decide, decision, id=act_id("decide", decision)
    )
    return state


@command(*MANAGERS)
async def cancel(ctx: Ctx, conv: ConventionPublic, data: CancelCreate) -> ConventionState:
    """Abandon a phase not yet begun (awaiting signatures, or signed before its start)."""
    act = Cancel(reason=data.reason, user_id=ctx.principal.user_id)
    state: ConventionState = await _send(
        ctx, conv, ConventionWorkflow.cancel, act, id=act_id("cancel", act)
    )
    return state
