"""The dashboard's pages: the home page, the processes, « Mes tâches » with a form
per act and the mail page. Every act goes through its command."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.commands import convention as conv
from api.commands import pooling as pl
from api.commands import processes as procs
from api.commands import recruitment as rec
from api.commands import tasks as inbox
from api.commands.base import Ctx
from api.deps import PageContext
from api.errors import describe
from api.pages.formats import cents_from_euros
from api.pages.forms import new_request_id
from api.pages.history import facts, sentence
from api.pages.render import PAGE_SIZE, page
from api.urls import same_site_path
from domain.actions import TaskAction
from domain.auth import Role
from domain.convention import next_phase_dates
from domain.labels import KPI_PAGE_LABELS, STATUS_ORDER, field_label
from domain.processes import ProcessCount, ProcessFilter, ProcessKind, ProcessStatus, TaskPublic
from domain.recruitment import CampaignStatus, ReferralRegistered
from relais.mail import read_mailbox

router = APIRouter(include_in_schema=False)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/tableau-de-bord", status.HTTP_303_SEE_OTHER)


def process_chart(counts: list[ProcessCount]) -> list[dict[str, Any]]:
    """Per kind of process: its total and each status's share, for stacked bars."""
    by_kind: dict[str, dict[str, int]] = {}
    for c in counts:
        by_kind.setdefault(c.process.value, {})[c.status.value] = c.count
    widest = max((sum(v.values()) for v in by_kind.values()), default=1)
    return [
        {
            "process": kind,
            "total": sum(statuses.values()),
            "width": 100 * sum(statuses.values()) / widest,
            "parts": [
                {"status": st, "count": n, "share": 100 * n / sum(statuses.values())}
                for st, n in sorted(
                    statuses.items(), key=lambda kv: STATUS_ORDER.index(ProcessStatus(kv[0]))
                )
            ],
        }
        for kind, statuses in sorted(by_kind.items())
    ]


@router.get("/tableau-de-bord", response_class=HTMLResponse)
async def home(request: Request, ctx: PageContext) -> Response:
    p = ctx.principal
    network = p.sees_everything
    overdue = await inbox.open_tasks(ctx, overdue=True, limit=10)
    recent = await procs.list_processes(ctx, ProcessFilter(limit=10))
    counts = await procs.counts(ctx)
    campaigns = (
        (await rec.list_campaigns(ctx, CampaignStatus.OPEN, limit=8, offset=0)).items
        if network or p.role in (Role.MEMBER, Role.AGENCY)
        else []
    )
    pools = await pl.list_pools(ctx, None, None, limit=8, offset=0) if network else None
    conventions = await conv.list_conventions(ctx, None, limit=5, offset=0)
    tasks = await inbox.open_tasks(ctx, limit=10)
    return page(
        request,
        "home.html",
        {
            "me": await procs.me(ctx),
            "network": network,
            "procs": recent,
            "chart": process_chart(counts),
            "overdue": overdue,
            "tasks": tasks,
            "campaigns": campaigns,
            "pools": pools,
            "conventions": conventions,
        },
    )


@router.get("/processus", response_class=HTMLResponse)
async def process_list(request: Request, ctx: PageContext) -> Response:
    raw = {k: v for k, v in request.query_params.items() if v != ""}
    try:
        f = ProcessFilter.model_validate(raw)
        error = None
    except ValidationError:
        f, error = ProcessFilter(), "Filtre invalide : la liste complète est affichée."
    found = await procs.list_processes(ctx, f)
    query = {k: v for k, v in raw.items() if k != "offset"}
    return page(
        request,
        "processes.html",
        {
            "me": await procs.me(ctx),
            "page": found,
            "f": f,
            "error": error,
            "query": urlencode(query),
            "kinds": list(ProcessKind),
            "all_statuses": list(ProcessStatus),
        },
    )


@router.get("/processus/{workflow_id}", response_class=HTMLResponse)
async def process_page(
    request: Request, workflow_id: str, ctx: PageContext, fait: str | None = None
) -> Response:
    if workflow_id.startswith("visite-"):  # a visit's tasks: the visit is a record
        return RedirectResponse(f"/visites/{workflow_id[7:]}", status.HTTP_303_SEE_OTHER)
    me = await procs.me(ctx)
    try:
        detail = await procs.detail(ctx, workflow_id)
    except Exception as err:
        refusal = describe(err)
        if refusal is None:
            raise
        return page(
            request, "message.html", {"me": me, "message": refusal.detail}, refusal.status_code
        )
    mine = [t for t in detail.tasks if t.closed_at is None and inbox.may_complete(ctx.principal, t)]
    return page(
        request,
        "process.html",
        {
            "me": me,
            "d": detail,
            "mine": mine,
            "forms": await _forms(ctx, mine),
            "done": fait,
            "history": [(e, sentence(e)) for e in detail.timeline],
            "facts": facts(detail.live),
            # The raw view stays for admins, behind « Détails techniques ».
            "live_json": json.dumps(detail.live, indent=2, ensure_ascii=False, default=str)
            if detail.live and ctx.principal.role == Role.ADMIN
            else None,
            "admin": ctx.principal.role == Role.ADMIN,
        },
    )


# --- mes tâches ----------------------------------------------------------------------------


async def _forms(ctx: Ctx, tasks: list[TaskPublic]) -> dict[UUID, dict[str, Any]]:
    """What each task's form needs beyond the task: a fresh request id where its act takes
    one (a double submit is one act), and the facts to show (positions to fill, the quoted
    share)."""
    out: dict[UUID, dict[str, Any]] = {}
    positions: dict[UUID, Any] = {}  # a page of one campaign's tasks reads it once
    for t in tasks:
        action = inbox.action_of(t)
        extra: dict[str, Any] = {}
        if action is not None and action.takes_request_id:
            extra["request_id"] = new_request_id()
        if t.action in (TaskAction.DECIDE, TaskAction.REFER_CANDIDATES):
            campaign_id = UUID(t.workflow_id.split("-", 1)[1][:36])
            if campaign_id not in positions:
                positions[campaign_id] = (await rec.visible_campaign(ctx, campaign_id)).positions
            extra["positions"] = positions[campaign_id]
        if t.action in (TaskAction.REQUEST_INTERVIEW, TaskAction.DECIDE):
            extra["selection"] = f"/selection/{t.workflow_id.split('-', 1)[1][:36]}"
        if t.action == TaskAction.CONSENT and t.subject_id:
            # Whose consent is asked: the agency reads its own candidate's name.
            referral = await rec.visible_referral(ctx, UUID(t.subject_id))
            candidate = (await rec.read_referral(ctx, referral)).identity
            if candidate:
                extra["candidate"] = f"{candidate.first_name} {candidate.last_name}"
        elif t.action == TaskAction.ACCEPT_QUOTE and t.subject_id:
            extra["request"] = await pl.visible_request(ctx, UUID(t.subject_id))
        elif t.action in (TaskAction.DECIDE_CONVENTION, TaskAction.SIGN_CONVENTION):
            extra["convention"] = await conv.visible_convention(
                ctx, UUID(t.workflow_id.removeprefix("convention-"))
            )
            extra["kpis"] = KPI_PAGE_LABELS
            last = extra["convention"].phases[-1]
            extra["next_phase"] = next_phase_dates(
                last.starts_on, last.ends_on, datetime.now(UTC).date()
            )
        out[t.id] = extra
    return out


@router.get("/mes-taches", response_class=HTMLResponse)
async def my_tasks_page(
    request: Request,
    ctx: PageContext,
    fait: str | None = None,
    retard: bool = False,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    tasks = await inbox.open_tasks(ctx, overdue=retard, limit=PAGE_SIZE, offset=offset)
    mine = [t for t in tasks if inbox.may_complete(ctx.principal, t)]
    return page(
        request,
        "tasks.html",
        {
            "me": await procs.me(ctx),
            "tasks": tasks,
            "mine": {t.id for t in mine},
            "forms": await _forms(ctx, mine),
            "done": fait,
            "late_only": retard,
            "offset": offset,
            "page_size": PAGE_SIZE,
        },
    )


@router.get("/mes-taches/{task_id}", response_class=HTMLResponse)
async def task_page(request: Request, task_id: UUID, ctx: PageContext) -> Response:
    """One task, as its mail links to it: what it is about, and the form to act when it is
    the caller's and still open."""
    me = await procs.me(ctx)
    try:
        task = await inbox.visible_task(ctx, task_id)
    except Exception as err:
        refusal = describe(err)
        if refusal is None:
            raise
        return page(
            request, "message.html", {"me": me, "message": refusal.detail}, refusal.status_code
        )
    mine = task.closed_at is None and inbox.may_complete(ctx.principal, task)
    return page(
        request,
        "task.html",
        {
            "me": me,
            "t": task,
            "mine": mine,
            "forms": await _forms(ctx, [task] if mine else []),
        },
    )


def form_data(action: str, form: dict[str, Any]) -> dict[str, Any]:
    """A task's form as the JSON its action takes: empty fields left out, lists split,
    euros to cents, a renewal's phase assembled."""
    data: dict[str, Any] = {
        k: v.strip()
        for k, v in form.items()
        if k != "csrf" and isinstance(v, str) and v.strip() != ""
    }
    if "skills" in data:
        data["skills"] = [s.strip() for s in data["skills"].split(",") if s.strip()]
    if action == TaskAction.DECIDE_CONVENTION and data.pop("choice", "") == "renew":
        data.pop("close_reason", None)
        renew: dict[str, Any] = {k: data.pop(k) for k in ("starts_on", "ends_on") if k in data}
        if "annual_budget_euros" in data:
            renew["annual_budget_cents"] = cents_from_euros(data.pop("annual_budget_euros"))
        targets: dict[str, Any] = {
            k.removeprefix("target_"): v for k, v in data.items() if k.startswith("target_")
        }
        if "investment_cents" in targets:  # an amount invested is typed in euros
            targets["investment_cents"] = cents_from_euros(targets["investment_cents"])
        priorities = [p.strip() for p in data.pop("priorities", "").splitlines() if p.strip()]
        return {"renew": {**renew, "targets": targets, "priorities": priorities}}
    return {
        k: v
        for k, v in data.items()
        if not k.startswith(("target_", "starts_on", "ends_on", "annual_budget", "priorities"))
    }


async def _task_again(
    ctx: Ctx, task: TaskPublic | None, form: dict[str, Any], code: int
) -> tuple[TaskPublic, dict[UUID, dict[str, Any]]] | None:
    """A refused task's form to show again (read anew: another may have closed it), with
    what was typed; after a 503 with the request id sent, since that act may be recorded
    (sent again, it is the same act, never a second one). None: no form to show."""
    if task is None:
        return None
    try:
        task = await inbox.visible_task(ctx, task.id)
        if task.closed_at is not None or not inbox.may_complete(ctx.principal, task):
            return None
        forms = await _forms(ctx, [task])
    except Exception as err:
        if describe(err) is None:
            raise
        return None
    forms[task.id]["kept"] = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    sent = form.get("request_id")
    if code == status.HTTP_503_SERVICE_UNAVAILABLE and isinstance(sent, str) and sent:
        forms[task.id]["request_id"] = sent
    return task, forms


@router.post("/mes-taches/{task_id}")
async def complete_from_page(request: Request, task_id: UUID, ctx: PageContext) -> Response:
    form = dict(await request.form())
    back = same_site_path(str(form.pop("back", "")), "/mes-taches")  # only back into Relais
    task: TaskPublic | None = None
    try:
        task = await inbox.visible_task(ctx, task_id)
        result = await inbox.complete_task(ctx, task, form_data(task.action, form))
    except Exception as err:
        refusal = describe(err)
        if refusal is None:
            raise
        message = refusal.detail
        if refusal.errors:  # the fields of the form, by their labels (no `data.` of the JSON)
            message = "; ".join(f"{field_label(e.field)} : {e.message}" for e in refusal.errors)
        if refusal.status_code != status.HTTP_503_SERVICE_UNAVAILABLE:
            message = f"Action non enregistrée — {message}"  # a 503's act may be recorded
        me = await procs.me(ctx)
        again = await _task_again(ctx, task, form, refusal.status_code)
        if again is not None:
            # The same task again, what was typed kept, the reason above the form.
            task, forms = again
            return page(
                request,
                "task.html",
                {"me": me, "t": task, "mine": True, "forms": forms, "error": message, "back": back},
                refusal.status_code,
            )
        return page(
            request,
            "message.html",
            {"me": me, "message": message, "back": back},
            refusal.status_code,
        )
    if isinstance(result, ReferralRegistered):
        # A referral's answer (new, or a duplicate credited to another agency) is said on
        # « Mes candidats », not as a plain « C'est fait ».
        return RedirectResponse(
            f"/candidats?{urlencode({'proposee': str(result.referral_id)})}",
            status.HTTP_303_SEE_OTHER,
        )
    sep = "&" if "?" in back else "?"
    return RedirectResponse(
        f"{back}{sep}{urlencode({'fait': task.title})}", status.HTTP_303_SEE_OTHER
    )


# --- courriels -----------------------------------------------------------------------------


MAIL_PAGE = 50


@router.get("/boite-mail", response_class=HTMLResponse)
async def mailbox_page(
    request: Request, ctx: PageContext, offset: Annotated[int, Query(ge=0, le=10**7)] = 0
) -> Response:
    me = await procs.me(ctx)
    if not ctx.principal.sees_everything:
        return page(
            request,
            "message.html",
            {"me": me, "message": "Page réservée à l'équipe du réseau."},
            403,
        )
    # A page of the outbox, newest first; one more row read says whether another page follows.
    found = await procs.outbox(ctx, limit=MAIL_PAGE + 1, offset=offset)
    outbox, more = found[:MAIL_PAGE], len(found) > MAIL_PAGE
    received = read_mailbox(ctx.settings.mailbox_dir, limit=10) if ctx.settings.dev_mode else None
    return page(
        request,
        "mailbox.html",
        {
            "me": me,
            "outbox": outbox,
            "received": received,
            "offset": offset,
            "more": more,
            "page_size": MAIL_PAGE,
        },
    )
