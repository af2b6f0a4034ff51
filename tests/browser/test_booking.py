"""Booking a shared room by clicking, from the home page (issue 17): the network's staff add a
room of their own; a member company books a free slot of next week, finds it in « Mes
réservations » and downloads its .ics file; another, on a 390 px wide phone, sees the slot
busy without who holds it and joins its waitlist; the first cancels, the second gets the slot;
a slot beyond the room's horizon is refused in French, what was typed kept. Every page
passes axe-core, at desktop and phone width."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PHONE, SHOTS, check_a11y, fits

pytestmark = pytest.mark.system

NETWORK = "Entreprendre au Nord de Marseille"
KARIM = "Logistique des Arnavaux"
LEILA = "Pressing de Saint-Antoine"


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


async def open_room(page: Page, room: str) -> None:
    """From anywhere: the menu's « Réservations », then the room's week."""
    await page.click("nav.menu >> text=Réservations")
    await expect(page.locator("h1")).to_have_text("Réservations")
    await page.locator("table.resources a", has_text=room).click()
    await expect(page.locator("h1")).to_have_text(room)


async def test_two_members_share_a_room_through_its_week_and_waitlist(shared_stack, people):
    room = f"Salle d'essai {uuid.uuid4().hex[:6]}"

    # Staff add the room: booked at most 15 days ahead, two future bookings per company.
    staff = await people.page(f"staff:{NETWORK}")
    await staff.click("nav.menu >> text=Réservations")
    await check_a11y(staff)
    await staff.select_option("#ressource-nature", label="salle")
    await staff.fill("#ressource-nom", room)
    await staff.fill("#ressource-lieu", "Maison des entreprises, 13015 Marseille")
    await staff.fill("#ressource-delai", "15")
    await staff.fill("#ressource-max", "2")
    await staff.get_by_role("button", name="Ajouter la ressource").click()
    await expect(staff.locator(".ok")).to_have_text(f"Ressource « {room} » ajoutée.")
    row = staff.locator("table.resources tr", has_text=room)
    await expect(row).to_contain_text("Réservable au plus 15 jours à l'avance")

    # Karim's company books Wednesday 10 h – 12 h of next week.
    karim = await people.page(f"member:{KARIM}")
    await open_room(karim, room)
    await expect(karim.locator(".rules")).to_contain_text("au plus 15 jours à l'avance")
    await expect(karim.locator(".rules")).to_contain_text("au plus 2 réservation(s) à venir")
    await check_a11y(karim)
    await karim.get_by_role("link", name="Semaine suivante →").click()
    wednesday = karim.locator("section.day").nth(2)
    day = (await wednesday.locator("h3").inner_text()).strip()  # « mercredi 9 décembre »
    cell = wednesday.locator("li.slot").nth(1)
    await expect(cell).to_have_class(re.compile(r"\bfree\b"))
    await expect(cell.locator(".hours")).to_have_text("10 h – 12 h")
    await cell.get_by_role("button", name=re.compile("^Réserver")).click()
    await expect(karim.locator(".ok")).to_contain_text(f"Réservation confirmée : {room}, {day}")
    await expect(karim.locator(".ok")).to_contain_text("de 10 h à 12 h")
    mine = karim.locator("section.day").nth(2).locator("li.slot").nth(1)
    await expect(mine).to_have_class(re.compile(r"\bmine\b"))
    await expect(mine).to_contain_text("Ma réservation")
    await check_a11y(karim)
    await shot(karim, "reservation-semaine")

    # « Mes réservations »: confirmed, with its .ics file.
    await karim.get_by_role("link", name="Mes réservations").last.click()
    booking = karim.locator("tr.reservation", has_text=room)
    await expect(booking).to_contain_text("confirmée")
    await expect(booking).to_contain_text(day)
    await check_a11y(karim)
    async with karim.expect_download() as downloading:
        await booking.get_by_role("link", name=re.compile("Ajouter à mon agenda")).click()
    download = await downloading.value
    assert download.suggested_filename.endswith(".ics")
    ics = (await download.path()).read_text(encoding="utf-8")
    assert "BEGIN:VCALENDAR" in ics and f"SUMMARY:Réservation : {room}" in ics
    # A download emits no page response: its headers asked again, with her browser's cookies.
    response = await karim.request.get(download.url)
    assert response.status == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    await shot(karim, "reservations")

    # Leïla's company, on a phone. The demo opens with it still joining the network: the
    # week says it may book once the charter is accepted, which she does from her tasks.
    leila = await people.page(f"member:{LEILA}", PHONE)
    await open_room(leila, room)
    await fits(leila, PHONE["width"])
    await check_a11y(leila)
    notice = leila.locator(".rules .notice")
    if await notice.count():
        await expect(notice).to_contain_text("pas encore adhérente active")
        await notice.get_by_role("link", name="Mes tâches").click()
        charter = leila.locator("section.task", has_text="charte").first
        await charter.get_by_role("button", name="Accepter la charte").click()
        await expect(leila.locator(".ok")).to_be_visible()
        await open_room(leila, room)
        for _ in range(20):  # the onboarding activates the company right after
            if not await notice.count():
                break
            await leila.wait_for_timeout(500)
            await leila.reload()
        await expect(notice).to_have_count(0)
    await leila.get_by_role("link", name="Semaine suivante →").click()
    taken = leila.locator("section.day").nth(2).locator("li.slot").nth(1)
    await expect(taken).to_have_class(re.compile(r"\bbusy\b"))
    await expect(taken.locator(".what")).to_have_text("réservé")
    assert KARIM not in await leila.content()
    await fits(leila, PHONE["width"])
    await check_a11y(leila)
    await taken.get_by_role("button", name=re.compile("^Me mettre en liste d'attente")).click()
    await expect(leila.locator(".ok")).to_contain_text("Vous êtes en liste d'attente (n° 1)")
    waiting = leila.locator("section.day").nth(2).locator("li.slot").nth(1)
    await expect(waiting).to_contain_text("Je suis en liste d'attente (n° 1)")
    await fits(leila, PHONE["width"])
    await check_a11y(leila)
    await shot(leila, "reservation-semaine-mobile")

    # Karim cancels from « Mes réservations », giving a reason.
    await karim.click("nav.menu >> text=Réservations")
    booking = karim.locator("#mes-reservations tr.reservation", has_text=room).filter(
        has_text="confirmée"
    )
    await booking.locator("summary").click()
    await booking.get_by_label("Motif de l'annulation").fill("Réunion reportée")
    await booking.get_by_role("button", name="Annuler la réservation").click()
    await expect(karim.locator(".ok")).to_contain_text(f"Réservation annulée : {room}")
    await expect(karim.locator("tr.reservation.cancelled", has_text=room).first).to_contain_text(
        "Réunion reportée"
    )
    await check_a11y(karim)

    # The slot goes to Leïla's company: her bookings say so (reloaded until they do).
    await leila.click("nav.menu >> text=Réservations")
    hers = leila.locator("tr.reservation", has_text=room).filter(has_text="confirmée")
    for _ in range(20):
        if await hers.count():
            break
        await leila.wait_for_timeout(500)
        await leila.reload()
    await expect(hers).to_have_count(1)
    await expect(hers.get_by_role("link", name=re.compile("Ajouter à mon agenda"))).to_be_visible()
    await fits(leila, PHONE["width"])
    await check_a11y(leila)

    # The network sees who holds the slot now.
    await open_room(staff, room)
    await staff.get_by_role("link", name="Semaine suivante →").click()
    held = staff.locator("section.day").nth(2).locator("li.slot").nth(1)
    await expect(held).to_contain_text(f"Réservé par {LEILA}")
    await check_a11y(staff)

    # Beyond the horizon, a slot typed by hand is refused in French, the hours kept.
    await open_room(karim, room)
    far = (datetime.now(UTC) + timedelta(days=40)).date().isoformat()
    await karim.fill("#horaire-jour", far)
    await karim.fill("#horaire-debut", "09:00")
    await karim.fill("#horaire-fin", "11:30")
    await karim.get_by_role("button", name="Réserver cet horaire").click()
    await expect(karim.locator(".error[role=alert]")).to_contain_text(
        f"« {room} » se réserve au plus 15 jours à l'avance"
    )
    await expect(karim.locator("#horaire-jour")).to_have_value(far)
    await expect(karim.locator("#horaire-fin")).to_have_value("11:30")
    await check_a11y(karim)
