"""French server-rendered dashboard (no JavaScript build step)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID, uuid4

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.deps import (
    TOKEN_COOKIE,
    AppSettings,
    DataSealer,
    Pool,
    TemporalClient,
    current_principal,
)
from api.errors import engine_busy, message
from api.routes.processes import get_process, open_tasks_for, visible_task
from api.tasks import ACTIONS, Acting, complete_task, may_complete
from api.urls import same_site_path
from domain.auth import Principal, Role, UserPublic
from domain.convention import KPI_LABELS, PARTY_ROLE_LABELS
from domain.organisations import OrganisationFilter
from domain.processes import ProcessCount, ProcessFilter, ProcessKind, ProcessStatus, TaskPublic
from relais.mail import read_mailbox
from store.convention import ConventionRepository
from store.organisations import OrganisationRepository
from store.pooling import PoolingRepository
from store.processes import ProcessRepository
from store.recruitment import RecruitmentRepository
from store.users import UserRepository
from workflows.clients import UpdateNotRun

HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)

KIND_LABELS = {
    "member": "Entreprises membres",
    "agency": "Agences emploi",
    "chamber": "Chambres consulaires",
    "authority": "Collectivités",
    "provider": "Prestataires",
    "association": "Associations",
}
STATUS_LABELS = {
    "running": "en cours",
    "waiting": "en attente",
    "completed": "terminé",
    "failed": "refusé",
    "cancelled": "annulé",
    "expired": "expiré",
    "pending": "en adhésion",
    "active": "actif",
    "inactive": "inactif",
}
KIND_SINGULAR = {
    "member": "entreprise membre",
    "agency": "agence emploi",
    "chamber": "chambre consulaire",
    "authority": "collectivité",
    "provider": "prestataire",
    "association": "association",
}
STEP_LABELS = {
    "validating": "vérification",
    "awaiting_charter": "attente de la charte",
    "active": "adhésion active",
    "expired": "expirée",
    "cancelled": "annulée",
    "refused": "refusée",
    # recruitment campaigns
    "open": "candidatures ouvertes",
    "closing": "entretiens en cours",
    "closed": "close",
    "filled": "postes pourvus",
    # referrals
    "duplicate": "doublon",
    "screening": "tri",
    "screened_out": "non retenue au tri",
    "shortlisted": "présélectionnée",
    "interview_requested": "entretien demandé",
    "interview": "entretien",
    "hired": "embauchée",
    "rejected": "refusée",
    "withdrawn": "retirée",
    "not_retained": "non retenue",
    # pools of services
    "gathering": "demandes en cours de regroupement",
    "quoting": "devis envoyés",
    "ordered": "commande passée",
    "confirmed": "commande confirmée",
    "rating": "livré et facturé",
    "compensated": "annulé, rien facturé",
    "failed": "n'a pas abouti",
    # reservations
    "waitlisted": "liste d'attente",
    # conventions (a convention's "active" reads differently from a membership's)
    "awaiting_signatures": "en attente de signatures",
    "signed": "signée, phase à venir",
    "convention:active": "phase en cours",
    "evaluating": "évaluée, décision attendue",
    "renewed": "renouvelée",
    "convention:closed": "close",
}
ROLE_LABELS = {
    "admin": "administration",
    "staff": "équipe du réseau",
    "manager": "direction",
    "member": "entreprise membre",
    "agency": "agence",
    "partner": "partenaire",
}


def euros(cents: int) -> str:
    """12345678 → « 123 456,78 € » (French grouping and decimal comma)."""
    whole, rest = divmod(cents, 100)
    return f"{whole:,}".replace(",", "\u202f") + f",{rest:02d} €"


PROCESS_LABELS = {
    "onboarding": "Adhésions",
    "recruitment": "Campagnes de recrutement",
    "referral": "Candidatures",
    "pooling": "Services mutualisés",
    "booking": "Réservations",
    "convention": "Conventions",
}

templates.env.globals.update(
    processes_fr=PROCESS_LABELS,
    euros=euros,
    party_roles=PARTY_ROLE_LABELS,
    kpi_labels=KPI_LABELS,
    kinds=KIND_LABELS,
    kind=KIND_SINGULAR,
    statuses=STATUS_LABELS,
    steps=STEP_LABELS,
    roles=ROLE_LABELS,
)


def mount_static(app) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/tableau-de-bord", status.HTTP_303_SEE_OTHER)


@router.get("/connexion", response_class=HTMLResponse)
async def login_form(request: Request, erreur: str | None = None):
    return templates.TemplateResponse(request, "login.html", {"error": erreur})


@router.post("/connexion")
async def login(pool: Pool, token: Annotated[str, Form(min_length=1, max_length=200)]):
    async with pool.acquire() as c:
        principal = await UserRepository(c).principal_for_token(token.strip())
    if principal is None:
        return RedirectResponse("/connexion?erreur=1", status.HTTP_303_SEE_OTHER)
    resp = RedirectResponse("/tableau-de-bord", status.HTTP_303_SEE_OTHER)
    resp.set_cookie(TOKEN_COOKIE, token.strip(), httponly=True, samesite="lax")
    return resp


@router.post("/deconnexion")
async def logout() -> RedirectResponse:
    resp = RedirectResponse("/connexion", status.HTTP_303_SEE_OTHER)
    resp.delete_cookie(TOKEN_COOKIE)
    return resp


async def _page_user(request: Request, pool) -> tuple[Principal, UserPublic] | None:
    try:
        principal = await current_principal(pool, None, request.cookies.get(TOKEN_COOKIE))
    except HTTPException:
        return None
    async with pool.acquire() as c:
        me = await UserRepository(c).get(principal.user_id)
    return (principal, me) if me else None


def _to_login() -> RedirectResponse:
    return RedirectResponse("/connexion", status.HTTP_303_SEE_OTHER)


def process_chart(counts: list[ProcessCount]) -> list[dict]:
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
                for st, n in sorted(statuses.items(), key=lambda kv: STATUS_ORDER.index(kv[0]))
            ],
        }
        for kind, statuses in sorted(by_kind.items())
    ]


STATUS_ORDER = ["waiting", "running", "completed", "failed", "cancelled", "expired"]


@router.get("/tableau-de-bord", response_class=HTMLResponse)
async def home(request: Request, pool: Pool):
    found = await _page_user(request, pool)
    if found is None:
        return _to_login()
    principal, me = found
    network, viewer = principal.sees_everything, principal.scope
    overdue = await open_tasks_for(pool, principal, overdue=True, limit=10)
    async with pool.acquire() as c:
        procs = await ProcessRepository(c).list(ProcessFilter(limit=10), viewer)
        counts = await ProcessRepository(c).counts(viewer)
        campaigns, _ = await RecruitmentRepository(c).list_campaigns(
            employer_id=None if network or principal.role != Role.MEMBER else viewer,
            agency_id=viewer if principal.role == Role.AGENCY else None,
            status="open",
            limit=8,
            offset=0,
        )
        pools = (
            await PoolingRepository(c).pools(
                status=None, service_code=None, provider_id=None, limit=8, offset=0
            )
            if network
            else None
        )
        conventions = await ConventionRepository(c).list(viewer, None, limit=5, offset=0)
    if not network and principal.role not in (Role.MEMBER, Role.AGENCY):
        campaigns = []
    tasks = await open_tasks_for(pool, principal, limit=10)
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "me": me,
            "network": network,
            "procs": procs,
            "chart": process_chart(counts),
            "overdue": overdue,
            "tasks": tasks,
            "campaigns": campaigns,
            "pools": pools,
            "conventions": conventions,
        },
    )


@router.get("/annuaire", response_class=HTMLResponse)
async def directory(request: Request, pool: Pool):
    found = await _page_user(request, pool)
    if found is None:
        return _to_login()
    principal, me = found
    only = principal.scope
    async with pool.acquire() as c:
        orgs = await OrganisationRepository(c).list(OrganisationFilter(limit=500), only_id=only)
    return templates.TemplateResponse(request, "directory.html", {"me": me, "orgs": orgs})


@router.get("/processus", response_class=HTMLResponse)
async def process_list(request: Request, pool: Pool):
    found = await _page_user(request, pool)
    if found is None:
        return _to_login()
    principal, me = found
    raw = {k: v for k, v in request.query_params.items() if v != ""}
    try:
        f = ProcessFilter.model_validate(raw)
        error = None
    except ValidationError:
        f, error = ProcessFilter(), "Filtre invalide : la liste complète est affichée."
    async with pool.acquire() as c:
        page = await ProcessRepository(c).list(f, principal.scope)
    query = {k: v for k, v in raw.items() if k != "offset"}
    return templates.TemplateResponse(
        request,
        "processes.html",
        {
            "me": me,
            "page": page,
            "f": f,
            "error": error,
            "query": urlencode(query),
            "kinds": list(ProcessKind),
            "all_statuses": list(ProcessStatus),
        },
    )


@router.get("/processus/{workflow_id}", response_class=HTMLResponse)
async def process_page(
    request: Request, workflow_id: str, pool: Pool, client: TemporalClient, fait: str | None = None
):
    found = await _page_user(request, pool)
    if found is None:
        return _to_login()
    principal, me = found
    try:
        detail = await get_process(workflow_id, pool, client, principal)
    except HTTPException as err:
        return templates.TemplateResponse(
            request, "message.html", {"me": me, "message": err.detail}, status_code=err.status_code
        )
    mine = [t for t in detail.tasks if t.closed_at is None and may_complete(principal, t)]
    forms = await _forms(pool, mine)
    return templates.TemplateResponse(
        request,
        "process.html",
        {
            "me": me,
            "d": detail,
            "mine": mine,
            "forms": forms,
            "done": fait,
            "live_json": json.dumps(detail.live, indent=2, ensure_ascii=False, default=str)
            if detail.live
            else None,
        },
    )


# --- mes tâches ----------------------------------------------------------------------------


async def _forms(pool, tasks: list[TaskPublic]) -> dict[UUID, dict]:
    """What each task's form needs beyond the task: a fresh request id (a double submit is
    one act), and the facts to show (positions to fill, the quoted share)."""
    out: dict[UUID, dict] = {}
    async with pool.acquire() as c:
        for t in tasks:
            extra: dict = {"request_id": f"web-{uuid4().hex[:12]}"}
            if t.action == "decide":
                campaign = await RecruitmentRepository(c).get_campaign(
                    UUID(t.workflow_id.removeprefix("referral-")[:36])
                )
                extra["positions"] = campaign.positions if campaign else []
            elif t.action == "refer_candidates":
                campaign = await RecruitmentRepository(c).get_campaign(
                    UUID(t.workflow_id.removeprefix("campaign-"))
                )
                extra["positions"] = campaign.positions if campaign else []
            elif t.action == "accept_quote" and t.subject_id:
                extra["request"] = await PoolingRepository(c).request(UUID(t.subject_id))
            elif t.action == "decide_convention":
                extra["convention"] = await ConventionRepository(c).get(
                    UUID(t.workflow_id.removeprefix("convention-"))
                )
            out[t.id] = extra
    return out


@router.get("/mes-taches", response_class=HTMLResponse)
async def my_tasks_page(
    request: Request, pool: Pool, fait: str | None = None, retard: bool = False
):
    found = await _page_user(request, pool)
    if found is None:
        return _to_login()
    principal, me = found
    tasks = await open_tasks_for(pool, principal, overdue=retard, limit=200)
    mine = [t for t in tasks if may_complete(principal, t)]
    return templates.TemplateResponse(
        request,
        "tasks.html",
        {
            "me": me,
            "tasks": tasks,
            "mine": {t.id for t in mine},
            "forms": await _forms(pool, mine),
            "done": fait,
            "late_only": retard,
            "actions": ACTIONS,
        },
    )


def form_data(action: str, form: dict[str, str]) -> dict:
    """A task's form as the JSON its action takes: empty fields left out, lists split,
    euros to cents, a renewal's phase assembled."""
    data = {k: v.strip() for k, v in form.items() if k != "csrf" and v.strip() != ""}
    if "skills" in data:
        data["skills"] = [s.strip() for s in data["skills"].split(",") if s.strip()]
    if action == "decide_convention" and data.pop("choice", "") == "renew":
        data.pop("close_reason", None)
        renew = {k: data.pop(k) for k in ("starts_on", "ends_on") if k in data}
        if "annual_budget_euros" in data:
            renew["annual_budget_cents"] = _cents(data.pop("annual_budget_euros"))
        targets = {k.removeprefix("target_"): v for k, v in data.items() if k.startswith("target_")}
        data = {"renew": {**renew, "targets": targets}}
    else:
        data = {
            k: v
            for k, v in data.items()
            if not k.startswith(("target_", "starts_on", "ends_on", "annual_budget"))
        }
    return data


def _cents(euros: str) -> int | str:
    try:
        return round(float(euros.replace("\u202f", "").replace(" ", "").replace(",", ".")) * 100)
    except ValueError:
        return euros  # refused by the model with its own sentence


@router.post("/mes-taches/{task_id}")
async def complete_from_page(
    request: Request,
    task_id: UUID,
    pool: Pool,
    client: TemporalClient,
    settings: AppSettings,
    sealer: DataSealer,
):
    found = await _page_user(request, pool)
    if found is None:
        return _to_login()
    principal, me = found
    form = dict(await request.form())
    back = same_site_path(str(form.pop("back", "")), "/mes-taches")  # only back into Relais
    try:
        task = await visible_task(pool, principal, task_id)
        acting = Acting(pool, client, settings, sealer, principal)
        await complete_task(acting, task, form_data(task.action, form))
    except RequestValidationError as err:
        return _task_error(request, me, back, _sentence(err))
    except HTTPException as err:
        return _task_error(request, me, back, str(err.detail), err.status_code)
    except (UpdateNotRun, RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as err:
        if (busy := engine_busy(err)) is None:
            raise
        return _task_error(request, me, back, busy, status.HTTP_503_SERVICE_UNAVAILABLE)
    sep = "&" if "?" in back else "?"
    return RedirectResponse(
        f"{back}{sep}{urlencode({'fait': task.title})}", status.HTTP_303_SEE_OTHER
    )


def _sentence(err: RequestValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'][2:]) or 'formulaire'} : {message(e)}"
        for e in err.errors()
    )


def _task_error(request, me, back: str, message: str, code: int = 422):
    if code != status.HTTP_503_SERVICE_UNAVAILABLE:  # a 503's action may have been recorded
        message = f"Action non enregistrée — {message}"
    return templates.TemplateResponse(
        request, "message.html", {"me": me, "message": message, "back": back}, status_code=code
    )


# --- courriels -----------------------------------------------------------------------------


@router.get("/boite-mail", response_class=HTMLResponse)
async def mailbox_page(request: Request, pool: Pool, settings: AppSettings):
    found = await _page_user(request, pool)
    if found is None:
        return _to_login()
    principal, me = found
    if not principal.sees_everything:
        return templates.TemplateResponse(
            request,
            "message.html",
            {"me": me, "message": "Page réservée à l'équipe du réseau."},
            status_code=403,
        )
    async with pool.acquire() as c:
        outbox = await ProcessRepository(c).outbox(limit=100)
    received = read_mailbox(settings.mailbox_dir) if settings.dev_mode else None
    return templates.TemplateResponse(
        request, "mailbox.html", {"me": me, "outbox": outbox, "received": received}
    )
