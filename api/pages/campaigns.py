"""Recruitment campaigns for the network's staff: launch, the campaign page (positions,
board of referrals, screening, per-agency figures, report), cancel, erasure. Employers and
agencies see the list and a campaign's positions; their referrals are on their own pages
(`api/pages/candidates.py`)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.commands import organisations as orgs
from api.commands import processes as procs
from api.commands import recruitment as rec
from api.commands.base import Ctx
from api.deps import PageContext, PrintableContext
from api.errors import describe
from api.pages import forms, picker
from api.pages.render import PAGE_SIZE, page
from api.validation import field_errors
from domain.auth import Role
from domain.csv_export import MEDIA_TYPE as CSV_MEDIA_TYPE
from domain.csv_export import csv_text
from domain.errors import FieldError
from domain.formats import PARIS
from domain.labels import CAMPAIGN_STATUS_LABELS, CONTRACT_LABELS
from domain.organisations import OrganisationFilter, OrganisationKind, OrganisationStatus
from domain.recruitment import (
    TERMINAL_CAMPAIGN,
    CampaignCancelCreate,
    CampaignCreate,
    CampaignPublic,
    CampaignStatus,
    ContractType,
    ReferralPublic,
    ReferralStep,
    ScreeningCreate,
    report_csv_rows,
)

router = APIRouter(include_in_schema=False)

ROWS = 3  # empty position rows a new form shows (« ajouter un poste » adds one)
MAX_ROWS = 30
CARDS = 20  # cards a board column (and the closed list) shows; the column says how many
# The board's columns, in the order a referral moves; closed referrals are listed below.
BOARD = [
    ReferralStep.SCREENING,
    ReferralStep.SHORTLISTED,
    ReferralStep.INTERVIEW_REQUESTED,
    ReferralStep.INTERVIEW,
    ReferralStep.HIRED,
]
EMPLOYERS = OrganisationFilter(kind=OrganisationKind.MEMBER, status=OrganisationStatus.ACTIVE)
CLOSED_STEP = "closes"  # the closed referrals' page (every step not on the board)
POSITION_FIELDS = ("title", "count", "contract", "place_postcode", "place_commune")


async def _message(
    request: Request, ctx: Ctx, message: str, code: int, back: str = "/campagnes"
) -> Response:
    return page(
        request,
        "message.html",
        {"me": await procs.me(ctx), "message": message, "back": back},
        code,
    )


async def _visible(request: Request, ctx: Ctx, campaign_id: UUID) -> CampaignPublic | Response:
    """The campaign this person may read, or the page saying why not."""
    try:
        return await rec.visible_campaign(ctx, campaign_id)
    except Exception as err:
        refusal = describe(err)
        if refusal is None:
            raise
        return await _message(request, ctx, refusal.detail, refusal.status_code)


def _errors(err: Exception) -> tuple[int, list[FieldError], str | None] | None:
    """A refusal as (status, fields at fault, sentence without a field); None: our defect."""
    if isinstance(err, ValidationError):
        return 422, field_errors(err.errors()), None
    refusal = describe(err)
    if refusal is None:
        return None
    return refusal.status_code, refusal.errors, None if refusal.errors else refusal.detail


# --- the list ----------------------------------------------------------------------------


@router.get("/campagnes", response_class=HTMLResponse)
async def campaigns_page(
    request: Request, ctx: PageContext, statut: str = "", offset: int = 0
) -> Response:
    chosen = CampaignStatus(statut) if statut in set(CampaignStatus) else None
    found = await rec.list_campaigns(ctx, chosen, limit=PAGE_SIZE, offset=max(offset, 0))
    return page(
        request,
        "campaigns.html",
        {
            "me": await procs.me(ctx),
            "page": found,
            "chosen": chosen,
            "all_statuses": list(CampaignStatus),
            "campaign_statuses": CAMPAIGN_STATUS_LABELS,
            "may_launch": rec.launch.allows(ctx.principal),
            "query": urlencode({"statut": chosen.value}) if chosen else "",
            "offset": max(offset, 0),
            "page_size": PAGE_SIZE,
        },
    )


# --- launch ------------------------------------------------------------------------------


async def _launch_form(
    request: Request,
    ctx: Ctx,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    general: str | None = None,
    code: int = 200,
    employer: picker.Pick | None = None,
) -> Response:
    employer = employer or await picker.pick(
        ctx, EMPLOYERS, "employer_id", form["employer_id"], form.get("employer_text", "")
    )
    agencies = await orgs.directory(
        ctx, OrganisationFilter(kind=OrganisationKind.AGENCY, limit=500)
    )
    return page(
        request,
        "campaign_new.html",
        {
            "me": await procs.me(ctx),
            "form": form,
            "errors": errors or {},
            "general": general,
            "employer": employer,
            "agencies": agencies.items,
            "contracts": [(c.value, CONTRACT_LABELS[c]) for c in ContractType],
        },
        code,
    )


@router.get("/campagnes/nouvelle", response_class=HTMLResponse)
async def new_campaign_page(
    request: Request, ctx: PageContext, employeur: UUID | None = None
) -> Response:
    if not rec.launch.allows(ctx.principal):
        return await _message(
            request, ctx, "Le lancement d'une campagne est réservé à l'équipe du réseau.", 403
        )
    form = {
        "request_id": forms.new_request_id(),
        "rows": [dict.fromkeys(POSITION_FIELDS, "") for _ in range(ROWS)],
        "agency_ids": [],
        "decision_sla_days": "5",
        "employer_id": str(employeur) if employeur else "",  # from the company's page
    }
    return await _launch_form(request, ctx, form)


def _typed(raw: Any) -> dict[str, Any]:
    """The launch form as typed (kept to show it again): position rows in order."""
    n = str(raw.get("rows", ""))
    rows = [
        {k: str(raw.get(f"pos-{i}-{k}", "")).strip() for k in POSITION_FIELDS}
        for i in range(min(int(n), MAX_ROWS) if n.isdigit() else ROWS)
    ]
    return {
        "request_id": str(raw.get("request_id", "")) or forms.new_request_id(),
        "title": str(raw.get("title", "")).strip(),
        "employer_id": picker.typed(raw, "employer_id")[0],
        "employer_text": picker.typed(raw, "employer_id")[1],
        "rows": rows,
        "territory": str(raw.get("territory", "")).strip(),
        "agency_ids": [str(a) for a in raw.getlist("agency_ids")],
        "deadline": str(raw.get("deadline", "")).strip(),
        "decision_sla_days": str(raw.get("decision_sla_days", "")).strip(),
    }


def _deadline(typed: str) -> datetime | str:
    """A day typed in the form: the end of that day on the Paris clock."""
    try:
        return datetime.combine(date.fromisoformat(typed), time(23, 59), tzinfo=PARIS)
    except ValueError:
        return typed


def _campaign_body(form: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """The launch command's input from the form, and each position's form row."""
    # A row is a position once its title or count is typed; a field left empty is missing.
    filled = [(i, r) for i, r in enumerate(form["rows"]) if r["title"] or r["count"]]
    positions = [{k: v for k, v in r.items() if v != ""} for _, r in filled]
    body: dict[str, Any] = {
        "request_id": form["request_id"],
        "title": form["title"],
        "positions": positions,
        "territory_postcodes": [
            t for t in form["territory"].replace(",", " ").replace(";", " ").split() if t
        ],
        "agency_ids": form["agency_ids"],
        "deadline": _deadline(form["deadline"]),
    }
    if form["employer_id"]:
        body["employer_id"] = form["employer_id"]
    if form["decision_sla_days"]:
        body["decision_sla_days"] = form["decision_sla_days"]
    return body, [i for i, _ in filled]


def _field_key(field: str, rows: list[int]) -> str:
    """A command's field (« positions.1.count ») as the form's (« pos-2-count »)."""
    parts = field.split(".")
    if parts[0] == "positions" and len(parts) >= 3 and parts[1].isdigit():
        k = int(parts[1])
        return f"pos-{rows[k] if k < len(rows) else k}-{parts[2]}"
    return parts[0]


FIELD_WORDS = {  # what a refusal names, when the field has no place of its own in the form
    "deadline": "une date est attendue (JJ/MM/AAAA)",
}


@router.post("/campagnes/nouvelle", response_class=HTMLResponse)
async def launch_from_page(request: Request, ctx: PageContext) -> Response:
    if not rec.launch.allows(ctx.principal):
        return await _message(
            request, ctx, "Le lancement d'une campagne est réservé à l'équipe du réseau.", 403
        )
    raw = await request.form()
    form = _typed(raw)
    if raw.get("ajouter"):  # « Ajouter un poste »: the same form, one more row, nothing lost
        if len(form["rows"]) < MAX_ROWS:
            form["rows"].append(dict.fromkeys(POSITION_FIELDS, ""))
        return await _launch_form(request, ctx, form)
    unsettled, chosen = await picker.resolve(
        ctx, EMPLOYERS, "employer_id", form["employer_id"], form["employer_text"]
    )
    if unsettled is not None:  # a search that found none, or several to choose among
        said = {"employer_id": picker.refusal(unsettled)}
        return await _launch_form(request, ctx, form, said, None, 422, unsettled)
    form["employer_id"] = chosen or ""
    body, rows = _campaign_body(form)
    try:
        campaign = await rec.launch(ctx, CampaignCreate.model_validate(body))
    except Exception as err:
        found = _errors(err)
        if found is None:
            raise
        code, fields, general = found
        errors: dict[str, str] = {}
        for e in fields:
            key = _field_key(e.field, rows)
            if key == "deadline" and e.type.startswith("datetime"):
                errors[key] = FIELD_WORDS["deadline"]
            else:
                errors.setdefault(key, e.message)
        known = {"title", "employer_id", "positions", "territory_postcodes", "agency_ids"}
        known |= {"deadline", "decision_sla_days"}
        stray = [m for k, m in errors.items() if k not in known and not k.startswith("pos-")]
        if stray:
            general = "; ".join(filter(None, [general, *stray]))
        return await _launch_form(request, ctx, form, errors, general, code)
    done = urlencode({"fait": "Campagne lancée : l'offre est relayée aux agences invitées."})
    return RedirectResponse(f"/campagnes/{campaign.id}?{done}", status.HTTP_303_SEE_OTHER)


# --- a campaign --------------------------------------------------------------------------


def _position_bars(c: CampaignPublic) -> list[dict[str, Any]]:
    return [
        {
            "title": p.title,
            "count": p.count,
            "filled": p.filled,
            "contract": CONTRACT_LABELS.get(p.contract, p.contract),
            "place": f"{p.place_postcode} {p.place_commune or ''}".strip(),
            "width": 100 * p.filled / p.count if p.count else 0,
        }
        for p in c.positions
    ]


def _days(since: datetime | None) -> int:
    if since is None:
        return 0
    return max(0, (datetime.now(UTC) - since).days)


def _card(r: ReferralPublic, titles: dict[UUID, str]) -> dict[str, Any]:
    name = f"{r.identity.first_name} {r.identity.last_name}" if r.identity else None
    return {
        "id": r.id,
        "name": name,
        "pseudonym": r.pseudonym,
        "position": titles.get(r.position_id) if r.position_id else None,
        "agency": r.agency_name,
        "days": _days(r.updated_at or r.created_at),
        "status": r.status,
        "reason": r.reason,
    }


def _agency_figures(
    c: CampaignPublic, counts: list[tuple[UUID, ReferralStep, bool, int]]
) -> list[dict[str, Any]]:
    """Per invited agency, its referrals by where they stand (counted in SQL)."""
    by: dict[UUID, Counter[str]] = {a: Counter() for a in c.agency_ids}
    for agency, step, duplicate, count in counts:
        n = by.setdefault(agency, Counter())
        n["duplicates" if duplicate else "referrals"] += count
        if step in BOARD[:-1]:
            n["open"] += count
        elif step == ReferralStep.HIRED:
            n["hired"] += count
    return [{"id": a, "name": None, **n} for a, n in by.items()]


async def _campaign_page(
    request: Request,
    ctx: Ctx,
    campaign: CampaignPublic,
    done: str | None = None,
    cancel: dict[str, Any] | None = None,
    code: int = 200,
) -> Response:
    p = ctx.principal
    board: dict[str, list[dict[str, Any]]] = {s.value: [] for s in BOARD}
    in_column: dict[str, int] = {s.value: 0 for s in BOARD}
    closed: list[dict[str, Any]] = []
    closed_total = 0
    figures: list[dict[str, Any]] = []
    total = 0
    if p.sees_everything:
        # Counted in SQL; each column shows its first cards only (a campaign of thousands of
        # referrals reads as many rows as one of ten).
        counts, names = await rec.stage_counts(ctx, campaign)
        for _, step, _, n in counts:
            total += n
            if step.value in in_column:
                in_column[step.value] += n
            else:
                closed_total += n
        titles = {pos.id: pos.title for pos in campaign.positions}
        for step in BOARD:
            if in_column[step.value]:
                found = await rec.list_referrals(ctx, campaign, [step], CARDS, 0)
                board[step.value] = [_card(r, titles) for r in found.items]
        if closed_total:
            shut = [st for st in ReferralStep if st not in BOARD]  # what the count calls closed
            found = await rec.list_referrals(ctx, campaign, shut, CARDS, 0)
            closed = [_card(r, titles) for r in found.items]
        figures = _agency_figures(campaign, counts)
        for f in figures:
            f["name"] = names.get(f["id"], "agence")
    open_ = campaign.status not in TERMINAL_CAMPAIGN
    return page(
        request,
        "campaign.html",
        {
            "me": await procs.me(ctx),
            "c": campaign,
            "status_label": CAMPAIGN_STATUS_LABELS.get(campaign.status, campaign.status),
            "positions": _position_bars(campaign),
            "target": sum(pos.count for pos in campaign.positions),
            "hired": sum(pos.filled for pos in campaign.positions),
            "board": board,
            "in_column": in_column,
            "columns": BOARD,
            "closed": closed,
            "closed_total": closed_total,
            "figures": figures,
            "referrals": total,
            "done": done,
            "network": p.sees_everything,
            "may_report": p.role != Role.AGENCY,
            "may_cancel": open_ and rec.cancel.allows(p),
            "cancel": cancel or {"request_id": forms.new_request_id(), "errors": {}},
        },
        code,
    )


@router.get("/campagnes/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(
    request: Request, campaign_id: UUID, ctx: PageContext, fait: str | None = None
) -> Response:
    campaign = await _visible(request, ctx, campaign_id)
    if isinstance(campaign, Response):
        return campaign
    return await _campaign_page(request, ctx, campaign, fait)


STEP_PAGE = 25  # cards a page of one step shows


@router.get("/campagnes/{campaign_id}/etape", response_class=HTMLResponse)
async def campaign_step(
    request: Request,
    campaign_id: UUID,
    ctx: PageContext,
    etape: str = ReferralStep.SCREENING.value,
    page_no: Annotated[int, Query(alias="page")] = 1,
) -> Response:
    """One column of the board (or the closed referrals), page by page: the network's view
    of every referral of a campaign, however many."""
    if not ctx.principal.sees_everything:
        return await _message(
            request, ctx, "Les candidatures par étape sont réservées à l'équipe du réseau.", 403
        )
    campaign = await _visible(request, ctx, campaign_id)
    if isinstance(campaign, Response):
        return campaign
    back = f"/campagnes/{campaign.id}"
    closed = etape == CLOSED_STEP
    if not closed and etape not in {s.value for s in BOARD}:
        return await _message(request, ctx, "Cette étape n'existe pas.", 404, back)
    statuses = [st for st in ReferralStep if st not in BOARD] if closed else [ReferralStep(etape)]
    found, page_no, last = await forms.page_of(
        lambda offset: rec.list_referrals(ctx, campaign, statuses, STEP_PAGE, offset),
        STEP_PAGE,
        page_no,
    )
    titles = {pos.id: pos.title for pos in campaign.positions}
    return page(
        request,
        "campaign_step.html",
        {
            "me": await procs.me(ctx),
            "c": campaign,
            "step": etape,
            "closed": closed,
            "cards": [_card(r, titles) for r in found.items],
            "total": found.total,
            "pages": {"no": page_no, "last": last, "base": f"{back}/etape?etape={etape}"},
        },
    )


@router.post("/campagnes/{campaign_id}/annulation", response_class=HTMLResponse)
async def cancel_from_page(request: Request, campaign_id: UUID, ctx: PageContext) -> Response:
    raw = await request.form()
    typed: dict[str, Any] = {
        "request_id": str(raw.get("request_id", "")) or forms.new_request_id(),
        "reason": str(raw.get("reason", "")).strip(),
        "confirm": raw.get("confirm") == "oui",
        "errors": {},
    }
    campaign = await _visible(request, ctx, campaign_id)
    if isinstance(campaign, Response):
        return campaign
    if not typed["confirm"]:
        typed["errors"] = {"confirm": "cochez la case pour confirmer l'annulation."}
        return await _campaign_page(request, ctx, campaign, cancel=typed, code=422)
    try:
        await rec.cancel(
            ctx,
            campaign,
            CampaignCancelCreate.model_validate(
                {"request_id": typed["request_id"], "reason": typed["reason"]}
            ),
        )
    except Exception as err:
        found = _errors(err)
        if found is None:
            raise
        code, fields, general = found
        errors = {e.field: e.message for e in fields}
        if general:
            errors["general"] = general
        typed["errors"] = errors
        return await _campaign_page(request, ctx, campaign, cancel=typed, code=code)
    done = urlencode({"fait": "Campagne annulée : les agences sont prévenues."})
    return RedirectResponse(f"/campagnes/{campaign.id}?{done}", status.HTTP_303_SEE_OTHER)


# --- a referral: profile, screening, erasure ---------------------------------------------


async def _referral_page(
    request: Request,
    ctx: Ctx,
    referral_id: UUID,
    done: str | None = None,
    screening: dict[str, Any] | None = None,
    code: int = 200,
) -> Response:
    """A referral as its reader may see it (the network: identity and CV, and the screening
    form while it waits for it); the agency and the employer see what the command shows
    them."""
    p = ctx.principal
    access = await rec.visible_referral(ctx, referral_id)
    campaign = await rec.visible_campaign(ctx, access.campaign_id)
    r = await rec.read_referral(ctx, access)
    titles = {pos.id: pos.title for pos in campaign.positions}
    return page(
        request,
        "campaign_referral.html",
        {
            "me": await procs.me(ctx),
            "c": campaign,
            "r": r,
            "card": _card(r, titles),
            "done": done,
            "network": p.sees_everything,
            "may_screen": r.status == ReferralStep.SCREENING and rec.screen.allows(p),
            "may_erase": rec.erase.allows(p) and r.identity is not None,
            "screening": screening or {"request_id": forms.new_request_id(), "errors": {}},
        },
        code,
    )


@router.get("/campagnes/candidatures/{referral_id}", response_class=HTMLResponse)
async def referral_page(
    request: Request, referral_id: UUID, ctx: PageContext, fait: str | None = None
) -> Response:
    try:
        return await _referral_page(request, ctx, referral_id, fait)
    except Exception as err:
        refusal = describe(err)
        if refusal is None:
            raise
        return await _message(request, ctx, refusal.detail, refusal.status_code)


@router.post("/campagnes/candidatures/{referral_id}/tri", response_class=HTMLResponse)
async def screen_from_page(request: Request, referral_id: UUID, ctx: PageContext) -> Response:
    """« Trier la candidature »: the screen command, as the task inbox runs it."""
    raw = await request.form()
    typed: dict[str, Any] = {
        "request_id": str(raw.get("request_id", "")) or forms.new_request_id(),
        "retained": str(raw.get("retained", "")),
        "reason": str(raw.get("reason", "")).strip(),
        "errors": {},
    }
    try:
        access = await rec.visible_referral(ctx, referral_id)
        body = {k: typed[k] for k in ("request_id", "retained", "reason") if typed[k] != ""}
        state = await rec.screen(ctx, access, ScreeningCreate.model_validate(body))
    except Exception as err:
        found = _errors(err)
        if found is None:
            raise
        code, fields, general = found
        if code in (status.HTTP_403_FORBIDDEN, status.HTTP_404_NOT_FOUND):
            return await _message(request, ctx, general or "Introuvable.", code)
        errors = {e.field: e.message for e in fields}
        if general:
            errors["general"] = general
        typed["errors"] = errors
        return await _referral_page(request, ctx, referral_id, screening=typed, code=code)
    verdict = "retenue" if state.step == ReferralStep.SHORTLISTED else "non retenue"
    done = urlencode({"fait": f"Candidature {state.pseudonym or ''} triée : {verdict}."})
    return RedirectResponse(f"/campagnes/{access.campaign_id}?{done}", status.HTTP_303_SEE_OTHER)


@router.post("/campagnes/candidatures/{referral_id}/effacement", response_class=HTMLResponse)
async def erase_from_page(request: Request, referral_id: UUID, ctx: PageContext) -> Response:
    """Erase a candidate's identity, contact and CV on their request."""
    raw = await request.form()
    back = f"/campagnes/candidatures/{referral_id}"
    try:
        access = await rec.visible_referral(ctx, referral_id)
        if raw.get("confirm") != "oui":
            return await _message(
                request,
                ctx,
                "Rien n'est effacé : cochez la case pour confirmer la demande du candidat.",
                422,
                back,
            )
        await rec.erase(ctx, access)
    except Exception as err:
        refusal = describe(err)
        if refusal is None:
            raise
        return await _message(request, ctx, refusal.detail, refusal.status_code, back)
    done = urlencode({"fait": "Données personnelles effacées (les statistiques restent)."})
    return RedirectResponse(f"{back}?{done}", status.HTTP_303_SEE_OTHER)


# --- the report --------------------------------------------------------------------------


@router.get("/campagnes/{campaign_id}/bilan", response_class=HTMLResponse)
async def report_page(request: Request, campaign_id: UUID, ctx: PrintableContext) -> Response:
    """The campaign's report, printable, with CSS bars."""
    try:
        campaign = await rec.visible_campaign(ctx, campaign_id)
        report = await rec.report(ctx, campaign)
    except Exception as err:
        refusal = describe(err)
        if refusal is None:
            raise
        return await _message(request, ctx, refusal.detail, refusal.status_code)
    top = max([a.referrals for a in report.agencies] + [1])
    reasons_top = max([*report.rejection_reasons.values(), 1])
    return page(
        request,
        "campaign_report.html",
        {
            "me": await procs.me(ctx),
            "c": campaign,
            "rep": report,
            "status_label": CAMPAIGN_STATUS_LABELS.get(report.status, report.status),
            "positions": [
                {"p": p, "width": 100 * p.hired / p.target if p.target else 0}
                for p in report.positions
            ],
            "agencies": [
                {
                    "a": a,
                    "ref_w": 100 * a.referrals / top,
                    "short_w": 100 * a.shortlisted / top,
                    "hired_w": 100 * a.hired / top,
                }
                for a in report.agencies
            ],
            "reasons": [
                {"reason": k, "n": n, "width": 100 * n / reasons_top}
                for k, n in report.rejection_reasons.items()
            ],
        },
    )


@router.get("/campagnes/{campaign_id}/bilan.csv")
async def report_csv(campaign_id: UUID, ctx: PrintableContext) -> Response:
    """The report as a spreadsheet, downloaded from its page with the person's session."""
    campaign = await rec.visible_campaign(ctx, campaign_id)
    report = await rec.report(ctx, campaign)
    return Response(
        csv_text(report_csv_rows(report)),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="bilan-{campaign.id}.csv"'},
    )
