"""Bookings of the network's shared resources: a week calendar, book a slot, my bookings,
cancel, the waitlist, an .ics file. Every act goes through its command
(`api.commands.booking`): the page offers the slots, the command decides."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode
from uuid import UUID

from babel.dates import format_date
from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from api.commands import booking as bk
from api.commands import organisations as orgs
from api.commands import processes as procs
from api.commands.base import Ctx
from api.deps import PageContext
from api.errors import describe
from api.pages import forms
from api.pages.booking_week import calendar, clock, reservation_status, rules, shift, slot_text
from api.pages.formats import LOCALE
from api.pages.render import PAGE_SIZE, page
from api.urls import same_site_path
from domain.auth import Role
from domain.booking import (
    ReservationCancelCreate,
    ReservationCreate,
    ReservationStatus,
    ResourceCreate,
    ResourcePublic,
    week_of,
)
from domain.errors import Forbidden, Invalid
from domain.formats import PARIS
from domain.labels import RESOURCE_KIND_LABELS
from domain.organisations import OrganisationStatus

router = APIRouter(include_in_schema=False)
M = TypeVar("M", bound=BaseModel)

Text = Annotated[str, Form(max_length=500)]
READERS = frozenset({Role.ADMIN, Role.STAFF, Role.MANAGER, Role.MEMBER})
ONLY_BOOKERS = "Les réservations sont réservées aux entreprises membres et à l'équipe du réseau."
WEEK = re.compile(r"^\d{4}-W\d{2}$")
ENDED_PAGE = 20

# --- refusals -----------------------------------------------------------------------------


@dataclass
class Refused:
    message: str
    status_code: int
    fields: dict[str, str]  # the form's field → its French error


def refused(err: Exception, names: dict[str, tuple[str, str]] | None = None) -> Refused:
    """A command's refusal as a form shows it: its French sentences, and each field's
    error beside it (`names`: each model field's form field and label)."""
    refusal = describe(err)
    if refusal is None:
        raise err
    fields: dict[str, str] = {}
    said: list[str] = []
    for e in refusal.errors:
        if names and e.field in names:
            name, label = names[e.field]
            fields.setdefault(name, e.message)
            said.append(f"{label} : {e.message}")
        else:
            said.append(e.message)
    message = "; ".join(said) if said else refusal.detail
    return Refused(message.rstrip(".") + ".", refusal.status_code, fields)


def _forbidden(request: Request, me: Any, message: str = ONLY_BOOKERS) -> HTMLResponse:
    return page(request, "message.html", {"me": me, "message": message}, 403)


# --- réservations: the resources and my bookings ------------------------------------------


async def _bookings(
    request: Request,
    ctx: Ctx,
    *,
    done: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    cancel: dict[str, str] | None = None,
    offset: int = 0,
    ended_offset: int = 0,
    status_code: int = 200,
) -> HTMLResponse:
    p = ctx.principal
    upcoming = await bk.list_reservations(ctx, True, PAGE_SIZE, offset)
    ended = await bk.list_reservations(ctx, False, ENDED_PAGE, ended_offset, ended=True)
    return page(
        request,
        "booking.html",
        {
            "me": await procs.me(ctx),
            "network": p.sees_everything,
            "operator": bk.create_resource.allows(p),
            "resources": await bk.resources(ctx),
            "upcoming": upcoming,
            "ended": ended,
            "offset": offset,
            "ended_offset": ended_offset,
            "page_size": PAGE_SIZE,
            "ended_page": ENDED_PAGE,
            "kinds": RESOURCE_KIND_LABELS,
            "slot": slot_text,
            "rules": rules,
            "state": reservation_status,
            "done": done,
            "error": error,
            "form": form or {},
            "errors": errors or {},
            "cancel": cancel or {},
        },
        status_code,
    )


@router.get("/reservations", response_class=HTMLResponse)
async def bookings_page(
    request: Request,
    ctx: PageContext,
    fait: str | None = None,
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
    passees: Annotated[int, Query(ge=0, le=10**6)] = 0,
) -> Response:
    if ctx.principal.role not in READERS:
        return _forbidden(request, await procs.me(ctx))
    return await _bookings(request, ctx, done=fait, offset=offset, ended_offset=passees)


RESOURCE_FIELDS = {
    "kind": ("kind", "Nature"),
    "name": ("name", "Nom"),
    "location": ("location", "Lieu"),
    "horizon_days": ("horizon_days", "Délai de réservation"),
    "max_future_bookings": ("max_future_bookings", "Réservations à venir par entreprise"),
}


@router.post("/reservations/ressources", response_class=HTMLResponse)
async def create_resource(
    request: Request,
    ctx: PageContext,
    kind: Text = "",
    name: Text = "",
    location: Text = "",
    horizon_days: Text = "",
    max_future_bookings: Text = "",
) -> Response:
    form = {
        "kind": kind,
        "name": name,
        "location": location,
        "horizon_days": horizon_days,
        "max_future_bookings": max_future_bookings,
    }
    try:
        if not bk.create_resource.allows(ctx.principal):  # the role first, as the API does
            raise Forbidden("Seule l'équipe du réseau ajoute une ressource.")
        data = {k: v.strip() for k, v in form.items() if v.strip()}
        made = await bk.create_resource(ctx, forms.model_of(ResourceCreate, data))
    except Exception as err:
        no = refused(err, RESOURCE_FIELDS)
        if ctx.principal.role not in READERS:
            return _forbidden(request, await procs.me(ctx), no.message)
        return await _bookings(
            request, ctx, error=no.message, form=form, errors=no.fields, status_code=no.status_code
        )
    return forms.done("/reservations", f"Ressource « {made.name} » ajoutée")


@router.get("/reservations/{reservation_id:uuid}.ics")
async def calendar_file(request: Request, reservation_id: UUID, ctx: PageContext) -> Response:
    """A confirmed reservation as an iCalendar file, to add to an agenda."""
    me = None
    try:
        if ctx.principal.role not in READERS:
            raise Forbidden(ONLY_BOOKERS)
        found = await bk.visible_reservation(ctx, reservation_id)
        text = await bk.calendar_file(ctx, found)
    except Exception as err:
        no = refused(err)
        me = await procs.me(ctx)
        return page(
            request,
            "message.html",
            {"me": me, "message": no.message, "back": "/reservations"},
            no.status_code,
        )
    plain = unicodedata.normalize("NFKD", found.resource_name).encode("ascii", "ignore")
    name = re.sub(r"[^a-z0-9]+", "-", plain.decode().lower()).strip("-") or "reservation"
    day = found.starts_at.astimezone(PARIS).date().isoformat()
    return Response(
        text,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{day}.ics"'},
    )


@router.post("/reservations/{reservation_id:uuid}/annulation", response_class=HTMLResponse)
async def cancel(
    request: Request, reservation_id: UUID, ctx: PageContext, reason: Text = "", back: Text = ""
) -> Response:
    back_to = same_site_path(back, "/reservations")
    try:
        if not bk.cancel.allows(ctx.principal):
            raise Forbidden(ONLY_BOOKERS)
        found = await bk.visible_reservation(ctx, reservation_id)
        data = forms.model_of(ReservationCancelCreate, {"reason": reason.strip()})
        done = await bk.cancel(ctx, found, data)
    except Exception as err:
        no = refused(err, {"reason": ("reason", "Motif")})
        if ctx.principal.role not in READERS:
            return _forbidden(request, await procs.me(ctx), no.message)
        message = no.fields.get("reason", no.message)
        return await _bookings(
            request,
            ctx,
            error=f"Annulation non enregistrée — {no.message}",
            cancel={"id": str(reservation_id), "reason": reason, "error": message},
            status_code=no.status_code,
        )
    return forms.done(
        back_to,
        f"Réservation annulée : {done.resource_name}, {slot_text(done.starts_at, done.ends_at)}",
    )


# --- a resource's week ----------------------------------------------------------------------


async def _week(
    request: Request,
    ctx: Ctx,
    found: ResourcePublic,
    week: str | None,
    *,
    done: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    p = ctx.principal
    if week is not None and not WEEK.match(week):
        error, week = (
            error or f"La semaine « {week} » n'existe pas : voici la semaine en cours.",
            None,
        )
    try:
        w = await bk.week(ctx, found, week)
    except Invalid as err:
        error, w = error or err.message, await bk.week(ctx, found, None)
    held, active = None, True
    if p.role == Role.MEMBER:
        company = await orgs.visible_organisation(ctx, p.organisation_id)
        active = company.status == OrganisationStatus.ACTIVE
        mine = await bk.list_reservations(ctx, True, 500, 0)
        now = datetime.now(UTC)
        held = sum(
            1
            for r in mine.items
            if r.resource_id == found.id
            and r.status == ReservationStatus.CONFIRMED
            and r.ends_at > now
        )
    last_day = (w.ends_at - timedelta(hours=12)).astimezone(PARIS).date()
    return page(
        request,
        "reservation-semaine.html",
        {
            "me": await procs.me(ctx),
            "r": found,
            "w": w,
            "member": p.role == Role.MEMBER and active,
            "joining": not active,
            "network": p.sees_everything,
            "days": calendar(w, p, p.role == Role.MEMBER and active),
            "first_day": format_date(
                w.starts_at.astimezone(PARIS).date(), "d MMMM y", locale=LOCALE
            ),
            "last_day": format_date(last_day, "d MMMM y", locale=LOCALE),
            "previous": shift(w.week, -1),
            "next": shift(w.week, 1),
            "this_week": week_of(datetime.now(UTC)),
            "until": format_date(
                w.bookable_until.astimezone(PARIS).date(), "d MMMM y", locale=LOCALE
            ),
            "held": held,
            "kinds": RESOURCE_KIND_LABELS,
            "rules": rules,
            "clock": clock,
            "slot": slot_text,
            "state": reservation_status,
            "request_id": forms.new_request_id(),
            "done": done,
            "error": error,
            "form": form or {},
            "errors": errors or {},
        },
        status_code,
    )


async def _resource_or_page(request: Request, ctx: Ctx, resource_id: UUID) -> Any:
    try:
        if ctx.principal.role not in READERS:
            raise Forbidden(ONLY_BOOKERS)
        return await bk.resource(ctx, resource_id)
    except Exception as err:
        no = refused(err)
        return page(
            request,
            "message.html",
            {"me": await procs.me(ctx), "message": no.message, "back": "/reservations"},
            no.status_code,
        )


@router.get("/reservations/{resource_id:uuid}", response_class=HTMLResponse)
async def week_page(
    request: Request,
    resource_id: UUID,
    ctx: PageContext,
    semaine: Annotated[str | None, Query(max_length=20)] = None,
    fait: str | None = None,
) -> Response:
    found = await _resource_or_page(request, ctx, resource_id)
    if isinstance(found, Response):
        return found
    return await _week(request, ctx, found, semaine or None, done=fait)


def _paris(day: str, hour: str, field_name: str) -> datetime:
    """A day and a time typed in the form (« 2027-01-05 », « 14:30 »), on the Paris clock."""
    try:
        d = date.fromisoformat(day)
    except ValueError:
        raise Invalid("jour", "une date est attendue (jj/mm/aaaa).") from None
    try:
        t = time.fromisoformat(hour)
    except ValueError:
        raise Invalid(field_name, "une heure est attendue (hh:mm).") from None
    return datetime.combine(d, t, PARIS)


# The model's fields as the forms name them (the grid's hidden ones, « Un autre horaire »'s).
FREE_FORM_FIELDS = {
    "starts_at": ("jour", "Début du créneau"),
    "ends_at": ("fin", "Fin du créneau"),
    "jour": ("jour", "Jour"),
    "debut": ("debut", "Début"),
    "fin": ("fin", "Fin"),
    "": ("fin", "Créneau"),
}


@router.post("/reservations/{resource_id:uuid}", response_class=HTMLResponse)
async def book(
    request: Request,
    resource_id: UUID,
    ctx: PageContext,
    request_id: Text = "",
    starts_at: Text = "",
    ends_at: Text = "",
    semaine: Text = "",
    attente: Text = "",
    jour: Text = "",
    debut: Text = "",
    fin: Text = "",
) -> Response:
    """Book a slot of the grid (its hidden start and end), or the hours typed in « Un autre
    horaire » (`jour`, `debut`, `fin`). A refusal shows the same week again, what was typed
    kept."""
    found = await _resource_or_page(request, ctx, resource_id)
    if isinstance(found, Response):
        return found
    typed = bool(jour or debut or fin)
    form = {"jour": jour, "debut": debut, "fin": fin}
    week = semaine if WEEK.match(semaine) else None
    try:
        if not bk.book.allows(ctx.principal):
            raise Forbidden(ONLY_BOOKERS)
        if ctx.principal.role != Role.MEMBER:
            raise Forbidden("Les entreprises membres réservent elles-mêmes depuis cette page.")
        if typed:
            start = _paris(jour, debut, "debut")
            end = _paris(jour, fin, "fin")
            body = {
                "request_id": request_id,
                "starts_at": start.isoformat(),
                "ends_at": end.isoformat(),
            }
        else:
            body = {"request_id": request_id, "starts_at": starts_at, "ends_at": ends_at}
        made = await bk.book(ctx, found, forms.model_of(ReservationCreate, body))
    except Exception as err:
        no = refused(err, FREE_FORM_FIELDS if typed else {})
        if no.status_code == status.HTTP_403_FORBIDDEN and ctx.principal.role not in READERS:
            return _forbidden(request, await procs.me(ctx), no.message)
        return await _week(
            request,
            ctx,
            found,
            week,
            error=f"Réservation non enregistrée — {no.message}",
            form=form,
            errors=no.fields,
            status_code=no.status_code,
        )
    when = slot_text(made.starts_at, made.ends_at)
    if made.status == ReservationStatus.CONFIRMED:
        done = f"Réservation confirmée : {made.resource_name}, {when}"
    elif attente:
        done = (
            f"Vous êtes en liste d'attente (n° {made.waitlist_position or 1}) : "
            f"{made.resource_name}, {when}. Le créneau vous revient s'il se libère"
        )
    else:
        done = (
            f"Ce créneau vient d'être pris par une autre entreprise : vous êtes en liste "
            f"d'attente (n° {made.waitlist_position or 1}) pour {made.resource_name}, {when}"
        )
    return forms.done(
        f"/reservations/{found.id}?{urlencode({'semaine': week_of(made.starts_at)})}", done
    )
