"""The bookings' pages (issue 17) as browsers use them: staff add a resource (a refused form
keeps what was typed); a member books a free slot of a week, finds it in « Mes réservations »
with its .ics file, and cancels it, which gives the slot to the member waiting for it; another
member sees the slot busy without who holds it; refusals (too far ahead, too many, a bad
slot) come back in French on the same week, what was typed kept; others get a French 403."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from api.pages.booking_week import calendar
from domain.auth import Principal, Role
from domain.booking import (
    ReservationPublic,
    ReservationStatus,
    ResourceKind,
    ResourcePublic,
    ResourceWeek,
    iso_week,
    week_of,
    week_slots,
)
from domain.organisations import OrganisationStatus
from tests.api.conftest import Actor, browser, csrf_of
from tests.factories import make_org, make_user, session_for


def _t(r) -> str:
    """A page's text as a person reads it: no tags, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", r.text)).split())


def _as(client, actor: Actor):
    b = browser(client)
    assert actor.session is not None
    b.cookies.update(actor.session.cookies)
    return b


async def _member(db, name: str, **kw) -> Actor:
    org = await make_org(db, name=name, **kw)
    user_id, token = await make_user(db, org.id, Role.MEMBER)
    return Actor(user_id, org.id, token, await session_for(db, user_id))


@pytest.fixture
async def room(client, actors) -> dict:
    body = {
        "kind": "room",
        "name": "Salle du Canet",
        "location": "Maison des entreprises, 13014",
        "horizon_days": 20,
        "max_future_bookings": 1,
    }
    r = await client.post("/api/resources", json=body, headers=actors["staff"].headers)
    assert r.status_code == 201, r.text
    return r.json()


NEXT_WEEK = week_of(datetime.now(UTC) + timedelta(days=7))
FORM = re.compile(r'<form method="post" action="/reservations/[0-9a-f-]{36}">(.*?)</form>', re.S)


def _slot_forms(text: str, label: str) -> list[dict[str, str]]:
    """The week's slot forms whose button says `label`, as the fields they post."""
    out = []
    for body in FORM.findall(text):
        if f">{label}<" not in html.unescape(body):
            continue
        fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', body))
        if "starts_at" in fields:
            out.append(fields)
    return out


def _week_shown(r) -> str:
    found = re.search(r"Semaine du [^<]+", r.text)
    assert found, r.text[:300]
    return found.group()


async def test_staff_add_a_resource_and_a_refused_one_keeps_what_was_typed(client, actors):
    staff = _as(client, actors["staff"])
    page = await staff.get("/reservations")
    assert page.status_code == 200 and "Ajouter une ressource" in _t(page)
    form = {
        "kind": "vehicle",
        "name": "V",
        "location": "Parking des Arnavaux",
        "horizon_days": "0",
        "max_future_bookings": "2",
        "csrf": csrf_of(page.text),
    }
    r = await staff.post("/reservations/ressources", data=form)
    assert r.status_code == 422
    text = _t(r)
    assert "Nom : au moins 2 caractère(s)" in text
    assert "Délai de réservation : doit être supérieur ou égal à 1" in text
    assert 'value="Parking des Arnavaux"' in r.text and 'value="V"' in r.text
    assert '<option value="vehicle" selected>' in r.text

    r = await staff.post(
        "/reservations/ressources",
        data={**form, "name": "Utilitaire 9 m³", "horizon_days": "45"},
    )
    assert r.status_code == 303
    page = await staff.get(r.headers["location"])
    text = _t(page)
    assert "Ressource « Utilitaire 9 m³ » ajoutée." in text
    assert "véhicule" in text and "Parking des Arnavaux" in text
    assert "Réservable au plus 45 jours à l'avance ; au plus 2 réservation(s) à venir" in text

    # A member sees the resources, not the staff's form, and may not add one.
    member = _as(client, actors["member"])
    page = await member.get("/reservations")
    assert "Utilitaire 9 m³" in _t(page) and "Ajouter une ressource" not in _t(page)
    r = await member.post(
        "/reservations/ressources", data={**form, "name": "Salle", "csrf": csrf_of(page.text)}
    )
    assert r.status_code == 403 and "Seule l'équipe du réseau ajoute une ressource." in _t(r)

    # An agency has no bookings: a French 403, on the list and on a week.
    agency = _as(client, actors["agency"])
    r = await agency.get("/reservations")
    assert r.status_code == 403 and "réservées aux entreprises membres" in _t(r)


async def test_a_member_books_a_slot_downloads_it_and_cancels_for_the_one_waiting(
    client, actors, room, db
):
    first = _as(client, actors["member"])
    page = await first.get(f"/reservations/{room['id']}?semaine={NEXT_WEEK}")
    text = _t(page)
    assert page.status_code == 200
    assert "se réserve au plus 20 jours à l'avance" in text
    assert "au plus 1 réservation(s) à venir" in text and "la vôtre en a 0" in text
    assert "Semaine précédente" in text and "Semaine suivante" in text
    free = _slot_forms(page.text, "Réserver")
    assert len(free) == 7 * 6  # next week: every slot of the grid is free
    slot = free[7]  # Tuesday, 10 h – 12 h
    r = await first.post(f"/reservations/{room['id']}", data={**slot, "csrf": csrf_of(page.text)})
    assert r.status_code == 303, _t(r)
    page = await first.get(r.headers["location"])
    text = _t(page)
    assert "Réservation confirmée : Salle du Canet, mardi" in text and "de 10 h à 12 h" in text
    assert "Ma réservation" in text and "la vôtre en a 1" in text
    assert len(_slot_forms(page.text, "Réserver")) == 41

    mine = await first.get("/reservations")
    text = _t(mine)
    assert "Mes réservations" in text and "confirmée" in text
    ics = re.search(r'href="(/reservations/[0-9a-f-]{36}\.ics)"', mine.text)
    assert ics
    r = await first.get(ics.group(1))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    day = datetime.fromisoformat(slot["starts_at"]).date().isoformat()
    assert r.headers["content-disposition"] == f'attachment; filename="salle-du-canet-{day}.ics"'
    assert "BEGIN:VCALENDAR" in r.text and "SUMMARY:Réservation : Salle du Canet" in r.text

    # Another member sees the slot busy, not who holds it, and joins its waitlist.
    other = await _member(db, "Garage des Aygalades")
    second = _as(client, other)
    page = await second.get(f"/reservations/{room['id']}?semaine={NEXT_WEEK}")
    text = _t(page)
    assert "réservé" in text and "Boulangerie du Canet" not in text
    waiting = _slot_forms(page.text, "Me mettre en liste d'attente")
    assert [w["starts_at"] for w in waiting] == [slot["starts_at"]]
    r = await second.post(
        f"/reservations/{room['id']}", data={**waiting[0], "csrf": csrf_of(page.text)}
    )
    assert r.status_code == 303, _t(r)
    page = await second.get(r.headers["location"])
    assert "Vous êtes en liste d'attente (n° 1) : Salle du Canet" in _t(page)
    assert "Je suis en liste d'attente (n° 1)" in _t(page)
    page = await second.get("/reservations")
    assert "en liste d'attente (n° 1)" in _t(page) and ".ics" not in page.text

    # Her company sees neither the first's .ics nor may cancel its booking; nor may an agency
    # see the week.
    r = await second.get(ics.group(1))
    assert r.status_code == 404 and "Réservation introuvable" in _t(r)
    theirs = re.search(r'action="(/reservations/[0-9a-f-]{36}/annulation)"', mine.text)
    assert theirs
    page = await second.get("/reservations")
    r = await second.post(theirs.group(1), data={"reason": "Non", "csrf": csrf_of(page.text)})
    assert r.status_code == 404 and "Réservation introuvable" in _t(r)
    r = await _as(client, actors["agency"]).get(f"/reservations/{room['id']}")
    assert r.status_code == 403 and "réservées aux entreprises membres" in _t(r)

    # The network sees who booked.
    staff = _as(client, actors["staff"])
    page = await staff.get(f"/reservations/{room['id']}?semaine={NEXT_WEEK}")
    assert "Réservé par Boulangerie du Canet" in _t(page) and "Garage des Aygalades" in _t(page)
    assert _slot_forms(page.text, "Réserver") == []
    page = await staff.get("/reservations")
    assert "Toutes les réservations" in _t(page) and "Garage des Aygalades" in _t(page)

    # The first cancels: a reason is asked (kept when refused), then the slot goes to the second.
    mine = await first.get("/reservations")
    cancel = re.search(r'action="(/reservations/[0-9a-f-]{36}/annulation)"', mine.text)
    assert cancel
    r = await first.post(cancel.group(1), data={"reason": "  ", "csrf": csrf_of(mine.text)})
    assert r.status_code == 422 and "Annulation non enregistrée — Motif :" in _t(r)
    assert '<details class="cancel" open>' in r.text
    r = await first.post(
        cancel.group(1), data={"reason": "Réunion reportée", "csrf": csrf_of(mine.text)}
    )
    assert r.status_code == 303
    page = await first.get(r.headers["location"])
    assert "Réservation annulée : Salle du Canet" in _t(page)
    assert "Réunion reportée" in _t(page)  # under « Annulées et passées »
    page = await second.get("/reservations")
    assert "confirmée" in _t(page) and ".ics" in page.text
    page = await second.get(f"/reservations/{room['id']}?semaine={NEXT_WEEK}")
    assert "Ma réservation" in _t(page)


async def test_refusals_come_back_in_french_on_the_same_week(client, actors, room):
    member = _as(client, actors["member"])
    page = await member.get(f"/reservations/{room['id']}")
    far = (datetime.now(UTC) + timedelta(days=40)).date().isoformat()
    typed = {"jour": far, "debut": "09:00", "fin": "11:30", "request_id": "web-far"}
    typed["semaine"] = week_of(datetime.now(UTC))
    r = await member.post(f"/reservations/{room['id']}", data={**typed, "csrf": csrf_of(page.text)})
    assert r.status_code == 422
    text = _t(r)
    assert (
        "Réservation non enregistrée — Début du créneau : « Salle du Canet » se réserve au "
        "plus 20 jours à l'avance" in text
    )
    assert f'value="{far}"' in r.text and 'value="09:00"' in r.text and 'value="11:30"' in r.text
    assert _week_shown(r) == _week_shown(page)  # the same week, as it was

    r = await member.post(
        f"/reservations/{room['id']}",
        data={**typed, "jour": "2026-13-01", "csrf": csrf_of(page.text)},
    )
    assert r.status_code == 422 and "Jour : une date est attendue" in _t(r)
    soon = (datetime.now(UTC) + timedelta(days=9)).date().isoformat()
    r = await member.post(
        f"/reservations/{room['id']}",
        data={**typed, "jour": soon, "fin": "08:00", "csrf": csrf_of(page.text)},
    )
    assert r.status_code == 422 and "la fin du créneau doit suivre son début" in _t(r)

    # One booking is this room's most per company: the second is refused, nothing lost.
    r = await member.post(
        f"/reservations/{room['id']}",
        data={**typed, "jour": soon, "request_id": "web-one", "csrf": csrf_of(page.text)},
    )
    assert r.status_code == 303, _t(r)
    page = await member.get(f"/reservations/{room['id']}?semaine={NEXT_WEEK}")
    slot = _slot_forms(page.text, "Réserver")[-1]
    r = await member.post(f"/reservations/{room['id']}", data={**slot, "csrf": csrf_of(page.text)})
    assert r.status_code == 409
    assert (
        "Réservation impossible : votre entreprise a déjà 1 réservation(s) à venir de "
        "« Salle du Canet » (au plus 1)" in _t(r)
    )
    assert "Semaine du" in _t(r) and len(_slot_forms(r.text, "Réserver")) >= 1

    r = await member.get(f"/reservations/{room['id']}?semaine=2027-W99")
    assert r.status_code == 200 and "la semaine 2027-W99 n'existe pas" in _t(r)
    r = await member.get(f"/reservations/{room['id']}?semaine=demain")
    assert "La semaine « demain » n'existe pas" in _t(r)
    r = await member.get("/reservations/6f1c6c1e-0000-4000-8000-000000000000")
    assert r.status_code == 404 and "Ressource" in _t(r)


async def test_a_company_still_joining_is_told_why_it_cannot_book_yet(client, room, db):
    joining = _as(
        client, await _member(db, "Bocaux de Provence", status=OrganisationStatus.PENDING)
    )
    page = await joining.get(f"/reservations/{room['id']}?semaine={NEXT_WEEK}")
    assert page.status_code == 200
    assert "pas encore adhérente active du réseau" in _t(page)
    assert _slot_forms(page.text, "Réserver") == [] and "Un autre horaire" not in _t(page)


async def test_a_slot_taken_meanwhile_puts_the_late_one_on_its_waitlist_and_says_so(
    client, actors, room, db
):
    first, second = _as(client, actors["member"]), _as(client, await _member(db, "Fleurs du 15e"))
    url = f"/reservations/{room['id']}?semaine={NEXT_WEEK}"
    page_1, page_2 = await first.get(url), await second.get(url)
    slot_1, slot_2 = (
        _slot_forms(page_1.text, "Réserver")[3],
        _slot_forms(page_2.text, "Réserver")[3],
    )
    assert (slot_1["starts_at"], slot_1["ends_at"]) == (slot_2["starts_at"], slot_2["ends_at"])
    r = await first.post(
        f"/reservations/{room['id']}", data={**slot_1, "csrf": csrf_of(page_1.text)}
    )
    assert r.status_code == 303
    r = await second.post(
        f"/reservations/{room['id']}", data={**slot_2, "csrf": csrf_of(page_2.text)}
    )
    assert r.status_code == 303
    page = await second.get(r.headers["location"])
    assert (
        "Ce créneau vient d'être pris par une autre entreprise : vous êtes en liste d'attente "
        "(n° 1) pour Salle du Canet" in _t(page)
    )
    # The same form sent twice (a double click) is one booking.
    r = await second.post(
        f"/reservations/{room['id']}", data={**slot_2, "csrf": csrf_of(page_2.text)}
    )
    assert r.status_code == 303
    page = await second.get("/reservations")
    assert _t(page).count("en liste d'attente (n° 1)") == 1


def test_a_week_reads_on_the_paris_clock_and_offers_only_what_may_be_asked():
    """The grid of 2027-W12, whose Sunday moves to summer time: slots begin at 8 h in Paris
    on every day; a slot begun already offers neither booking nor waitlist, one beyond the
    horizon is not open yet."""
    start, end = iso_week("2027-W12")
    resource = ResourcePublic(
        id=uuid.uuid4(),
        network_id=uuid.uuid4(),
        created_at=start,
        kind=ResourceKind.ROOM,
        name="Salle",
        horizon_days=4,
    )
    me = Principal(
        user_id=uuid.uuid4(), organisation_id=uuid.uuid4(), role=Role.MEMBER, name="Karim"
    )
    now = start + timedelta(days=1, hours=9, minutes=30)  # Tuesday 9 h 30 in Paris
    held = ReservationPublic(
        id=uuid.uuid4(),
        resource_id=resource.id,
        resource_name="Salle",
        member_id=None,  # another company's: hidden
        member_name=None,
        starts_at=start + timedelta(days=1, hours=9),  # Tuesday 9 h – 11 h in Paris
        ends_at=start + timedelta(days=1, hours=11),
        status=ReservationStatus.CONFIRMED,
        reason=None,
        created_at=start,
    )
    week = ResourceWeek(
        resource=resource,
        week="2027-W12",
        starts_at=start,
        ends_at=end,
        bookable_from=now,
        bookable_until=now + timedelta(days=4),
        slots=week_slots(start, end, [held], now, now + timedelta(days=4)),
        waiting=[],
    )
    days = calendar(week, me, may_book=True)
    assert [d.name for d in days][::6] == ["lundi 22 mars", "dimanche 28 mars"]
    assert all(d.cells[0].hours == "8 h – 10 h" for d in days)
    assert days[6].cells[0].starts_at == datetime(2027, 3, 28, 6, tzinfo=UTC)  # summer time
    assert days[0].cells[0].starts_at == datetime(2027, 3, 22, 7, tzinfo=UTC)
    tuesday = days[1].cells
    assert [c.state for c in tuesday[:3]] == ["busy", "busy", "free"]  # 9 h – 11 h is held
    assert [bool(c.request_id) for c in tuesday[:3]] == [False, True, True]  # 8 h has begun
    assert days[0].cells[0].state == "past"
    assert days[6].cells[0].state == "closed" and not days[6].cells[0].request_id
    closed_to_me = calendar(week, me, may_book=False)
    assert not any(c.request_id for d in closed_to_me for c in d.cells)
