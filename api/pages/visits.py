"""Company visits: the visits a person may see, an adviser's visit entry (works on a phone,
without JavaScript: « Ajouter un projet » re-renders the form with one more row, what was
typed kept), a visit's page where the network's staff launch its projects. An adviser of a
chamber or an association hands a recruitment or pooled-service project to the network's
staff (a task); the network's staff launch it (`api.commands.visits`)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from api.commands import organisations as orgs
from api.commands import pooling as pl
from api.commands import processes as procs
from api.commands import visits
from api.commands.base import Ctx
from api.deps import PageContext
from api.pages import picker
from api.pages.forms import done, model_of, new_request_id, refused
from api.pages.render import PAGE_SIZE, page
from domain.convention import ActionProjectUpdate, ProjectKind, ProjectStatus, VisitCreate
from domain.errors import Invalid
from domain.formats import PARIS
from domain.labels import CONTRACT_LABELS, PROJECT_KIND_LABELS, PROJECT_STATUS_LABELS
from domain.organisations import OrganisationFilter, OrganisationKind
from domain.pooling import ServiceRequestCreate
from domain.recruitment import CampaignCreate

router = APIRouter(include_in_schema=False)

# The themes an adviser ticks (kept as typed in the visit: they are its words).
THEMES = (
    "Recrutement",
    "Formation",
    "Numérique",
    "Investissement",
    "Financement",
    "Services mutualisés",
    "Locaux et foncier",
    "Transmission",
    "Export",
)
FIRST_ROWS, MAX_ROWS = 1, 10
COMPANIES = OrganisationFilter(kind=OrganisationKind.MEMBER)  # a visit in the directory


def _labels() -> dict[str, Any]:
    return {
        "project_kinds": PROJECT_KIND_LABELS,
        "project_statuses": PROJECT_STATUS_LABELS,
        "contracts": CONTRACT_LABELS,
    }


def _message(request: Request, me: Any, message: str, code: int) -> Response:
    return page(request, "message.html", {"me": me, "message": message}, code)


async def _may_record(ctx: Ctx) -> bool:
    """Advisers: the network's staff, a chamber's or an association's people."""
    p = ctx.principal
    if not visits.record_visit.allows(p):
        return False
    if p.sees_everything:
        return True
    mine = await orgs.visible_organisation(ctx, p.organisation_id)
    return mine.kind in visits.ADVISER_KINDS


# --- the list ------------------------------------------------------------------------------


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/visites", response_class=HTMLResponse)
async def visit_list(
    request: Request,
    ctx: PageContext,
    offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
    territoire: Annotated[str, Query(max_length=100)] = "",
    du: Annotated[str, Query(max_length=10)] = "",
    au: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """The visits, filtered by territory and dates (a date that is not one is left out,
    and said)."""
    me = await procs.me(ctx)
    if ctx.principal.role not in visits.VISIT_READERS:
        return _message(request, me, "Les visites d'entreprises ne concernent pas votre rôle.", 403)
    since, until = _day(du), _day(au)
    error = (
        "Date invalide : ce filtre est ignoré."
        if (du and since is None) or (au and until is None)
        else None
    )
    f = {"territoire": territoire.strip(), "du": du if since else "", "au": au if until else ""}
    found = await visits.list_visits(
        ctx, f["territoire"] or None, None, since, until, PAGE_SIZE, offset
    )
    return page(
        request,
        "visits.html",
        {
            "me": me,
            "found": found,
            "f": f,
            "error": error,
            "query": urlencode({k: v for k, v in f.items() if v}),
            "may_record": await _may_record(ctx),
            "done": request.query_params.get("fait"),
            **_labels(),
        },
    )


# --- the entry -----------------------------------------------------------------------------


def _form_values(form: dict[str, Any], rows: int) -> dict[str, Any]:
    """The form as typed, to show again: the company, the date, the ticked themes, the
    project rows."""

    def text(name: str) -> str:
        value = form.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    return {
        "request_id": text("request_id") or new_request_id(),
        "company_mode": text("company_mode") or "nouvelle",
        **{
            k: text(k)
            for k in ("company_id", "siret", "name", "postcode", "territory", "visited_on")
        },
        "company_text": text("company_id_texte"),
        "needs": text("needs"),
        "other_theme": text("other_theme"),
        "themes": [t for t in form.get("themes", []) if t in THEMES],
        "projects": [
            {
                "kind": text(f"project-{i}-kind"),
                "title": text(f"project-{i}-title"),
            }
            for i in range(rows)
        ],
    }


def _visit_data(v: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """The VisitCreate body of the form, and for each project sent its row on the form
    (empty rows are left out)."""
    data: dict[str, Any] = {
        "request_id": v["request_id"],
        "visited_on": v["visited_on"],
        "needs": v["needs"],
        "themes": v["themes"] + ([v["other_theme"]] if v["other_theme"] else []),
    }
    if v["territory"]:
        data["territory"] = v["territory"]
    if v["company_mode"] == "annuaire" and v["company_id"]:
        data["company_id"] = v["company_id"]
    else:
        data["company"] = {k: v[k] for k in ("siret", "name", "postcode")}
    rows, projects = [], []
    for i, row in enumerate(v["projects"]):
        if not row["title"]:
            continue
        projects.append({"kind": row["kind"] or "other", "title": row["title"]})
        rows.append(i)
    data["projects"] = projects
    return data, rows


def _field_errors(fields: dict[str, str], rows: list[int]) -> dict[str, str]:
    """The model's fields (`company.siret`, `projects.0.title`) as the form's names."""
    out: dict[str, str] = {}
    for name, text in fields.items():
        parts = name.split(".")
        if parts[0] == "company" and len(parts) > 1:
            key = parts[1]
        elif parts[0] == "projects" and len(parts) > 1 and parts[1].isdigit():
            row = rows[int(parts[1])] if int(parts[1]) < len(rows) else 0
            key = f"project-{row}-" + (parts[2] if len(parts) > 2 else "title")
        elif parts[0] == "themes":
            key = "themes"
        elif parts[0] in ("company_id", "visited_on", "territory", "needs"):
            key = parts[0]
        else:
            key = "formulaire"
        out.setdefault(key, text)
    return out


async def _entry(
    request: Request,
    ctx: Ctx,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    code: int = 200,
    company: picker.Pick | None = None,
) -> Response:
    # The network's staff may pick the company in the directory (a list, or a search).
    if company is None and ctx.principal.sees_everything:
        company = await picker.pick(
            ctx, COMPANIES, "company_id", values["company_id"], values["company_text"]
        )
    return page(
        request,
        "visit_new.html",
        {
            "me": await procs.me(ctx),
            "v": values,
            "errors": errors or {},
            "message": message,
            "company": company,
            "themes": THEMES,
            "today": datetime.now(PARIS).date().isoformat(),
            "kinds": list(ProjectKind),
            "max_rows": MAX_ROWS,
            **_labels(),
        },
        code,
    )


@router.get("/visites/nouvelle", response_class=HTMLResponse)
async def new_visit(request: Request, ctx: PageContext) -> Response:
    if not await _may_record(ctx):
        return _message(
            request,
            await procs.me(ctx),
            "Seuls les conseillers d'une chambre ou d'une association, et l'équipe du réseau, "
            "enregistrent des visites.",
            403,
        )
    values = _form_values({}, FIRST_ROWS)
    values["visited_on"] = datetime.now(PARIS).date().isoformat()
    return await _entry(request, ctx, values)


@router.post("/visites/nouvelle")
async def record_visit(request: Request, ctx: PageContext) -> Response:
    form = await request.form()
    raw: dict[str, Any] = {k: form.get(k) for k in form}
    raw["themes"] = [str(t) for t in form.getlist("themes")]
    typed_rows = str(form.get("rows", FIRST_ROWS))
    rows = min(max(int(typed_rows) if typed_rows.isdigit() else FIRST_ROWS, 1), MAX_ROWS)
    if "ajouter" in form:  # one more project row, nothing recorded yet
        return await _entry(request, ctx, _form_values(raw, min(rows + 1, MAX_ROWS)))
    values = _form_values(raw, rows)
    if values["company_mode"] == "annuaire":  # found by its name if typed
        unsettled, chosen = await picker.resolve(
            ctx, COMPANIES, "company_id", values["company_id"], values["company_text"]
        )
        if unsettled is not None:
            said = {"company_id": picker.refusal(unsettled)}
            return await _entry(request, ctx, values, said, None, 422, unsettled)
        values["company_id"] = chosen or ""
    data, sent = _visit_data(values)
    try:
        if values["company_mode"] == "annuaire" and not values["company_id"]:
            searched = "company_id_texte" in form  # the directory's search field, not a list
            raise Invalid(
                "company_id",
                "indiquez le nom, la commune ou le SIRET de l'entreprise"
                if searched
                else "choisissez l'entreprise dans la liste",
            )
        visit = await visits.record_visit(ctx, model_of(VisitCreate, data))
    except Exception as err:
        fields, message, code = refused(err)
        if code == status.HTTP_403_FORBIDDEN:
            return _message(request, await procs.me(ctx), message, code)
        return await _entry(request, ctx, values, _field_errors(fields, sent), message, code)
    return done(f"/visites/{visit.id}", f"Visite chez {visit.company_name} enregistrée.")


# --- a visit -------------------------------------------------------------------------------


async def _visit_page(
    request: Request,
    ctx: Ctx,
    visit_id: UUID,
    extra: dict[str, Any] | None = None,
    code: int = 200,
) -> Response:
    me = await procs.me(ctx)
    try:
        visit = await visits.visible_visit(ctx, visit_id)
    except Exception as err:
        _, message, status_code = refused(err)
        return _message(request, me, message, status_code)
    p = ctx.principal
    launcher = visits.launch_campaign.allows(p)
    agencies, services = [], []
    if launcher and visit.company_id is not None:
        agencies = (
            await orgs.directory(ctx, OrganisationFilter(kind=OrganisationKind.AGENCY, limit=100))
        ).items
        services = await pl.list_services(ctx, include_withdrawn=False)
    handed = await visits.handed_tasks(ctx, visit)
    return page(
        request,
        "visit.html",
        {
            "me": me,
            "visit": visit,
            "launcher": launcher,
            # Who says where a project stands: the network, the adviser's organisation.
            "tracker": visits.update_project.allows(p)
            and (p.sees_everything or p.organisation_id == visit.adviser_organisation_id),
            "all_project_statuses": list(ProjectStatus),
            "agencies": agencies,
            "services": services,
            "handed": handed,
            "deadline": (datetime.now(PARIS).date() + timedelta(days=30)).isoformat(),
            "done": request.query_params.get("fait"),
            "values": {},
            "errors": {},
            "project_error": None,
            "error_project": None,
            **_labels(),
            **(extra or {}),
        },
        code,
    )


@router.get("/visites/{visit_id}", response_class=HTMLResponse)
async def visit_page(request: Request, visit_id: UUID, ctx: PageContext) -> Response:
    return await _visit_page(request, ctx, visit_id)


@router.post("/visites/{visit_id}/projets/{project_id}/campagne")
async def launch_campaign(
    request: Request, visit_id: UUID, project_id: UUID, ctx: PageContext
) -> Response:
    """The network's staff launch a recruitment project's campaign for the visited company."""
    form = await request.form()
    names = ("title", "position", "count", "contract", "place_postcode", "postcodes", "deadline")
    values: dict[str, Any] = {k: str(form.get(k, "")).strip() for k in names}
    values["agency_ids"] = [str(a) for a in form.getlist("agency_ids")]
    try:
        visit = await visits.visible_visit(ctx, visit_id)
        deadline = values["deadline"]
        data = {
            "request_id": f"projet-{project_id}",
            "employer_id": str(visit.company_id),
            "title": values["title"],
            "positions": [
                {
                    "title": values["position"] or values["title"],
                    "count": values["count"] or "1",
                    "contract": values["contract"],
                    "place_postcode": values["place_postcode"],
                }
            ],
            "territory_postcodes": [c for c in values["postcodes"].replace(",", " ").split()],
            "agency_ids": values["agency_ids"],
            "deadline": _end_of_day(deadline) if deadline else "",
        }
        await visits.launch_campaign(ctx, project_id, model_of(CampaignCreate, data))
    except Exception as err:
        fields, message, code = refused(err)
        if code == status.HTTP_403_FORBIDDEN:
            return _message(request, await procs.me(ctx), message, code)
        return await _visit_page(
            request, ctx, visit_id, _refusal(project_id, values, fields, message), code
        )
    return done(f"/visites/{visit_id}", "Campagne lancée pour le projet.")


@router.post("/visites/{visit_id}/projets/{project_id}/service")
async def request_service(
    request: Request, visit_id: UUID, project_id: UUID, ctx: PageContext
) -> Response:
    """The network's staff request a pooled service for the visited company."""
    form = await request.form()
    values: dict[str, Any] = {
        k: str(form.get(k, "")).strip() for k in ("code", "quantity", "needed_by", "note")
    }
    try:
        await visits.visible_visit(ctx, visit_id)
        service = await pl.catalogue_service(ctx, values["code"])
        data = {
            "request_id": f"projet-{project_id}",
            "quantity": values["quantity"],
            "needed_by": values["needed_by"],
            "note": values["note"],
        }
        await visits.request_service(ctx, project_id, service, model_of(ServiceRequestCreate, data))
    except Exception as err:
        fields, message, code = refused(err)
        if code == status.HTTP_403_FORBIDDEN:
            return _message(request, await procs.me(ctx), message, code)
        return await _visit_page(
            request, ctx, visit_id, _refusal(project_id, values, fields, message), code
        )
    return done(f"/visites/{visit_id}", f"Service « {service.name} » demandé pour le projet.")


@router.post("/visites/{visit_id}/projets/{project_id}/etat")
async def update_project(
    request: Request, visit_id: UUID, project_id: UUID, ctx: PageContext
) -> Response:
    """The adviser (or the network) says where a project stands."""
    form = await request.form()
    values = {"status": str(form.get("status", "")).strip()}
    try:
        await visits.visible_visit(ctx, visit_id)
        updated = await visits.update_project(
            ctx, project_id, model_of(ActionProjectUpdate, values)
        )
    except Exception as err:
        fields, message, code = refused(err)
        if code == status.HTTP_403_FORBIDDEN:
            return _message(request, await procs.me(ctx), message, code)
        return await _visit_page(
            request, ctx, visit_id, _refusal(project_id, values, fields, message), code
        )
    said = PROJECT_STATUS_LABELS[updated.status]
    return done(f"/visites/{visit_id}", f"Projet « {updated.title} » : {said}.")


def _end_of_day(day: str) -> str:
    """A deadline typed as a date: that day's end on the Paris clock."""
    try:
        parsed = datetime.fromisoformat(day).date()
    except ValueError:
        return day  # the model refuses it in French
    return datetime.combine(parsed, time(23, 59), PARIS).isoformat()


def _refusal(
    project_id: UUID, values: dict[str, Any], fields: dict[str, str], message: str
) -> dict[str, Any]:
    names = {
        "positions.0.title": "position",
        "positions.0.count": "count",
        "positions.0.contract": "contract",
        "positions.0.place_postcode": "place_postcode",
        "territory_postcodes": "postcodes",
        "agency_ids": "agency_ids",
    }
    errors: dict[str, str] = {}
    for name, text in fields.items():
        key = names.get(name) or names.get(".".join(name.split(".")[:1])) or name
        if key.startswith("territory_postcodes"):
            key = "postcodes"
        errors.setdefault(key, text)
    return {
        "values": values,
        "errors": errors,
        "project_error": message,
        "error_project": project_id,
    }
