"""Completing a task from the inbox: each task's action maps to the update its workflow
takes, through the same code as the action's own route (same checks, same request ids)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from fastapi import HTTPException, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from temporalio.client import Client

from api.routes import convention, onboarding, pooling, recruitment
from domain import convention as conv_domain
from domain import onboarding as onb_domain
from domain import pooling as pool_domain
from domain import recruitment as rec_domain
from domain.auth import NETWORK_ROLES, Principal, Role
from domain.processes import TaskPublic
from relais import metrics
from relais.settings import Settings
from store.crypto import Sealer


@dataclass(frozen=True)
class Acting:
    """Who completes a task, with what the action's route needs."""

    pool: asyncpg.Pool
    client: Client
    settings: Settings
    sealer: Sealer
    principal: Principal


Run = Callable[[Acting, TaskPublic, Any], Awaitable[Any]]


@dataclass(frozen=True)
class TaskAction:
    model: type[BaseModel]
    run: Run
    label: str  # what the person does, for forms and the list of actions
    # The roles the action's own route lets through (its `require` does not run here).
    roles: frozenset[Role] = frozenset(Role)


def _after(wid: str, prefix: str) -> UUID:
    return UUID(wid.removeprefix(prefix))


def _subject(t: TaskPublic) -> UUID:
    if not t.subject_id:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "Cette tâche ne dit pas sur quoi elle porte ; agissez depuis la fiche du processus.",
        )
    return UUID(t.subject_id)


def _referral(kind: str) -> Run:
    route = {
        "screen": recruitment.screen,
        "request_interview": recruitment.request_interview,
        "consent": recruitment.record_consent,
        "decide": recruitment.decide,
    }[kind]
    return lambda a, t, d: route(_subject(t), d, a.pool, a.client, a.principal)


def _convention(route) -> Run:
    return lambda a, t, d: route(
        _after(t.workflow_id, "convention-"), d, a.pool, a.client, a.principal
    )


NETWORK = frozenset(NETWORK_ROLES)
MEMBER_SIDE = frozenset({Role.ADMIN, Role.STAFF, Role.MEMBER})
PROVIDER_SIDE = frozenset({Role.ADMIN, Role.STAFF, Role.PARTNER})
MANAGERS = frozenset({Role.ADMIN, Role.MANAGER})

ACTIONS: dict[str, TaskAction] = {
    "accept_charter": TaskAction(
        onb_domain.CharterAcceptanceCreate,
        lambda a, t, d: onboarding.accept_charter(
            _after(t.workflow_id, "onboarding-"), d, a.client, a.principal
        ),
        "Accepter la charte du réseau",
        MEMBER_SIDE,
    ),
    "refer_candidates": TaskAction(
        rec_domain.ReferralCreate,
        lambda a, t, d: recruitment.refer_candidate(
            _after(t.workflow_id, "campaign-"),
            d,
            a.pool,
            a.client,
            a.settings,
            a.sealer,
            a.principal,
        ),
        "Proposer un candidat",
        frozenset({Role.AGENCY}),
    ),
    "screen": TaskAction(
        rec_domain.ScreeningCreate, _referral("screen"), "Trier la candidature", NETWORK
    ),
    "request_interview": TaskAction(
        rec_domain.InterviewRequestCreate,
        _referral("request_interview"),
        "Demander un entretien",
        NETWORK | {Role.MEMBER},
    ),
    "consent": TaskAction(
        rec_domain.ConsentCreate,
        _referral("consent"),
        "Transmettre le consentement du candidat",
        frozenset({Role.ADMIN, Role.STAFF, Role.AGENCY}),
    ),
    "decide": TaskAction(
        rec_domain.DecisionCreate,
        _referral("decide"),
        "Décider (embauche ou non)",
        NETWORK | {Role.MEMBER},
    ),
    "accept_quote": TaskAction(
        pool_domain.QuoteAnswerCreate,
        lambda a, t, d: pooling.answer_quote(_subject(t), d, a.pool, a.client, a.principal),
        "Accepter ou refuser le devis",
        MEMBER_SIDE,
    ),
    "rate": TaskAction(
        pool_domain.RatingCreate,
        lambda a, t, d: pooling.rate_service(_subject(t), d, a.pool, a.client, a.principal),
        "Évaluer le service",
        MEMBER_SIDE,
    ),
    "confirm_order": TaskAction(
        pool_domain.ProviderAnswerCreate,
        lambda a, t, d: pooling.answer_order(t.workflow_id, d, a.pool, a.client, a.principal),
        "Confirmer ou refuser la commande",
        PROVIDER_SIDE,
    ),
    "deliver": TaskAction(
        pool_domain.DeliveryCreate,
        lambda a, t, d: pooling.report_delivery(t.workflow_id, d, a.pool, a.client, a.principal),
        "Déclarer la livraison",
        PROVIDER_SIDE,
    ),
    "sign_convention": TaskAction(
        conv_domain.SignatureCreate, _convention(convention.sign), "Signer la convention"
    ),
    "review_convention": TaskAction(
        conv_domain.ReviewCreate, _convention(convention.review), "Revue à mi-parcours", MANAGERS
    ),
    "decide_convention": TaskAction(
        conv_domain.DecisionCreate,
        _convention(convention.decide),
        "Renouveler ou clore",
        MANAGERS,
    ),
}
# Follow-ups (relancer un employeur, des signataires) are done outside Relais: their task
# closes by itself when the awaited person acts.
FOLLOW_UPS = frozenset({"follow_up", "chase_signatures"})


def may_complete(p: Principal, t: TaskPublic) -> bool:
    """The assignee organisation's users of the assigned role; in the network, any of its
    roles (a manager may screen for the staff)."""
    if p.organisation_id != t.assignee_organisation_id:
        return False
    return p.role == t.assignee_role or (
        p.role in NETWORK_ROLES and t.assignee_role in NETWORK_ROLES
    )


async def complete_task(a: Acting, t: TaskPublic, data: dict[str, Any]) -> dict[str, Any] | None:
    """Carry out an open task the caller may see (API and dashboard alike): who may act, the
    action's data, then its route's code."""
    if t.closed_at is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, "Cette tâche est déjà close.")
    if not may_complete(a.principal, t):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Cette tâche est confiée à une autre organisation ou à un autre rôle.",
        )
    action = ACTIONS.get(t.action)
    if action is None:
        reason = (
            "Cette relance se fait hors de Relais ; la tâche se ferme d'elle-même quand la "
            "personne attendue agit."
            if t.action in FOLLOW_UPS
            else f"Cette tâche ({t.action}) ne se complète pas depuis la boîte de tâches."
        )
        raise HTTPException(status.HTTP_409_CONFLICT, reason)
    if a.principal.role not in action.roles:
        names = ", ".join(sorted(r.value for r in action.roles))
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"Action réservée aux rôles : {names} (votre rôle : {a.principal.role.value}).",
        )
    try:
        body = action.model.model_validate(data)
    except ValidationError as err:
        # The same sentence as the action's own route would give, fields under `data`.
        raise RequestValidationError(
            [{**e, "loc": ("body", "data", *e["loc"])} for e in err.errors()]
        ) from None
    result = await action.run(a, t, body)
    metrics.counter("relais_tasks_completed", "Tasks completed from the inbox").add(
        1, {"action": t.action}
    )
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, JSONResponse):  # a referral's registration
        return json.loads(bytes(result.body))
    return result if isinstance(result, dict) else None
