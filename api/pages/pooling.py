"""Pooled services: the catalogue with what a member would pay now, a member's requests,
quotes and invoices, the network's catalogue keeping and pool page, the provider's orders.
Every act goes through its command (`api.commands.pooling`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from api.commands import pooling as pl
from api.commands import processes as procs
from api.commands.base import OPERATORS, Ctx
from api.deps import PageContext, PrintableContext
from api.errors import describe
from api.pages import forms, picker
from api.pages.formats import cents_from_euros
from api.pages.render import page
from domain.auth import Role
from domain.errors import Forbidden, NotFound
from domain.formats import euros
from domain.labels import (
    POOL_STATUS_LABELS,
    REQUEST_STATUS_LABELS,
    SPLIT_RULE_LABELS,
    UNIT_PLURAL_LABELS,
)
from domain.organisations import OrganisationFilter, OrganisationKind
from domain.pool_decisions import ShareEstimate
from domain.pooling import (
    IN_POOL,
    UNIT_LABELS,
    DeliveryCreate,
    PoolPublic,
    PoolStatus,
    ProviderAnswerCreate,
    QuoteAnswerCreate,
    RatingCreate,
    RequestStatus,
    ServiceCreate,
    ServicePublic,
    ServiceRequestCreate,
    ServiceRequestPublic,
    ServiceUnit,
    SplitRule,
    WithdrawCreate,
    in_next_month,
    pool_for,
)

router = APIRouter(include_in_schema=False)
M = TypeVar("M", bound=BaseModel)

# Where each field of a model is typed on a form (the model's nested names).
FORM_FIELDS = {
    "pooling.min_participants": "min_participants",
    "pooling.min_quantity": "min_quantity",
    "cost.fixed_cents": "fixed_euros",
    "cost.per_unit_cents": "per_unit_euros",
    "pooling": "min_participants",
    "cost": "fixed_euros",
}
ORDER_STATUSES = (PoolStatus.ORDERED, PoolStatus.CONFIRMED)
PROVIDERS = OrganisationFilter(kind=OrganisationKind.PROVIDER)  # a new service's provider
MEMBERS = OrganisationFilter(kind=OrganisationKind.MEMBER)  # whom the network requests for
# What every template of this area reads: the labels of its enums, units said in words.
LABELS: dict[str, Any] = {
    "pool_statuses": POOL_STATUS_LABELS,
    "request_statuses": REQUEST_STATUS_LABELS,
    "split_rules": SPLIT_RULE_LABELS,
    "unit_plural": UNIT_PLURAL_LABELS,
}


# --- what every page here shares --------------------------------------------------------


def units(service: ServicePublic | ServiceRequestPublic, n: int) -> str:
    """« 3 jours », « 1 place »."""
    unit = ServiceUnit(service.unit)
    return f"{n} {UNIT_LABELS[unit] if n == 1 else UNIT_PLURAL_LABELS[unit]}"


def rule_sentence(s: ServicePublic) -> str:
    """The pooling rule as a member reads it."""
    n = s.pooling.min_participants
    text = f"Le regroupement se fait à partir de {n} entreprise{'s' if n > 1 else ''}"
    if s.pooling.min_quantity:
        text += f" et de {units(s, s.pooling.min_quantity)} demandés au total"
    if s.max_participants:
        text += f", {s.max_participants} entreprises au plus"
    return text + f". Le prix est partagé {SPLIT_RULE_LABELS[s.split_rule]}."


def terms_sentence(s: ServicePublic) -> str:
    unit = UNIT_LABELS[ServiceUnit(s.unit)]
    return (
        f"Prix du prestataire pour le regroupement : {euros(s.cost.fixed_cents)} de frais "
        f"fixes, plus {euros(s.cost.per_unit_cents)} par {unit}. Chaque devis s'accepte sous "
        f"{s.acceptance_days} jours."
    )


def window_sentence(s: ServicePublic) -> str:
    return (
        f"Les demandes pour un mois sont reçues pendant les {s.window_days} jours qui "
        "précèdent son début ; les entreprises peuvent rejoindre jusqu'à la commande."
    )


# How a form's fields are named in a refusal's sentence.
FIELD_LABELS = {
    "code": "code court",
    "name": "nom",
    "description": "description",
    "provider_id": "prestataire",
    "unit": "unité",
    "fixed_euros": "frais fixes",
    "per_unit_euros": "prix par unité",
    "min_participants": "entreprises au minimum",
    "min_quantity": "quantité totale au minimum",
    "max_participants": "entreprises au plus",
    "max_quantity": "quantité au plus",
    "window_days": "fenêtre de mutualisation",
    "acceptance_days": "délai pour accepter",
    "territories": "territoires",
    "sectors": "secteurs",
    "split_rule": "partage",
    "member_id": "entreprise",
    "quantity": "quantité",
    "needed_by": "date du besoin",
    "note": "précisions",
    "reason": "motif",
    "reference": "référence",
    "stars": "note",
    "comment": "commentaire",
    "accept": "réponse",
    "confirmed": "réponse",
    "delivered": "livraison",
    "quote_cents": "montant du devis",
}
WHOLE_FORM = ("", "requête", "formulaire")


def _refusal(err: Exception) -> tuple[str, int, dict[str, str]]:
    """A refused act as a sentence, its status and, field by field, what to fix."""
    refusal = describe(err)
    if refusal is None:
        raise err
    fields: dict[str, str] = {}
    said = []
    for e in refusal.errors:
        name = FORM_FIELDS.get(e.field, e.field.split(".")[0])
        if name in WHOLE_FORM:
            said.append(e.message)
            continue
        fields.setdefault(name, e.message)
        said.append(f"{FIELD_LABELS.get(name, name)} : {e.message}")
    message = f"Vérifiez le formulaire — {'; '.join(said)}" if said else refusal.detail
    if refusal.status_code != status.HTTP_503_SERVICE_UNAVAILABLE:
        message = f"Action non enregistrée — {message}"
    return message, refusal.status_code, fields


def _page(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return page(request, name, {**LABELS, "units": units, **context}, status_code)


async def _message(request: Request, ctx: Ctx, err: Exception, back: str) -> HTMLResponse:
    message, code, _ = _refusal(err)
    return page(
        request, "message.html", {"me": await procs.me(ctx), "message": message, "back": back}, code
    )


def _network(ctx: Ctx) -> bool:
    return ctx.principal.sees_everything


def _next_need() -> Any:
    """The need a request is for by default: the first of next month."""
    return in_next_month(datetime.now(UTC).date(), 1)


async def _estimate(ctx: Ctx, service: ServicePublic, quantity: int) -> ShareEstimate | None:
    """What the member would pay now for `quantity` (None for the network, who asks for a
    member on the request form)."""
    if ctx.principal.role != Role.MEMBER:
        return None
    return await pl.estimate(ctx, service, min(quantity, service.max_quantity), None, None)


async def _estimates(
    ctx: Ctx, services: list[ServicePublic], quantities: dict[str, int]
) -> list[ShareEstimate]:
    """`_estimate` of every active service of the catalogue, at once."""
    if ctx.principal.role != Role.MEMBER:
        return []
    asks = [(s, min(quantities[s.code], s.max_quantity)) for s in services if s.active]
    return await pl.estimates(ctx, asks, None, None) if asks else []


async def _current_pool(ctx: Ctx, service: ServicePublic) -> PoolPublic | None:
    """The pool next month's requests go to, once someone has requested (the network)."""
    try:
        return await pl.visible_pool(ctx, pool_for(service, _next_need()).pool_id)
    except NotFound:
        return None


def fill(service: ServicePublic, participants: int) -> int:
    """How far the pool is towards its minimum of companies, in percent."""
    return min(100, round(100 * participants / max(service.pooling.min_participants, 1)))


# --- the catalogue ----------------------------------------------------------------------


@router.get("/catalogue", response_class=HTMLResponse)
async def catalogue(
    request: Request,
    ctx: PageContext,
    fait: str | None = None,
    estimer: str | None = None,
    quantite: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    me = await procs.me(ctx)
    p = ctx.principal
    if not (p.sees_everything or p.role == Role.MEMBER):
        return page(
            request,
            "message.html",
            {"me": me, "message": "Le catalogue est celui des entreprises membres du réseau."},
            403,
        )
    services = await pl.list_services(ctx, include_withdrawn=True)
    mine: dict[str, ServiceRequestPublic] = {}
    if p.role == Role.MEMBER:
        for r in (await pl.list_requests(ctx, None, None, limit=200, offset=0)).items:
            if r.status in pl.COUNTED:  # one that withdrew or declined may ask again
                mine.setdefault(r.pool_id, r)
    cards = []
    quantities = {s.code: quantite if estimer == s.code else 1 for s in services}
    estimated = {e.service_code: e for e in await _estimates(ctx, services, quantities)}
    for s in services:
        qty = quantities[s.code]
        est = estimated.get(s.code)
        current = await _current_pool(ctx, s) if p.sees_everything else None
        asked = mine.get(est.pool_id) if est else None
        # The estimate counts the member in: those in the pool are the others, or all of
        # them when the member is in already.
        joined = (est.participants - (0 if asked else 1)) if est else 0
        if current:
            joined = current.participants
        cards.append(
            {
                "s": s,
                "rule": rule_sentence(s),
                "terms": terms_sentence(s),
                "window": window_sentence(s),
                "target": pool_for(s, _next_need()),
                "estimate": est,
                "quantity": qty,
                "joined": joined,
                "fill": fill(s, joined),
                "pool": current,
                "mine": asked,
            }
        )
    return _page(
        request,
        "catalogue.html",
        {
            "me": me,
            "cards": cards,
            "done": fait,
            "network": p.sees_everything,
            "operator": p.role in OPERATORS,
            "may_request": pl.request_service.allows(p),
        },
    )


async def _providers(ctx: Ctx, form: dict[str, str]) -> picker.Pick:
    """The new service's provider field (a list, or a search in a large directory)."""
    return await picker.pick(ctx, PROVIDERS, "provider_id", *picker.typed(form, "provider_id"))


async def _service_form(
    request: Request,
    ctx: Ctx,
    form: dict[str, str],
    error: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    provider: picker.Pick | None = None,
) -> HTMLResponse:
    return _page(
        request,
        "catalogue_new.html",
        {
            "me": await procs.me(ctx),
            "provider": provider or await _providers(ctx, form),
            "form": form,
            "error": error,
            "errors": errors or {},
            "unit_choices": [(u.value, UNIT_LABELS[u]) for u in ServiceUnit],
            "split_choices": [(r.value, SPLIT_RULE_LABELS[r]) for r in SplitRule],
        },
        status_code,
    )


SERVICE_DEFAULTS = {
    "min_participants": "2",
    "min_quantity": "0",
    "window_days": "45",
    "acceptance_days": "7",
    "max_quantity": "100",
    "unit": ServiceUnit.DAY.value,
    "split_rule": SplitRule.PRO_RATA_QUANTITY.value,
}


@router.get("/catalogue/nouveau", response_class=HTMLResponse)
async def new_service(request: Request, ctx: PageContext) -> Response:
    if ctx.principal.role not in OPERATORS:
        return await _message(
            request,
            ctx,
            Forbidden("Le catalogue est tenu par l'équipe du réseau."),
            "/catalogue",
        )
    return await _service_form(request, ctx, dict(SERVICE_DEFAULTS))


def _list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


@router.post("/catalogue/nouveau", response_class=HTMLResponse)
async def create_service(request: Request, ctx: PageContext) -> Response:
    raw = await request.form()
    form = {k: str(v).strip() for k, v in raw.items() if k != "csrf" and isinstance(v, str)}
    unsettled, chosen = await picker.resolve(
        ctx, PROVIDERS, "provider_id", *picker.typed(form, "provider_id")
    )
    if unsettled is not None:  # a search that found none, or several to choose among
        said = {"provider_id": picker.refusal(unsettled)}
        return await _service_form(request, ctx, form, None, said, 422, unsettled)
    form["provider_id"] = chosen or ""
    try:
        data: dict[str, Any] = {
            "code": form.get("code", ""),
            "name": form.get("name", ""),
            "description": form.get("description", ""),
            "unit": form.get("unit", ""),
            "pooling": {
                "min_participants": form.get("min_participants") or 1,
                "min_quantity": form.get("min_quantity") or 0,
            },
            "window_days": form.get("window_days", ""),
            "cost": {
                "fixed_cents": cents_from_euros(form.get("fixed_euros", "")),
                "per_unit_cents": cents_from_euros(form.get("per_unit_euros", "")),
            },
            "split_rule": form.get("split_rule", ""),
            "acceptance_days": form.get("acceptance_days", ""),
            "provider_id": form.get("provider_id", ""),
            "territories": _list(form.get("territories", "")),
            "sectors": _list(form.get("sectors", "")),
        }
        for key in ("max_quantity", "max_participants"):
            if form.get(key):
                data[key] = form[key]
        made = await pl.create_service(ctx, forms.model_of(ServiceCreate, data))
    except Exception as err:
        message, code, fields = _refusal(err)
        return await _service_form(request, ctx, form, message, fields, code)
    return forms.done("/catalogue", f"« {made.name} » est au catalogue")


@router.post("/catalogue/{code}/retrait")
async def withdraw_service(request: Request, code: str, ctx: PageContext) -> Response:
    try:
        service = await pl.catalogue_service(ctx, code)
        await pl.withdraw_service(ctx, service)
    except Exception as err:
        return await _message(request, ctx, err, "/catalogue")
    return forms.done("/catalogue", f"« {service.name} » est retiré du catalogue")


async def _members(ctx: Ctx, form: dict[str, str]) -> picker.Pick | None:
    """The member company the network requests for (None: a member requests for itself)."""
    if not _network(ctx):
        return None
    return await picker.pick(ctx, MEMBERS, "member_id", *picker.typed(form, "member_id"))


async def _request_form(
    request: Request,
    ctx: Ctx,
    service: ServicePublic,
    form: dict[str, str],
    error: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    member: picker.Pick | None = None,
) -> HTMLResponse:
    try:
        quantity = max(1, int(form.get("quantity") or 1))
    except ValueError:
        quantity = 1
    return _page(
        request,
        "service_request.html",
        {
            "me": await procs.me(ctx),
            "s": service,
            "rule": rule_sentence(service),
            "terms": terms_sentence(service),
            "window": window_sentence(service),
            "estimate": await _estimate(ctx, service, quantity) if service.active else None,
            "member": member or await _members(ctx, form),
            "form": form,
            "error": error,
            "errors": errors or {},
            "units": units,
        },
        status_code,
    )


@router.get("/catalogue/{code}/demande", response_class=HTMLResponse)
async def request_form(
    request: Request,
    code: str,
    ctx: PageContext,
    quantite: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    try:
        service = await pl.catalogue_service(ctx, code)
        if not pl.request_service.allows(ctx.principal):
            raise Forbidden("Les demandes sont faites par les entreprises membres.")
    except Exception as err:
        return await _message(request, ctx, err, "/catalogue")
    form = {
        "quantity": str(quantite),
        "needed_by": _next_need().isoformat(),
        "request_id": forms.new_request_id(),
    }
    return await _request_form(request, ctx, service, form)


@router.post("/catalogue/{code}/demande", response_class=HTMLResponse)
async def request_service(request: Request, code: str, ctx: PageContext) -> Response:
    raw = await request.form()
    form = {k: str(v).strip() for k, v in raw.items() if k != "csrf" and isinstance(v, str)}
    try:
        service = await pl.catalogue_service(ctx, code)
    except Exception as err:
        return await _message(request, ctx, err, "/catalogue")
    if _network(ctx):  # the member company requested for, found by its name if typed
        unsettled, chosen = await picker.resolve(
            ctx, MEMBERS, "member_id", *picker.typed(form, "member_id")
        )
        if unsettled is not None:
            said = {"member_id": picker.refusal(unsettled)}
            return await _request_form(request, ctx, service, form, None, said, 422, unsettled)
        form["member_id"] = chosen or ""
    try:
        data = {k: v for k, v in form.items() if v and k in ServiceRequestCreate.model_fields}
        made = await pl.request_service(ctx, service, forms.model_of(ServiceRequestCreate, data))
    except Exception as err:
        message, code_, fields = _refusal(err)
        return await _request_form(request, ctx, service, form, message, fields, code_)
    return forms.done(f"/services/{made.id}", "Demande enregistrée")


# --- a member's requests ----------------------------------------------------------------


@router.get("/services", response_class=HTMLResponse)
async def my_requests(
    request: Request,
    ctx: PageContext,
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
) -> Response:
    try:
        found = await pl.list_requests(ctx, None, None, limit=50, offset=offset)
    except Exception as err:
        return await _message(request, ctx, err, "/tableau-de-bord")
    return _page(
        request,
        "services.html",
        {
            "me": await procs.me(ctx),
            "page": found,
            "network": _network(ctx),
            "request_statuses": REQUEST_STATUS_LABELS,
            "units": units,
        },
    )


async def _request_page(
    request: Request,
    ctx: Ctx,
    r: ServiceRequestPublic,
    done: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    which: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "service.html",
        {
            "me": await procs.me(ctx),
            "r": r,
            "b": await pl.quote_breakdown(ctx, r),
            "done": done,
            "error": error,
            "which": which,  # the form refused, shown again with what was typed
            "form": form or {},
            "in_pool": r.status in IN_POOL,
            "request_statuses": REQUEST_STATUS_LABELS,
            "pool_statuses": POOL_STATUS_LABELS,
            "split_rules": SPLIT_RULE_LABELS,
            "units": units,
            "member": ctx.principal.role == Role.MEMBER,
        },
        status_code,
    )


@router.get("/services/{request_id}", response_class=HTMLResponse)
async def request_page(
    request: Request, request_id: UUID, ctx: PageContext, fait: str | None = None
) -> Response:
    try:
        r = await pl.visible_request(ctx, request_id)
    except Exception as err:
        return await _message(request, ctx, err, "/services")
    return await _request_page(request, ctx, r, done=fait)


async def _member_act(request: Request, request_id: UUID, ctx: Ctx, which: str) -> Response:
    raw = await request.form()
    form = {k: str(v).strip() for k, v in raw.items() if k != "csrf" and isinstance(v, str)}
    try:
        r = await pl.visible_request(ctx, request_id)
    except Exception as err:
        return await _message(request, ctx, err, "/services")
    try:
        if which == "devis":
            data = {k: v for k, v in form.items() if v}
            answered = await pl.answer_quote(ctx, r, forms.model_of(QuoteAnswerCreate, data))
            done = "Devis accepté" if data.get("accept") == "true" else "Devis refusé"
        elif which == "retrait":
            answered = await pl.withdraw_request(
                ctx, r, forms.model_of(WithdrawCreate, {"reason": form.get("reason", "")})
            )
            done = "Demande retirée"
        else:
            data = {k: v for k, v in form.items() if v}
            answered = await pl.rate(ctx, r, forms.model_of(RatingCreate, data))
            done = "Merci pour votre évaluation"
    except Exception as err:
        message, code, _ = _refusal(err)
        r = await pl.visible_request(ctx, request_id)
        return await _request_page(
            request, ctx, r, error=message, form=form, which=which, status_code=code
        )
    return forms.done(f"/services/{answered.id}", done)


@router.post("/services/{request_id}/devis")
async def answer_quote(request: Request, request_id: UUID, ctx: PageContext) -> Response:
    return await _member_act(request, request_id, ctx, "devis")


@router.post("/services/{request_id}/retrait")
async def withdraw_request(request: Request, request_id: UUID, ctx: PageContext) -> Response:
    return await _member_act(request, request_id, ctx, "retrait")


@router.post("/services/{request_id}/evaluation")
async def rate(request: Request, request_id: UUID, ctx: PageContext) -> Response:
    return await _member_act(request, request_id, ctx, "evaluation")


# --- invoices ---------------------------------------------------------------------------


@router.get("/factures", response_class=HTMLResponse)
async def invoices(request: Request, ctx: PageContext) -> Response:
    try:
        found = await pl.list_requests(ctx, None, RequestStatus.INVOICED, limit=200, offset=0)
    except Exception as err:
        return await _message(request, ctx, err, "/tableau-de-bord")
    return _page(
        request,
        "invoices.html",
        {"me": await procs.me(ctx), "items": found.items, "network": _network(ctx)},
    )


@router.get("/factures/{request_id}", response_class=HTMLResponse)
async def invoice_page(request: Request, request_id: UUID, ctx: PrintableContext) -> Response:
    """One invoice, printable: the member's line of a delivered pool."""
    try:
        r = await pl.visible_request(ctx, request_id)
        lines = await pl.invoice_of(ctx, r)
        if not lines:
            raise NotFound.of("Facture")
    except Exception as err:
        return await _message(request, ctx, err, "/factures")
    found = await pl.catalogue_service(ctx, r.service_code)
    return _page(
        request,
        "invoice.html",
        {
            "me": await procs.me(ctx),
            "r": r,
            "lines": lines,
            "total": sum(line.amount_cents for line in lines),
            "s": found,
            "number": f"{r.period.replace('-', '')}-{str(r.id)[:8].upper()}",
        },
    )


# --- the network's pools ----------------------------------------------------------------


@router.get("/mutualisations", response_class=HTMLResponse)
async def pools(
    request: Request, ctx: PageContext, offset: Annotated[int, Query(ge=0, le=10**6)] = 0
) -> Response:
    try:
        if not _network(ctx):
            raise Forbidden("Les regroupements sont suivis par l'équipe du réseau.")
        found = await pl.list_pools(ctx, None, None, limit=50, offset=offset)
    except Exception as err:
        return await _message(request, ctx, err, "/catalogue")
    return _page(
        request,
        "pools.html",
        {"me": await procs.me(ctx), "page": found, "pool_statuses": POOL_STATUS_LABELS},
    )


async def _pool_view(ctx: Ctx, pool_id: str) -> dict[str, Any]:
    found = await pl.visible_pool(ctx, pool_id)
    detail = await pl.pool_detail(ctx, found)
    service = await pl.catalogue_service(ctx, found.service_code)
    members = await pl.pool_requests(ctx, found)
    comments = {
        str(p.request_id): p.rating_comment
        for p in (detail.live.participants if detail.live else [])
        if p.rating_comment
    }
    counted = [m for m in members if m.status in pl.COUNTED]
    return {
        "pool": detail,
        "s": service,
        "members": members,
        "counted": counted,
        "comments": comments,
        "rule": rule_sentence(service),
        "rule_met": len(counted) >= found.min_participants
        and sum(m.quantity for m in counted) >= found.min_quantity,
        "fill": fill(service, len(counted)),
        "invoiced": sum(line.amount_cents for line in detail.invoice_lines),
        "names": {str(m.id): m.member_name for m in members},
        "pool_statuses": POOL_STATUS_LABELS,
        "request_statuses": REQUEST_STATUS_LABELS,
        "split_rules": SPLIT_RULE_LABELS,
        "units": units,
    }


@router.get("/mutualisations/{pool_id}", response_class=HTMLResponse)
async def pool_page(request: Request, pool_id: str, ctx: PageContext) -> Response:
    try:
        if not _network(ctx):
            raise NotFound.of("Regroupement")
        view = await _pool_view(ctx, pool_id)
    except Exception as err:
        return await _message(request, ctx, err, "/mutualisations")
    context = {"me": await procs.me(ctx), "operator": ctx.principal.role in OPERATORS, **view}
    return _page(request, "pool.html", context)


# --- the provider's orders --------------------------------------------------------------


@router.get("/commandes", response_class=HTMLResponse)
async def orders(
    request: Request, ctx: PageContext, offset: Annotated[int, Query(ge=0, le=10**6)] = 0
) -> Response:
    try:
        if ctx.principal.role != Role.PARTNER and not _network(ctx):
            raise Forbidden("Les commandes sont celles des prestataires du réseau.")
        found = await pl.list_pools(ctx, None, None, limit=50, offset=offset)
    except Exception as err:
        return await _message(request, ctx, err, "/tableau-de-bord")
    # A provider's orders: the pools whose order is placed (those still gathering are not).
    placed = [p for p in found.items if p.status not in (PoolStatus.GATHERING, PoolStatus.QUOTING)]
    return _page(
        request,
        "orders.html",
        {
            "me": await procs.me(ctx),
            "items": placed,
            "page": found,
            "pool_statuses": POOL_STATUS_LABELS,
            "waiting": ORDER_STATUSES,
        },
    )


async def _order_page(
    request: Request,
    ctx: Ctx,
    pool_id: str,
    done: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    which: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = await _pool_view(ctx, pool_id)
    return _page(
        request,
        "order.html",
        {
            "me": await procs.me(ctx),
            **view,
            "done": done,
            "error": error,
            "form": form or {},
            "which": which,
            "may_answer": pl.answer_order.allows(ctx.principal),
        },
        status_code,
    )


@router.get("/commandes/{pool_id}", response_class=HTMLResponse)
async def order_page(
    request: Request, pool_id: str, ctx: PageContext, fait: str | None = None
) -> Response:
    try:
        return await _order_page(request, ctx, pool_id, done=fait)
    except Exception as err:
        return await _message(request, ctx, err, "/commandes")


async def _provider_act(request: Request, pool_id: str, ctx: Ctx, which: str) -> Response:
    raw = await request.form()
    form = {k: str(v).strip() for k, v in raw.items() if k != "csrf" and isinstance(v, str)}
    try:
        found = await pl.visible_pool(ctx, pool_id)
    except Exception as err:
        return await _message(request, ctx, err, "/commandes")
    data = {k: v for k, v in form.items() if v}
    try:
        if which == "reponse":
            await pl.answer_order(ctx, found, forms.model_of(ProviderAnswerCreate, data))
            done = "Commande confirmée" if data.get("confirmed") == "true" else "Commande refusée"
        else:
            await pl.report_delivery(ctx, found, forms.model_of(DeliveryCreate, data))
            done = "Livraison déclarée" if data.get("delivered") == "true" else "Livraison annulée"
    except Exception as err:
        message, code, _ = _refusal(err)
        return await _order_page(
            request, ctx, pool_id, error=message, form=form, which=which, status_code=code
        )
    return forms.done(f"/commandes/{quote(pool_id)}", done)


@router.post("/commandes/{pool_id}/reponse")
async def answer_order(request: Request, pool_id: str, ctx: PageContext) -> Response:
    return await _provider_act(request, pool_id, ctx, "reponse")


@router.post("/commandes/{pool_id}/livraison")
async def report_delivery(request: Request, pool_id: str, ctx: PageContext) -> Response:
    return await _provider_act(request, pool_id, ctx, "livraison")
