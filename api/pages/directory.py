"""The directory: organisations found by name, kind, territory, status and sector; an
organisation's page (its details, people, processes and history); create and edit with the
API's checks; a member proposes a change that staff decide; staff start an onboarding.
Every act goes through its command (`api.commands.organisations`, `api.commands.onboarding`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.commands import onboarding as onb
from api.commands import organisations as orgs
from api.commands import people, visits
from api.commands import processes as procs
from api.commands import recruitment as rec
from api.commands.base import Ctx
from api.deps import PageContext
from api.pages.forms import done, filled, model_of, refused
from api.pages.history import sentence
from api.pages.render import PAGE_SIZE, page
from api.validation import field_errors
from domain.onboarding import OnboardingCreate
from domain.organisations import (
    FIELD_LABELS,
    ChangeDecisionCreate,
    ChangeRequestCreate,
    OrganisationCreate,
    OrganisationFilter,
    OrganisationKind,
    OrganisationPublic,
    OrganisationStatus,
    OrganisationUpdate,
)
from domain.processes import ProcessFilter, ProcessKind, ProcessStatus

router = APIRouter(include_in_schema=False)

FIELDS = ("name", "siret", "naf", "headcount", "postcode", "commune", "territory", "email", "phone")
# What an organisation corrects itself; the rest (STAFF_ONLY_FIELDS) it proposes.
SELF_FIELDS = ("postcode", "commune", "email", "phone")
CHANGE_FIELDS = ("name", "naf", "headcount", "territory")
OPEN = (ProcessStatus.RUNNING, ProcessStatus.WAITING)
FILTER_LABELS = {
    "q": "recherche",
    "kind": "type",
    "territory": "territoire",
    "status": "statut",
    "naf": "secteur",
    "offset": "page",
}


def _forbidden(request: Request, me: Any, message: str, code: int = 403) -> Response:
    return page(request, "message.html", {"me": me, "message": message}, code)


# --- the list ------------------------------------------------------------------------------


@router.get("/annuaire", response_class=HTMLResponse)
async def directory(request: Request, ctx: PageContext) -> Response:
    raw = {
        k: v.strip()
        for k, v in request.query_params.items()
        if k in ("q", "kind", "territory", "status", "naf", "offset") and v.strip()
    }
    try:
        f = OrganisationFilter.model_validate({**raw, "limit": PAGE_SIZE})
        error = None
    except ValidationError as err:
        wrong = ", ".join(FILTER_LABELS.get(e.field, "filtre") for e in field_errors(err.errors()))
        f, error = (
            OrganisationFilter(limit=PAGE_SIZE),
            f"Filtre invalide ({wrong}) : la liste complète est affichée.",
        )
        raw = {}
    found = await orgs.directory(ctx, f)
    query = urlencode({k: v for k, v in raw.items() if k != "offset"})
    return page(
        request,
        "directory.html",
        {
            "me": await procs.me(ctx),
            "orgs": found,
            "f": raw,
            "error": error,
            "query": query,
            "all_kinds": list(OrganisationKind),
            "all_statuses": list(OrganisationStatus),
            "may_create": orgs.create.allows(ctx.principal),
        },
    )


# --- create --------------------------------------------------------------------------------


def _create_form(
    request: Request,
    me: Any,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    code: int = 200,
) -> Response:
    return page(
        request,
        "organisation_new.html",
        {
            "me": me,
            "v": values,
            "errors": errors or {},
            "message": message,
            "all_kinds": list(OrganisationKind),
        },
        code,
    )


@router.get("/annuaire/nouvelle", response_class=HTMLResponse)
async def new_organisation(request: Request, ctx: PageContext) -> Response:
    me = await procs.me(ctx)
    if not orgs.create.allows(ctx.principal):
        return _forbidden(request, me, "L'équipe du réseau ajoute les organisations à l'annuaire.")
    return _create_form(request, me, {"kind": OrganisationKind.MEMBER})


@router.post("/annuaire/nouvelle")
async def create_organisation(request: Request, ctx: PageContext) -> Response:
    form = dict(await request.form())
    values = filled(form, ("kind", *FIELDS))
    try:
        org = await orgs.create(ctx, model_of(OrganisationCreate, values))
    except Exception as err:
        fields, message, code = refused(err)
        if code == status.HTTP_403_FORBIDDEN:
            return _forbidden(request, await procs.me(ctx), message)
        if code == status.HTTP_409_CONFLICT:  # the SIRET is there already
            fields = {"siret": message}
        return _create_form(request, await procs.me(ctx), values, fields, message, code)
    return done(f"/annuaire/{org.id}", f"{org.name} est ajoutée à l'annuaire.")


# --- an organisation -----------------------------------------------------------------------


async def _context(ctx: Ctx, org: OrganisationPublic) -> dict[str, Any]:
    p = ctx.principal
    users = [u for u in await people.list_users(ctx) if u.organisation_id == org.id]
    processes = await procs.list_processes(ctx, ProcessFilter(organisation_id=org.id, limit=20))
    changes = await orgs.change_requests(ctx, org.id, pending_only=True)
    history = [(e, sentence(e)) for e in await orgs.history(ctx, org.id)]
    received = (
        await visits.list_visits(ctx, None, org.id, None, None, 10, 0)
        if p.role in visits.VISIT_READERS and org.kind == OrganisationKind.MEMBER
        else None
    )
    return {
        "o": org,
        "users": users,
        "processes": processes,
        "changes": changes,
        "history": history,
        "visits": received,
        "staff": p.sees_everything and orgs.decide_change.allows(p),
        "may_edit": orgs.update.allows(p),
        "may_onboard": onb.open_onboarding.allows(p)
        and org.kind == OrganisationKind.MEMBER
        and org.status != OrganisationStatus.ACTIVE
        and not any(
            x.process == ProcessKind.ONBOARDING and x.status in OPEN for x in processes.items
        ),
        "may_launch": rec.launch.allows(p)
        and org.kind == OrganisationKind.MEMBER
        and org.status == OrganisationStatus.ACTIVE,
        "field_labels": FIELD_LABELS,
    }


async def _org_page(
    request: Request,
    ctx: PageContext,
    organisation_id: UUID,
    extra: dict[str, Any] | None = None,
    code: int = 200,
) -> Response:
    me = await procs.me(ctx)
    try:
        org = await orgs.visible_organisation(ctx, organisation_id)
    except Exception as err:
        _, message, status_code = refused(err)
        return _forbidden(request, me, message, status_code)
    context = {
        "me": me,
        **await _context(ctx, org),
        "done": request.query_params.get("fait"),
        "onboard": {},
        "onboard_errors": {},
        **(extra or {}),
    }
    return page(request, "organisation.html", context, code)


@router.get("/annuaire/{organisation_id}", response_class=HTMLResponse)
async def organisation_page(request: Request, organisation_id: UUID, ctx: PageContext) -> Response:
    return await _org_page(request, ctx, organisation_id)


@router.post("/annuaire/{organisation_id}/adhesion")
async def start_onboarding(request: Request, organisation_id: UUID, ctx: PageContext) -> Response:
    """Staff open a member company's onboarding: its contact is asked to accept the charter."""
    form = dict(await request.form())
    values = filled(form, ("contact_name", "contact_email"))
    try:
        data = model_of(OnboardingCreate, {**values, "organisation_id": str(organisation_id)})
        await onb.open_onboarding(ctx, data)
    except Exception as err:
        fields, message, code = refused(err)
        if code == status.HTTP_403_FORBIDDEN:
            return _forbidden(request, await procs.me(ctx), message)
        extra = {"onboard": values, "onboard_errors": fields, "onboard_message": message}
        return await _org_page(request, ctx, organisation_id, extra, code)
    return done(
        f"/annuaire/{organisation_id}",
        f"Adhésion ouverte : {values['contact_name']} est invité(e) à accepter la charte.",
    )


@router.post("/annuaire/{organisation_id}/demandes/{change_id}")
async def decide_change(
    request: Request, organisation_id: UUID, change_id: UUID, ctx: PageContext
) -> Response:
    """Staff approve or refuse a proposed change."""
    form = dict(await request.form())
    values = filled(form, ("approve", "note"))
    try:
        change = await orgs.visible_change(ctx, change_id)
        decided = await orgs.decide_change(ctx, change, model_of(ChangeDecisionCreate, values))
    except Exception as err:
        _, message, code = refused(err)
        if code == status.HTTP_403_FORBIDDEN:
            return _forbidden(request, await procs.me(ctx), message)
        return await _org_page(
            request, ctx, organisation_id, {"change_message": message, "change_id": change_id}, code
        )
    said = "acceptée" if decided.status == "approved" else "refusée"
    return done(f"/annuaire/{organisation_id}", f"Demande de modification {said}.")


# --- edit ----------------------------------------------------------------------------------


def _values_of(org: OrganisationPublic) -> dict[str, str]:
    out = {}
    for name in (*FIELDS, "status"):
        value = getattr(org, name)
        out[name] = "" if value is None else str(value)
    return out


async def _edit_form(
    request: Request,
    ctx: Ctx,
    org: OrganisationPublic,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    proposal: dict[str, str] | None = None,
    proposal_errors: dict[str, str] | None = None,
    proposal_message: str | None = None,
    code: int = 200,
) -> Response:
    staff = ctx.principal.sees_everything and orgs.decide_change.allows(ctx.principal)
    return page(
        request,
        "organisation_edit.html",
        {
            "me": await procs.me(ctx),
            "o": org,
            "staff": staff,
            "v": values,
            "errors": errors or {},
            "message": message,
            "p": proposal or {},
            "p_errors": proposal_errors or {},
            "p_message": proposal_message,
            "all_statuses": list(OrganisationStatus),
        },
        code,
    )


async def _editable(
    request: Request, ctx: Ctx, organisation_id: UUID
) -> OrganisationPublic | Response:
    me = await procs.me(ctx)
    if not orgs.update.allows(ctx.principal):
        return _forbidden(request, me, "Votre rôle ne modifie pas les fiches de l'annuaire.")
    try:
        return await orgs.visible_organisation(ctx, organisation_id)
    except Exception as err:
        _, message, code = refused(err)
        return _forbidden(request, me, message, code)


@router.get("/annuaire/{organisation_id}/modifier", response_class=HTMLResponse)
async def edit_organisation(request: Request, organisation_id: UUID, ctx: PageContext) -> Response:
    org = await _editable(request, ctx, organisation_id)
    if isinstance(org, Response):
        return org
    return await _edit_form(request, ctx, org, _values_of(org))


@router.post("/annuaire/{organisation_id}/modifier")
async def update_organisation(
    request: Request, organisation_id: UUID, ctx: PageContext
) -> Response:
    org = await _editable(request, ctx, organisation_id)
    if isinstance(org, Response):
        return org
    form = dict(await request.form())
    staff = ctx.principal.sees_everything
    names = (*(n for n in FIELDS if n != "siret"), "status") if staff else SELF_FIELDS
    typed = {n: str(form.get(n, "")).strip() for n in names}
    # Only what changed is sent; an optional detail emptied is cleared (null).
    before = _values_of(org)
    data: dict[str, Any] = {
        n: (v if v else None) for n, v in typed.items() if v != before.get(n, "")
    }
    values = {**before, **typed}
    try:
        await orgs.update(ctx, organisation_id, model_of(OrganisationUpdate, data))
    except Exception as err:
        fields, message, code = refused(err)
        return await _edit_form(request, ctx, org, values, fields, message, code=code)
    return done(f"/annuaire/{organisation_id}", "La fiche est enregistrée.")


@router.post("/annuaire/{organisation_id}/demande")
async def propose_change(request: Request, organisation_id: UUID, ctx: PageContext) -> Response:
    """An organisation asks staff to change its name, NAF, headcount or territory."""
    org = await _editable(request, ctx, organisation_id)
    if isinstance(org, Response):
        return org
    form = dict(await request.form())
    proposal = filled(form, (*CHANGE_FIELDS, "reason"))
    try:
        await orgs.propose_change(ctx, organisation_id, model_of(ChangeRequestCreate, proposal))
    except Exception as err:
        fields, message, code = refused(err)
        return await _edit_form(
            request,
            ctx,
            org,
            _values_of(org),
            proposal=proposal,
            proposal_errors=fields,
            proposal_message=message,
            code=code,
        )
    return done(
        f"/annuaire/{organisation_id}",
        "Demande de modification envoyée : l'équipe du réseau la validera.",
    )
