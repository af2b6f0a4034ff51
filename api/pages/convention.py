"""Conventions as people see them: the list, a new convention (its parties and their
signatories chosen in two steps, without JavaScript), a convention's page (its content above
the signature, targets against actuals, the KPIs over time, budget and expenses, amendments,
earlier phases, the tasks of the person reading it) and the printable evaluation. Every act is
its command; the signature, the review and the decision are the convention's tasks."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.commands import convention as conv
from api.commands import processes as procs
from api.commands import tasks as inbox
from api.commands.base import Command, Ctx
from api.deps import PageContext, PrintableContext
from api.errors import describe
from api.pages import picker
from api.pages.formats import cents_from_euros
from api.pages.forms import new_request_id
from api.pages.render import PAGE_SIZE, page
from api.validation import field_errors
from domain.convention import (
    PARTY_ROLE_LABELS,
    AmendmentCreate,
    ConventionCreate,
    ConventionPublic,
    ConventionStep,
    Evaluation,
    ExpenseCreate,
    KpiKey,
    KpiSnapshot,
    PartyRole,
    next_phase_dates,
)
from domain.csv_export import MEDIA_TYPE as CSV_MEDIA_TYPE
from domain.errors import FieldError, Unavailable
from domain.labels import CONVENTION_STEP_LABELS, KPI_PAGE_LABELS
from domain.organisations import OrganisationFilter

router = APIRouter(include_in_schema=False)

LIVE_SECONDS = 4  # the workflow's answer is waited for so long, then the page goes without
PARTY_ROWS = 5  # rows of parties the new convention's form offers
PARTIES = OrganisationFilter()  # the organisations a party row picks from
CREATED = "Convention créée, les signataires ont leur tâche"
INVESTMENT = KpiKey.INVESTMENT_CENTS.value  # a KPI typed and read in euros
LABELS = {
    "steps": CONVENTION_STEP_LABELS,
    "kpis": KPI_PAGE_LABELS,
    "party_roles": PARTY_ROLE_LABELS,
}


def _bars(e: Evaluation) -> list[dict[str, Any]]:
    """Targeted KPIs as bar widths (percent of the larger of target and actual)."""
    out = []
    for line in e.lines:
        if line.target is None:
            continue
        top = max(line.target, line.actual, 1)
        out.append(
            {
                "key": line.key.value,
                "label": KPI_PAGE_LABELS[line.key],
                "target": line.target,
                "actual": line.actual,
                "percent": line.percent,
                "target_w": round(100 * line.target / top, 1),
                "actual_w": round(100 * line.actual / top, 1),
            }
        )
    return out


def progress(targets: dict[KpiKey, int], actuals: dict[KpiKey, int]) -> list[dict[str, Any]]:
    """Each target against what is done so far, as bar widths (of the larger of the two)."""
    out = []
    for key, target in targets.items():
        actual = actuals.get(key, 0)
        top = max(target, actual, 1)
        out.append(
            {
                "key": key.value,
                "target": target,
                "actual": actual,
                "percent": round(100 * actual / target, 1) if target else None,
                "target_w": 100 * target / top,
                "actual_w": 100 * actual / top,
            }
        )
    return out


# The KPIs over time: one small chart per measure, drawn server-side as SVG.
CHART_W, CHART_H, PAD = 320, 120, 8


def kpi_charts(
    starts_on: date, ends_on: date, targets: dict[KpiKey, int], snaps: list[KpiSnapshot]
) -> list[dict[str, Any]]:
    """Per targeted KPI (and any other that moved): its points from the phase's first day to
    its last, the target as a line; the figures go in the chart's text too."""
    days = max((ends_on - starts_on).days, 1)
    keys = list(targets) + [
        k for k in KpiKey if k not in targets and any(s.actuals.get(k, 0) for s in snaps)
    ]
    charts = []
    for key in keys:
        values = [(s.as_of, s.actuals.get(key, 0)) for s in snaps]
        top = max([targets.get(key, 0), *(v for _, v in values), 1])

        def x(d: date) -> float:
            return round(
                PAD + (CHART_W - 2 * PAD) * min(max((d - starts_on).days, 0), days) / days, 1
            )

        def y(v: int, top: int = top) -> float:
            return round(CHART_H - PAD - (CHART_H - 2 * PAD) * v / top, 1)

        points = [{"x": x(d), "y": y(v), "as_of": d, "value": v} for d, v in values]
        charts.append(
            {
                "key": key.value,
                "target": targets.get(key),
                "target_y": y(targets[key]) if key in targets else None,
                "points": points,
                "line": " ".join(f"{p['x']},{p['y']}" for p in points),
                "last": values[-1][1] if values else 0,
            }
        )
    return charts


def _message(request: Request, me: Any, text: str, code: int) -> HTMLResponse:
    return page(request, "message.html", {"me": me, "message": text}, code)


async def _refused(request: Request, ctx: Ctx, err: Exception) -> HTMLResponse:
    refusal = describe(err)
    if refusal is None:
        raise err
    return _message(request, await procs.me(ctx), refusal.detail, refusal.status_code)


# --- the list ------------------------------------------------------------------------------


@router.get("/conventions", response_class=HTMLResponse)
async def conventions_page(
    request: Request, ctx: PageContext, offset: Annotated[int, Query(ge=0, le=10**6)] = 0
) -> Response:
    found = await conv.list_conventions(ctx, None, limit=PAGE_SIZE, offset=offset)
    return page(
        request,
        "conventions.html",
        {
            "me": await procs.me(ctx),
            "found": found,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "may_create": conv.create.allows(ctx.principal),
            **LABELS,
        },
    )


# --- a new convention ----------------------------------------------------------------------


def draft_of(form: dict[str, Any]) -> dict[str, Any]:
    """What the person typed, as text, to show again."""
    text = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    parties = [
        {
            "org": text.get(f"party_{i}_org", ""),
            "org_text": text.get(f"party_{i}_org_texte", ""),
            "role": text.get(f"party_{i}_role", ""),
            "signatory": text.get(f"party_{i}_signatory", ""),
        }
        for i in range(PARTY_ROWS)
    ]
    return {
        "request_id": text.get("request_id") or new_request_id(),
        "title": text.get("title", ""),
        "territory": text.get("territory", ""),
        "parties": parties,
        "starts_on": text.get("starts_on", ""),
        "ends_on": text.get("ends_on", ""),
        "budget": text.get("budget", ""),
        "targets": {k.value: text.get(f"target_{k.value}", "") for k in KpiKey},
        "priorities": text.get("priorities", ""),
    }


def body_of(draft: dict[str, Any]) -> dict[str, Any]:
    """The draft as the JSON the command's model takes (empty party rows and targets left
    out, euros to cents)."""
    targets: dict[str, Any] = {k: v for k, v in draft["targets"].items() if v != ""}
    if INVESTMENT in targets:
        targets[INVESTMENT] = cents_from_euros(targets[INVESTMENT])
    phase: dict[str, Any] = {
        "starts_on": draft["starts_on"] or None,
        "ends_on": draft["ends_on"] or None,
        "annual_budget_cents": cents_from_euros(draft["budget"]) if draft["budget"] else None,
        "targets": targets,
        "priorities": [p.strip() for p in draft["priorities"].splitlines() if p.strip()],
    }
    return {
        "request_id": draft["request_id"],
        "title": draft["title"],
        "territory": draft["territory"],
        "parties": [
            {"organisation_id": p["org"], "role": p["role"], "signatory_id": p["signatory"] or None}
            for p in draft["parties"]
            if p["org"]
        ],
        "phase": phase,
    }


def field_of(error: FieldError, draft: dict[str, Any]) -> str:
    """Which field of the form an error of the model belongs to."""
    parts = error.field.split(".")
    if parts[0] == "parties" and len(parts) > 1 and parts[1].isdigit():
        # The n-th party sent is the n-th filled row of the form.
        filled = [i for i, p in enumerate(draft["parties"]) if p["org"]]
        n = int(parts[1])
        return f"party_{filled[n]}" if n < len(filled) else "parties"
    if parts[0] == "phase":
        rest = parts[1:]
        if not rest:
            return "ends_on"  # the phase's own rule: its dates
        return {
            "starts_on": "starts_on",
            "ends_on": "ends_on",
            "annual_budget_cents": "budget",
            "priorities": "priorities",
        }.get(rest[0], f"target_{rest[1]}" if rest[0] == "targets" and len(rest) > 1 else "form")
    return parts[0] if parts[0] in ("title", "territory", "parties") else "form"


async def _new_form(
    request: Request,
    ctx: Ctx,
    draft: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    unsettled: dict[int, picker.Pick] | None = None,
) -> HTMLResponse:
    # Each row's organisation: a list, or a search (its matches when it did not settle).
    fields = [(f"party_{i}_org", p["org"], p["org_text"]) for i, p in enumerate(draft["parties"])]
    pickers = await picker.picks(ctx, PARTIES, fields)
    for i, found in (unsettled or {}).items():
        pickers[i] = found
    chosen = [UUID(p["org"]) for p in draft["parties"] if _is_uuid(p["org"])]
    people = await conv.signatory_choices(ctx, chosen) if chosen else []
    by_org: dict[str, list[Any]] = {}
    for person in people:
        by_org.setdefault(str(person.organisation_id), []).append(person)
    return page(
        request,
        "convention_new.html",
        {
            "me": await procs.me(ctx),
            "d": draft,
            "errors": errors or {},
            "pickers": pickers,
            "signatories": by_org,
            "party_roles_list": [(r.value, PARTY_ROLE_LABELS[r.value]) for r in PartyRole],
            "kpi_keys": [k.value for k in KpiKey],
            "ready": bool(chosen),
            **LABELS,
        },
        status_code,
    )


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


@router.get("/conventions/nouvelle", response_class=HTMLResponse)
async def new_convention_page(request: Request, ctx: PageContext) -> Response:
    if not conv.create.allows(ctx.principal):
        return _message(
            request, await procs.me(ctx), "Réservé à l'équipe et à la direction du réseau.", 403
        )
    return await _new_form(request, ctx, draft_of({}))


@router.post("/conventions/nouvelle", response_class=HTMLResponse)
async def create_convention(request: Request, ctx: PageContext) -> Response:
    if not conv.create.allows(ctx.principal):
        return _message(
            request, await procs.me(ctx), "Réservé à l'équipe et à la direction du réseau.", 403
        )
    form = dict(await request.form())
    draft = draft_of(form)
    # Each party's organisation found by its name where one was typed, at either step.
    unsettled: dict[int, picker.Pick] = {}
    for i, party in enumerate(draft["parties"]):
        name = f"party_{i}_org"
        left, org = await picker.resolve(ctx, PARTIES, name, party["org"], party["org_text"])
        if left is not None:
            unsettled[i] = left
        party["org"] = org or ""
    if unsettled:
        said = {f"party_{i}_org": picker.refusal(p) for i, p in unsettled.items()}
        return await _new_form(request, ctx, draft, said, 422, unsettled)
    if form.get("etape") != "creer":  # « suivant »: each party's people to choose from
        return await _new_form(request, ctx, draft)
    try:
        data = ConventionCreate.model_validate(body_of(draft))
        created = await conv.create(ctx, data)
    except ValidationError as err:
        found = field_errors(err.errors())
        return await _new_form(request, ctx, draft, _by_field(found, draft), 422)
    except Exception as err:
        refusal = describe(err)
        if refusal is None:
            raise
        if refusal.errors:
            return await _new_form(
                request, ctx, draft, _by_field(refusal.errors, draft), refusal.status_code
            )
        return await _new_form(request, ctx, draft, {"form": refusal.detail}, refusal.status_code)
    return RedirectResponse(
        f"/conventions/{created.id}?{urlencode({'fait': CREATED})}",
        status.HTTP_303_SEE_OTHER,
    )


def _by_field(found: list[FieldError], draft: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in found:
        key = field_of(e, draft)
        out[key] = f"{out[key]} ; {e.message}" if key in out else e.message
    return out


# --- one convention ------------------------------------------------------------------------


async def _convention_page(
    request: Request,
    ctx: Ctx,
    found: ConventionPublic,
    done: str | None = None,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    p = ctx.principal
    current = found.phases[-1]
    earlier = found.phases[:-1]
    snapshot = (
        found.latest_snapshot
        if found.latest_snapshot and found.latest_snapshot.phase_number == current.number
        else None
    )
    snaps = await conv.snapshots(ctx, found, current.number)
    expenses = await conv.expenses(ctx, found, current.number)
    tasks = [t for t in await conv.open_tasks(ctx, found) if inbox.may_complete(p, t)]
    # What each task's form needs (as « Mes tâches » gives it): the convention, whose
    # content this page shows above the tasks, and a request id where the act takes one.
    forms: dict[UUID, dict[str, Any]] = {}
    for t in tasks:
        action = inbox.action_of(t)
        forms[t.id] = {
            "convention": found,
            "kpis": KPI_PAGE_LABELS,
            "content_shown": True,
            "next_phase": next_phase_dates(
                current.starts_on, current.ends_on, datetime.now(UTC).date()
            ),
        }
        if action is not None and action.takes_request_id:
            forms[t.id]["request_id"] = new_request_id()
    step = current.status
    try:  # the mid-phase review's note, as the phase's workflow holds it
        async with asyncio.timeout(LIVE_SECONDS):
            live = await conv.live_state(ctx, found)
    except (Unavailable, TimeoutError):
        live = None
    reviewed = live if live and live.phase.number == current.number and live.reviewed_at else None
    return page(
        request,
        "convention.html",
        {
            "me": await procs.me(ctx),
            "c": found,
            "phase": current,
            "earlier": earlier,
            "signed": {s.organisation_id: s for s in current.signatures},
            "snapshot": snapshot,
            "progress": progress(current.targets, snapshot.actuals if snapshot else {}),
            "charts": kpi_charts(current.starts_on, current.ends_on, current.targets, snaps),
            "chart_w": CHART_W,
            "chart_h": CHART_H,
            "expenses": expenses,
            "used_cents": sum(e.amount_cents for e in expenses),
            "amendments": [a for a in await conv.amendments(ctx, found)],
            "tasks": tasks,
            "forms": forms,
            "reviewed": reviewed,
            "done": done,
            "typed": typed or {},
            "errors": errors or {},
            "may_expense": conv.add_expense.allows(p)
            and step in (ConventionStep.SIGNED, ConventionStep.ACTIVE, ConventionStep.EVALUATING),
            "may_amend": conv.amend.allows(p)
            and step in (ConventionStep.SIGNED, ConventionStep.ACTIVE),
            "may_snapshot": conv.refresh_kpis.allows(p) and step == ConventionStep.ACTIVE,
            "request_id": new_request_id(),
            "kpi_keys": [k.value for k in KpiKey],
            "today": date.today(),
            **LABELS,
        },
        status_code,
    )


@router.get("/conventions/{convention_id}", response_class=HTMLResponse)
async def convention_page(
    request: Request, convention_id: UUID, ctx: PageContext, fait: str | None = None
) -> Response:
    try:
        found = await conv.visible_convention(ctx, convention_id)
    except Exception as err:
        return await _refused(request, ctx, err)
    return await _convention_page(request, ctx, found, done=fait)


async def _act(request: Request, ctx: Ctx, convention_id: UUID, which: str, done: str) -> Response:
    """One of the network's forms on a convention's page: its command, then back to the page
    (or the page again with what was typed and the reason beside the field)."""
    cmds: dict[str, Command[Any, Any]] = {"expense": conv.add_expense, "amend": conv.amend}
    # Who may, before which convention and what was sent (as the JSON routes answer).
    if not cmds.get(which, conv.refresh_kpis).allows(ctx.principal):
        return _message(request, await procs.me(ctx), "Action réservée au réseau.", 403)
    try:
        found = await conv.visible_convention(ctx, convention_id)
    except Exception as err:
        return await _refused(request, ctx, err)
    form = {k: str(v).strip() for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        if which == "expense":
            await conv.add_expense(
                ctx,
                found,
                ExpenseCreate.model_validate(
                    {
                        "request_id": form.get("request_id", ""),
                        "amount_cents": cents_from_euros(form.get("amount", "")),
                        "label": form.get("label", ""),
                        "spent_on": form.get("spent_on") or None,
                    }
                ),
            )
        elif which == "amend":
            targets: dict[str, Any] = {
                k.removeprefix("target_"): v
                for k, v in form.items()
                if k.startswith("target_") and v != ""
            }
            if INVESTMENT in targets:
                targets[INVESTMENT] = cents_from_euros(targets[INVESTMENT])
            budget = form.get("budget", "")
            await conv.amend(
                ctx,
                found,
                AmendmentCreate.model_validate(
                    {
                        "request_id": form.get("request_id", ""),
                        "targets": targets,
                        "annual_budget_cents": cents_from_euros(budget) if budget else None,
                        "reason": form.get("reason", ""),
                    }
                ),
            )
        else:
            await conv.refresh_kpis(ctx, found)
    except ValidationError as err:
        return await _convention_page(
            request, ctx, found, None, form, _act_errors(which, field_errors(err.errors())), 422
        )
    except Exception as err:
        refusal = describe(err)
        if refusal is None:
            raise
        errors = _act_errors(which, refusal.errors) if refusal.errors else {which: refusal.detail}
        return await _convention_page(request, ctx, found, None, form, errors, refusal.status_code)
    return RedirectResponse(
        f"/conventions/{convention_id}?{urlencode({'fait': done})}", status.HTTP_303_SEE_OTHER
    )


EXPENSE_FIELDS = {"amount_cents": "amount", "label": "label", "spent_on": "spent_on"}


def _act_errors(which: str, found: list[FieldError]) -> dict[str, str]:
    """The errors of one act's form, by its field (`<act>-<field>`; `<act>` for the form)."""
    out: dict[str, str] = {}
    for e in found:
        parts = e.field.split(".")
        if which == "expense" and parts[0] in EXPENSE_FIELDS:
            key = f"expense-{EXPENSE_FIELDS[parts[0]]}"
        elif which == "amend" and parts[0] == "targets" and len(parts) > 1:
            key = f"amend-target_{parts[1]}"
        elif which == "amend" and parts[0] in ("reason", "annual_budget_cents"):
            key = "amend-reason" if parts[0] == "reason" else "amend-budget"
        else:
            key = which
        out[key] = f"{out[key]} ; {e.message}" if key in out else e.message
    return out


@router.post("/conventions/{convention_id}/depenses")
async def add_expense(request: Request, convention_id: UUID, ctx: PageContext) -> Response:
    return await _act(request, ctx, convention_id, "expense", "Dépense enregistrée")


@router.post("/conventions/{convention_id}/avenants")
async def amend(request: Request, convention_id: UUID, ctx: PageContext) -> Response:
    return await _act(request, ctx, convention_id, "amend", "Avenant enregistré")


@router.post("/conventions/{convention_id}/indicateurs")
async def refresh_kpis(request: Request, convention_id: UUID, ctx: PageContext) -> Response:
    return await _act(request, ctx, convention_id, "snapshot", "Indicateurs recalculés")


# --- the printable evaluation --------------------------------------------------------------


@router.get("/conventions/{convention_id}/evaluation", response_class=HTMLResponse)
async def evaluation_page(
    request: Request,
    convention_id: UUID,
    ctx: PrintableContext,
    phase: Annotated[int | None, Query(ge=1, le=99)] = None,
) -> Response:
    """The printable evaluation, with a chart of targets against actuals."""
    found = await conv.visible_convention(ctx, convention_id)
    e = conv.evaluation(found, phase)
    return page(
        request,
        "evaluation.html",
        {
            "convention": found,
            "e": e,
            "bars": _bars(e),
            "me": await procs.me(ctx),
            "kpis": KPI_PAGE_LABELS,
        },
    )


@router.get("/conventions/{convention_id}/evaluation.csv")
async def evaluation_csv(
    convention_id: UUID,
    ctx: PrintableContext,
    phase: Annotated[int | None, Query(ge=1, le=99)] = None,
) -> Response:
    """The evaluation's CSV, downloaded from its page with the person's session."""
    found = await conv.visible_convention(ctx, convention_id)
    name, text = await conv.evaluation_csv(ctx, found, phase)
    return Response(
        text,
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
