"""Recruitment for agencies and employers: an agency's referral form and its candidates
(« Mes candidats »: consent, withdrawal); an employer's shortlist (« Sélection »: interest,
identity once consent is given, decision). Every act goes through its command."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from api.commands import processes as procs
from api.commands import recruitment as rec
from api.commands.base import Ctx
from api.deps import PageContext
from api.errors import describe
from api.pages import forms
from api.pages.render import page
from api.validation import field_errors
from domain.auth import Role
from domain.errors import DomainError, Invalid, NotFound
from domain.labels import CONTRACT_LABELS
from domain.recruitment import (
    CampaignPublic,
    ConsentCreate,
    DecisionCreate,
    InterviewRequestCreate,
    ReferralCreate,
    ReferralPublic,
    ReferralRegistered,
    ReferralStep,
    WithdrawalCreate,
    intake_refusal,
)

router = APIRouter(include_in_schema=False)
M = TypeVar("M", bound=BaseModel)

AGENCY_ONLY = "Page réservée aux agences emploi : elle montre les candidats qu'elles ont proposés."
EMPLOYER_ONLY = "Page réservée à l'employeur de la campagne et à l'équipe du réseau."
CAMPAIGNS_SHOWN = 5  # an agency's latest campaigns on « Mes candidats » (all: « Recrutements »)
REFERRALS_SHOWN = 5  # per campaign (those waiting for the agency's consent come first)
PAGE_SIZE = 25  # one campaign's candidates, page by page
DONE = {
    "consentement": "C'est fait : la réponse du candidat est transmise.",
    "retrait": "C'est fait : le candidat est retiré de la campagne.",
    "entretien": "C'est fait : l'agence recueille le consentement du candidat à un entretien.",
    "pas-interesse": "C'est fait : ce profil est écarté, l'agence en est informée.",
    "decision": "C'est fait : votre décision est enregistrée, l'agence en est informée.",
}
# The employer's shortlist: what waits on it first, then what waits on others, then the rest.
SHORTLIST_ORDER = [
    ReferralStep.INTERVIEW,
    ReferralStep.SHORTLISTED,
    ReferralStep.INTERVIEW_REQUESTED,
    ReferralStep.HIRED,
]
OPEN_FOR_WITHDRAWAL = (
    ReferralStep.SCREENING,
    ReferralStep.SHORTLISTED,
    ReferralStep.INTERVIEW_REQUESTED,
    ReferralStep.INTERVIEW,
)
# Every field of a referral form, in the order it shows them.
REFERRAL_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "postcode",
    "commune",
    "skills",
    "experience_years",
    "position_id",
    "cv_text",
)

Errors = dict[str, str]  # field -> French message ("formulaire": the form as a whole)


def _typed(form: Any) -> dict[str, str]:
    """What the person typed, trimmed (the CSRF token aside)."""
    return {k: v.strip() for k, v in form.items() if k != "csrf" and isinstance(v, str)}


def _model(cls: type[M], typed: dict[str, str]) -> M:
    """The act's model from the typed fields (empty ones left out, skills split on commas)."""
    data: dict[str, Any] = {k: v for k, v in typed.items() if v != "" and k in cls.model_fields}
    if "skills" in data:
        data["skills"] = [s.strip() for s in data["skills"].split(",") if s.strip()]
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise Invalid.of(field_errors(err.errors())) from None


def _refusal(err: Exception, fields: tuple[str, ...]) -> tuple[Errors, int]:
    """A refusal as the form shows it: each field's message beside it, the rest on top."""
    refusal = describe(err)
    if refusal is None:
        raise err
    errors: Errors = {}
    for e in refusal.errors:
        name = e.field.split(".")[0]
        key = name if name in fields else "formulaire"
        if key == "formulaire":
            errors[key] = f"{errors.get(key, '')} {name or 'formulaire'} : {e.message}.".strip()
        else:
            errors.setdefault(key, e.message)
    if not refusal.errors:
        errors["formulaire"] = refusal.detail
    return errors, refusal.status_code


def _refused(request: Request, me: Any, err: DomainError | Exception) -> Response:
    refusal = describe(err)
    if refusal is None:
        raise err
    return page(request, "message.html", {"me": me, "message": refusal.detail}, refusal.status_code)


def _forbidden(request: Request, me: Any, message: str) -> Response:
    return page(request, "message.html", {"me": me, "message": message}, 403)


def open_for_intake(c: CampaignPublic) -> str | None:
    """Why a campaign takes no referral now (None: it does) — the command's own rule."""
    return intake_refusal(status=c.status, deadline=c.deadline, now=datetime.now(UTC))


def _name(r: ReferralPublic) -> str:
    return f"{r.identity.first_name} {r.identity.last_name}" if r.identity else r.pseudonym


# --- the agency: « Mes candidats » ------------------------------------------------------


async def _my_candidates(
    request: Request,
    ctx: Ctx,
    *,
    done: str | None = None,
    proposed: UUID | None = None,
    failed: UUID | None = None,
    errors: Errors | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
    campaign_id: UUID | None = None,
    page_no: int = 1,
) -> Response:
    """The agency's latest campaigns, each with the candidates waiting for its consent first
    and its first ones proposed; or, given `campaign_id`, that campaign's candidates page by
    page."""
    me = await procs.me(ctx)
    if ctx.principal.role != Role.AGENCY:
        return _forbidden(request, me, AGENCY_ONLY)
    sections = []
    pages: dict[str, Any] | None = None
    more_campaigns, more_is_lower_bound = 0, False
    if campaign_id is not None:
        try:
            c = await rec.visible_campaign(ctx, campaign_id)
        except Exception as err:
            return _refused(request, me, err)
        found, page_no, last = await forms.page_of(
            lambda offset: rec.list_referrals(ctx, c, None, PAGE_SIZE, offset), PAGE_SIZE, page_no
        )
        shown = found.items
        asking_total = 0
        if page_no == 1:  # those waiting for the agency's consent first, as on the overview
            asking = await rec.list_referrals(
                ctx, c, [ReferralStep.INTERVIEW_REQUESTED], PAGE_SIZE, 0
            )
            first = {r.id for r in asking.items}
            shown = asking.items + [r for r in found.items if r.id not in first]
            asking_total = asking.total
        sections.append(_section(c, shown, found.total, asking_total))
        pages = {"no": page_no, "last": last, "base": f"/candidats/campagne/{c.id}"}
    else:
        listed = await rec.list_campaigns(ctx, None, limit=CAMPAIGNS_SHOWN, offset=0)
        campaigns, more_campaigns = listed.items, listed.total - len(listed.items)
        more_is_lower_bound = listed.total_is_lower_bound
        for c in campaigns:
            # Those the agency must act on (consent) first, whatever the campaign's size.
            asking = await rec.list_referrals(
                ctx, c, [ReferralStep.INTERVIEW_REQUESTED], REFERRALS_SHOWN, 0
            )
            found = await rec.list_referrals(ctx, c, None, REFERRALS_SHOWN, 0)
            first = {r.id for r in asking.items}
            shown = asking.items + [r for r in found.items if r.id not in first]
            sections.append(_section(c, shown, found.total, asking.total))
    answer: ReferralRegistered | None = None
    if proposed is not None:
        try:
            answer = await rec.registration_of(ctx, proposed)
        except NotFound:
            answer = None
    return page(
        request,
        "candidates.html",
        {
            "me": me,
            "sections": sections,
            "pages": pages,
            "more_campaigns": more_campaigns if campaign_id is None else 0,
            "more_is_lower_bound": more_is_lower_bound,
            "done": DONE.get(done or ""),
            "answer": answer,
            "failed": failed,
            "errors": errors or {},
            "typed": typed or {},
            "request_id": forms.new_request_id,
            "name_of": _name,
            "withdrawable": OPEN_FOR_WITHDRAWAL,
        },
        status_code,
    )


def _section(
    c: CampaignPublic, shown: list[ReferralPublic], total: int, asking: int = 0
) -> dict[str, Any]:
    return {
        "c": c,
        "referrals": shown,
        "total": total,
        "asking": asking,
        "more": total > len(shown),
        "positions": {p.id: p.title for p in c.positions},
        "closed": open_for_intake(c),
    }


@router.get("/candidats", response_class=HTMLResponse)
async def my_candidates(
    request: Request,
    ctx: PageContext,
    fait: str | None = None,
    proposee: UUID | None = None,
) -> Response:
    return await _my_candidates(request, ctx, done=fait, proposed=proposee)


@router.get("/candidats/campagne/{campaign_id}", response_class=HTMLResponse)
async def campaign_candidates(
    request: Request,
    campaign_id: UUID,
    ctx: PageContext,
    page_no: Annotated[int, Query(alias="page")] = 1,
) -> Response:
    return await _my_candidates(request, ctx, campaign_id=campaign_id, page_no=max(1, page_no))


def _came_from(typed: dict[str, str]) -> tuple[UUID | None, int]:
    """The campaign page (and its page number) a consent or withdrawal form was sent from,
    when it was (hidden fields `campagne`, `page`); else the overview."""
    try:
        campaign_id = UUID(typed.get("campagne", ""))
    except ValueError:
        return None, 1
    page_no = typed.get("page", "1")
    return campaign_id, int(page_no) if page_no.isdigit() and len(page_no) < 7 else 1


def _back(typed: dict[str, str], what: str, referral_id: UUID) -> Response:
    campaign_id, page_no = _came_from(typed)
    url = f"/candidats/campagne/{campaign_id}?page={page_no}" if campaign_id else "/candidats"
    return forms.done(url, what, f"#r-{referral_id}")


@router.post("/candidats/{referral_id}/consentement", response_class=HTMLResponse)
async def give_consent(request: Request, referral_id: UUID, ctx: PageContext) -> Response:
    if ctx.principal.role != Role.AGENCY:
        return _forbidden(request, await procs.me(ctx), AGENCY_ONLY)
    typed = _typed(await request.form())
    try:
        referral = await rec.visible_referral(ctx, referral_id)
        await rec.consent(ctx, referral, _model(ConsentCreate, typed))
    except Exception as err:
        errors, code = _refusal(err, ("given",))
        came_from, page_no = _came_from(typed)
        return await _my_candidates(
            request,
            ctx,
            failed=referral_id,
            errors=errors,
            typed={**typed, "form": "consent"},
            status_code=code,
            campaign_id=came_from,
            page_no=page_no,
        )
    return _back(typed, "consentement", referral_id)


@router.post("/candidats/{referral_id}/retrait", response_class=HTMLResponse)
async def withdraw(request: Request, referral_id: UUID, ctx: PageContext) -> Response:
    if ctx.principal.role != Role.AGENCY:
        return _forbidden(request, await procs.me(ctx), AGENCY_ONLY)
    typed = _typed(await request.form())
    try:
        referral = await rec.visible_referral(ctx, referral_id)
        await rec.withdraw(ctx, referral, _model(WithdrawalCreate, typed))
    except Exception as err:
        errors, code = _refusal(err, ("reason",))
        came_from, page_no = _came_from(typed)
        return await _my_candidates(
            request,
            ctx,
            failed=referral_id,
            errors=errors,
            typed={**typed, "form": "withdraw"},
            status_code=code,
            campaign_id=came_from,
            page_no=page_no,
        )
    return _back(typed, "retrait", referral_id)


# --- the agency: « Proposer un candidat » -------------------------------------------------


async def _referral_form(
    request: Request,
    ctx: Ctx,
    campaign_id: UUID,
    *,
    typed: dict[str, str] | None = None,
    errors: Errors | None = None,
    request_id: str | None = None,
    status_code: int = 200,
) -> Response:
    me = await procs.me(ctx)
    if ctx.principal.role != Role.AGENCY:
        return _forbidden(request, me, AGENCY_ONLY)
    try:
        campaign = await rec.visible_campaign(ctx, campaign_id)
    except Exception as err:
        return _refused(request, me, err)
    return page(
        request,
        "candidate_form.html",
        {
            "me": me,
            "c": campaign,
            "closed": open_for_intake(campaign),
            "values": typed or {},
            "errors": errors or {},
            "request_id": request_id or forms.new_request_id(),
            "contracts": CONTRACT_LABELS,
        },
        status_code,
    )


@router.get("/candidats/proposer/{campaign_id}", response_class=HTMLResponse)
async def referral_form(request: Request, campaign_id: UUID, ctx: PageContext) -> Response:
    return await _referral_form(request, ctx, campaign_id)


@router.post("/candidats/proposer/{campaign_id}", response_class=HTMLResponse)
async def refer(request: Request, campaign_id: UUID, ctx: PageContext) -> Response:
    typed = _typed(await request.form())
    if ctx.principal.role != Role.AGENCY:
        return _forbidden(request, await procs.me(ctx), AGENCY_ONLY)
    try:
        campaign = await rec.visible_campaign(ctx, campaign_id)
        answer = await rec.refer(ctx, campaign, _model(ReferralCreate, typed))
    except Exception as err:
        errors, code = _refusal(err, REFERRAL_FIELDS)
        # Refused by the campaign's state (409): nothing was recorded under this request id,
        # but its referral is closed; another try gets a new one. Otherwise the same id
        # (an engine that did not answer may have recorded it: sent again, it counts once).
        keep = typed.get("request_id") if code != status.HTTP_409_CONFLICT else None
        return await _referral_form(
            request,
            ctx,
            campaign_id,
            typed=typed,
            errors=errors,
            request_id=keep,
            status_code=code,
        )
    return RedirectResponse(
        f"/candidats?{urlencode({'proposee': str(answer.referral_id)})}",
        status.HTTP_303_SEE_OTHER,
    )


# --- the employer: « Sélection » -----------------------------------------------------------


def _shortlist_key(r: ReferralPublic) -> tuple[int, datetime]:
    order = SHORTLIST_ORDER.index(r.status) if r.status in SHORTLIST_ORDER else len(SHORTLIST_ORDER)
    return order, r.created_at


async def _selection(
    request: Request,
    ctx: Ctx,
    campaign_id: UUID,
    *,
    done: str | None = None,
    failed: UUID | None = None,
    errors: Errors | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    me = await procs.me(ctx)
    p = ctx.principal
    if not (p.sees_everything or p.role == Role.MEMBER):
        return _forbidden(request, me, EMPLOYER_ONLY)
    try:
        campaign = await rec.visible_campaign(ctx, campaign_id)
    except Exception as err:
        return _refused(request, me, err)
    # The employer reads its shortlist only (the command's view); the network the same part.
    shown = None if p.role == Role.MEMBER else [*SHORTLIST_ORDER, ReferralStep.REJECTED]
    found = await rec.list_referrals(ctx, campaign, shown, REFERRALS_SHOWN, 0)
    return page(
        request,
        "shortlist.html",
        {
            "me": me,
            "c": campaign,
            "referrals": sorted(found.items, key=_shortlist_key),
            "positions": {pos.id: pos for pos in campaign.positions},
            "contracts": CONTRACT_LABELS,
            "done": DONE.get(done or ""),
            "failed": failed,
            "errors": errors or {},
            "typed": typed or {},
            "request_id": forms.new_request_id,
        },
        status_code,
    )


@router.get("/selection/{campaign_id}", response_class=HTMLResponse)
async def selection(
    request: Request, campaign_id: UUID, ctx: PageContext, fait: str | None = None
) -> Response:
    return await _selection(request, ctx, campaign_id, done=fait)


async def _employer_act(
    request: Request, ctx: Ctx, campaign_id: UUID, referral_id: UUID, what: str
) -> Response:
    p = ctx.principal
    if not (p.sees_everything or p.role == Role.MEMBER):
        return _forbidden(request, await procs.me(ctx), EMPLOYER_ONLY)
    typed = _typed(await request.form())
    fields = ("hired", "position_id", "reason")
    try:
        referral = await rec.visible_referral(ctx, referral_id)
        if referral.campaign_id != campaign_id:
            raise NotFound.of("Candidature")
        if what == "entretien":
            await rec.request_interview(ctx, referral, _model(InterviewRequestCreate, typed))
        elif what == "pas-interesse":
            data = _model(DecisionCreate, {**typed, "hired": "false"})
            await rec.decide(ctx, referral, data)
        else:
            await rec.decide(ctx, referral, _model(DecisionCreate, typed))
    except Exception as err:
        errors, code = _refusal(err, fields)
        return await _selection(
            request,
            ctx,
            campaign_id,
            failed=referral_id,
            errors=errors,
            typed={**typed, "form": what},
            status_code=code,
        )
    return forms.done(f"/selection/{campaign_id}", what, f"#r-{referral_id}")


@router.post("/selection/{campaign_id}/{referral_id}/entretien", response_class=HTMLResponse)
async def interested(
    request: Request, campaign_id: UUID, referral_id: UUID, ctx: PageContext
) -> Response:
    return await _employer_act(request, ctx, campaign_id, referral_id, "entretien")


@router.post("/selection/{campaign_id}/{referral_id}/pas-interesse", response_class=HTMLResponse)
async def not_interested(
    request: Request, campaign_id: UUID, referral_id: UUID, ctx: PageContext
) -> Response:
    return await _employer_act(request, ctx, campaign_id, referral_id, "pas-interesse")


@router.post("/selection/{campaign_id}/{referral_id}/decision", response_class=HTMLResponse)
async def decision(
    request: Request, campaign_id: UUID, referral_id: UUID, ctx: PageContext
) -> Response:
    return await _employer_act(request, ctx, campaign_id, referral_id, "decision")
