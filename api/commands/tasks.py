"""The task inbox: who must act, by when, and the act itself. Completing a task runs the
command of its action — the same code, checks and request ids as the action's own route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ValidationError

from api.commands import convention, onboarding, pooling, recruitment
from api.commands.base import Command, Ctx, command, refuse_role
from api.validation import field_errors
from domain import convention as conv_domain
from domain import onboarding as onb_domain
from domain import pooling as pool_domain
from domain import recruitment as rec_domain
from domain.actions import FOLLOW_UPS, TaskAction
from domain.auth import NETWORK_ROLES, Principal
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.processes import TaskPublic
from relais import metrics
from store.processes import ProcessRepository

Subject = Callable[[Ctx, TaskPublic], Awaitable[Any]]


def _after(wid: str, prefix: str) -> UUID:
    return UUID(wid.removeprefix(prefix))


def _subject(t: TaskPublic) -> UUID:
    if not t.subject_id:
        raise Conflict(
            "Cette tâche ne dit pas sur quoi elle porte ; agissez depuis la fiche du processus."
        )
    return UUID(t.subject_id)


# What a task is about, loaded as its command takes it (and as the caller may see it).
async def _referral(ctx: Ctx, t: TaskPublic) -> Any:
    return await recruitment.visible_referral(ctx, _subject(t))


async def _campaign(ctx: Ctx, t: TaskPublic) -> Any:
    return await recruitment.visible_campaign(ctx, _after(t.workflow_id, "campaign-"))


async def _request(ctx: Ctx, t: TaskPublic) -> Any:
    return await pooling.visible_request(ctx, _subject(t))


async def _pool(ctx: Ctx, t: TaskPublic) -> Any:
    return await pooling.visible_pool(ctx, t.workflow_id)


async def _convention(ctx: Ctx, t: TaskPublic) -> Any:
    return await convention.visible_convention(ctx, _after(t.workflow_id, "convention-"))


async def _onboarding(ctx: Ctx, t: TaskPublic) -> Any:
    return onboarding.visible_onboarding(ctx, _after(t.workflow_id, "onboarding-"))


@dataclass(frozen=True)
class TaskCommand:
    """A task's action: the body it takes, the command that carries it out (whose roles
    decide who may), and the object of the command, as the task names it."""

    model: type[BaseModel]
    command: Command[Any, Any]
    subject: Subject

    @property
    def takes_request_id(self) -> bool:
        return "request_id" in self.model.model_fields

    async def run(self, ctx: Ctx, t: TaskPublic, data: BaseModel) -> BaseModel:
        result: BaseModel = await self.command(ctx, await self.subject(ctx, t), data)
        return result


ACTIONS: dict[TaskAction, TaskCommand] = {
    TaskAction.ACCEPT_CHARTER: TaskCommand(
        onb_domain.CharterAcceptanceCreate, onboarding.accept_charter, _onboarding
    ),
    TaskAction.REFER_CANDIDATES: TaskCommand(
        rec_domain.ReferralCreate, recruitment.refer, _campaign
    ),
    TaskAction.SCREEN: TaskCommand(rec_domain.ScreeningCreate, recruitment.screen, _referral),
    TaskAction.REQUEST_INTERVIEW: TaskCommand(
        rec_domain.InterviewRequestCreate, recruitment.request_interview, _referral
    ),
    TaskAction.CONSENT: TaskCommand(rec_domain.ConsentCreate, recruitment.consent, _referral),
    TaskAction.DECIDE: TaskCommand(rec_domain.DecisionCreate, recruitment.decide, _referral),
    TaskAction.ACCEPT_QUOTE: TaskCommand(
        pool_domain.QuoteAnswerCreate, pooling.answer_quote, _request
    ),
    TaskAction.RATE: TaskCommand(pool_domain.RatingCreate, pooling.rate, _request),
    TaskAction.CONFIRM_ORDER: TaskCommand(
        pool_domain.ProviderAnswerCreate, pooling.answer_order, _pool
    ),
    TaskAction.DELIVER: TaskCommand(pool_domain.DeliveryCreate, pooling.report_delivery, _pool),
    TaskAction.SIGN_CONVENTION: TaskCommand(
        conv_domain.SignatureCreate, convention.sign, _convention
    ),
    TaskAction.REVIEW_CONVENTION: TaskCommand(
        conv_domain.ReviewCreate, convention.review, _convention
    ),
    TaskAction.DECIDE_CONVENTION: TaskCommand(
        conv_domain.DecisionCreate, convention.decide, _convention
    ),
}


def action_of(t: TaskPublic) -> TaskCommand | None:
    """The command a task's action runs (None for a follow-up done outside Relais)."""
    try:
        return ACTIONS.get(TaskAction(t.action))
    except ValueError:
        return None


def assigned_to(p: Principal, t: TaskPublic) -> bool:
    """The assignee organisation's users of the assigned role; in the network, any of its
    roles (a manager may screen for the staff)."""
    if p.organisation_id != t.assignee_organisation_id:
        return False
    return p.role == t.assignee_role or (
        p.role in NETWORK_ROLES and t.assignee_role in NETWORK_ROLES
    )


def may_complete(p: Principal, t: TaskPublic) -> bool:
    """Whether the task's form is the caller's: assigned to them, and its command's roles
    let them act."""
    action = action_of(t)
    return assigned_to(p, t) and (action is None or action.command.allows(p))


# --- reads -----------------------------------------------------------------------------


async def open_tasks(
    ctx: Ctx, *, overdue: bool = False, limit: int = 100, offset: int = 0
) -> list[TaskPublic]:
    """Open tasks for the caller's organisation and role (every open task for the network),
    soonest due first; `overdue` keeps those past due."""
    p = ctx.principal
    org, role = (None, None) if p.sees_everything else (p.organisation_id, p.role.value)
    return await ProcessRepository(ctx.conn).open_tasks(
        org, role, overdue=overdue, limit=limit, offset=offset
    )


async def visible_task(ctx: Ctx, task_id: UUID) -> TaskPublic:
    task = await ProcessRepository(ctx.conn).task(task_id)
    p = ctx.principal
    if task is None or not (
        p.sees_everything or task.assignee_organisation_id == p.organisation_id
    ):
        raise NotFound.of("Tâche")
    return task


# --- the act ---------------------------------------------------------------------------


@command(audited=False)
async def complete_task(ctx: Ctx, t: TaskPublic, data: dict[str, Any]) -> BaseModel:
    """Carry out an open task the caller may see (API and pages alike): who may act, the
    action's data, then its command."""
    if t.closed_at is not None:
        raise Conflict("Cette tâche est déjà close.")
    p = ctx.principal
    if not assigned_to(p, t):
        raise Forbidden("Cette tâche est confiée à une autre organisation ou à un autre rôle.")
    action = action_of(t)
    if action is None:
        reason = (
            "Cette relance se fait hors de Relais ; la tâche se ferme d'elle-même quand la "
            "personne attendue agit."
            if t.action in FOLLOW_UPS
            else f"Cette tâche ({t.action}) ne se complète pas depuis la boîte de tâches."
        )
        raise Conflict(reason)
    if not action.command.allows(p):
        raise refuse_role(action.command.roles, p)
    try:
        body = action.model.model_validate(data)
    except ValidationError as err:
        # The same sentences as the action's own route, fields under `data`.
        raise invalid_data(err, prefix=("data",)) from None
    result = await action.run(ctx, t, body)
    metrics.counter("relais_tasks_completed", "Tasks completed from the inbox").add(
        1, {"action": t.action}
    )
    return result


def invalid_data(err: ValidationError, prefix: tuple[str, ...] = ()) -> Invalid:
    return Invalid.of(field_errors(err.errors(), prefix))
