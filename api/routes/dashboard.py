"""French server-rendered dashboard (no JavaScript build step)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.deps import TOKEN_COOKIE, Pool, current_principal
from api.routes.processes import open_tasks_for
from domain.convention import KPI_LABELS, PARTY_ROLE_LABELS
from domain.organisations import OrganisationFilter
from domain.processes import ProcessFilter
from store.convention import ConventionRepository
from store.organisations import OrganisationRepository
from store.pooling import PoolingRepository
from store.processes import ProcessRepository
from store.users import UserRepository

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


templates.env.globals.update(
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


@router.get("/tableau-de-bord", response_class=HTMLResponse)
async def home(request: Request, pool: Pool):
    try:
        principal = await current_principal(pool, None, request.cookies.get(TOKEN_COOKIE))
    except HTTPException:
        return RedirectResponse("/connexion", status.HTTP_303_SEE_OTHER)
    only = None if principal.sees_everything else principal.organisation_id
    async with pool.acquire() as c:
        me = await UserRepository(c).get(principal.user_id)
        orgs = await OrganisationRepository(c).list(OrganisationFilter(limit=500), only_id=only)
        procs = await ProcessRepository(c).list(ProcessFilter(limit=20), only)
    tasks = await open_tasks_for(pool, principal)
    pools = None
    if principal.sees_everything:
        async with pool.acquire() as c:
            pools = await PoolingRepository(c).pools(
                status=None, service_code=None, provider_id=None, limit=10, offset=0
            )
    party = None if principal.sees_everything else principal.organisation_id
    async with pool.acquire() as c:
        conventions = await ConventionRepository(c).list(party, None, limit=5, offset=0)
    counts: dict[str, int] = {}
    for o in orgs.items:
        counts[o.kind] = counts.get(o.kind, 0) + 1
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "me": me,
            "counts": counts,
            "orgs": orgs,
            "procs": procs,
            "tasks": tasks,
            "pools": pools,
            "conventions": conventions,
        },
    )
