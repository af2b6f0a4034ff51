"""A recruitment campaign in a real browser, by clicking: the network's staff launch it with two
positions and two agencies; the invited agency finds its task in « Mes tâches » and proposes
a candidate; the staff screens the candidate from the campaign's page with the profile in
view, sees the board move, opens the report and cancels another campaign; the manager reads
the report on a phone. Every page passes axe-core."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PHONE, SHOTS, check_a11y, fits
from tests.browser.test_candidates import launch_campaign

pytestmark = pytest.mark.system

NETWORK = "Entreprendre au Nord de Marseille"
AGENCY = "France Travail Marseille Nord"


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


async def launch(staff: Page, title: str, *, two: bool, screenshot: bool = False) -> None:
    """From the campaigns' list: « Lancer une campagne », the form filled, launched."""
    await staff.click("nav >> text=Recrutements")
    await staff.click("text=Lancer une campagne")
    await expect(staff.locator("h1")).to_have_text("Lancer une campagne de recrutement")
    await staff.fill("#c-title", title)
    await staff.select_option("#c-employer", label="Logistique des Arnavaux")
    await staff.fill("#c-pos-0-title", "Préparateur de commandes")
    await staff.fill("#c-pos-0-count", "2")
    await staff.select_option("#c-pos-0-contract", label="CDI")
    await staff.fill("#c-pos-0-place_postcode", "13014")
    await staff.fill("#c-pos-0-place_commune", "Marseille")
    await staff.fill("#c-territory", "13013, 13014, 13015, 13016")
    await staff.get_by_label(AGENCY).check()
    await staff.get_by_label("Massajobs").check()
    # Soon: the agency's task is among the first of its « Mes tâches » (soonest due first).
    await staff.fill("#c-deadline", (date.today() + timedelta(days=3)).isoformat())
    if two:
        # The second position without its workplace: refused by its field, nothing lost.
        await staff.fill("#c-pos-1-title", "Cariste")
        await staff.fill("#c-pos-1-count", "1")
        await staff.select_option("#c-pos-1-contract", label="intérim")
        await staff.click("button:text('Lancer la campagne')")
        await expect(staff.locator("p.error")).to_contain_text("Campagne non lancée")
        await expect(staff.locator("#c-pos-1-place_postcode-erreur")).to_contain_text(
            "champ obligatoire"
        )
        await expect(staff.locator("#c-pos-1-title")).to_have_value("Cariste")
        await expect(staff.get_by_label("Massajobs")).to_be_checked()
        await check_a11y(staff)
        await staff.fill("#c-pos-1-place_postcode", "13014")
    if screenshot:
        await check_a11y(staff)
        await shot(staff, "campagne-nouvelle")
    await staff.click("button:text('Lancer la campagne')")
    await expect(staff.locator("h1")).to_have_text(title)
    await expect(staff.locator(".ok")).to_contain_text("Campagne lancée")


async def test_staff_run_a_campaign_and_the_manager_reads_its_report_on_a_phone(people):
    run = uuid.uuid4().hex[:6]
    title = f"Entrepôt des Arnavaux – été {run}"
    staff = await people.page(f"staff:{NETWORK}")
    await staff.click("nav >> text=Recrutements")
    await expect(staff.locator("h1")).to_have_text("Recrutements")
    await check_a11y(staff)
    await launch(staff, title, two=True, screenshot=True)
    await expect(staff.locator(".chart.positions")).to_contain_text("0 / 2 embauches")
    await expect(staff.locator(".chart.positions")).to_contain_text("Cariste")
    await check_a11y(staff)

    # The invited agency has its task in « Mes tâches » and proposes a candidate from it.
    agency = await people.page(f"agency:{AGENCY}")
    await agency.click("nav >> text=Mes tâches")
    task = agency.locator("section.task", has_text=f"Proposer des candidats : {title}")
    await expect(task).to_be_visible()
    await check_a11y(agency)
    await task.locator("input[name=first_name]").fill("Yasmine")
    await task.locator("input[name=last_name]").fill(f"Belkacem{run}")
    await task.locator("input[name=email]").fill(f"yasmine.{run}@example.fr")
    await task.locator("input[name=postcode]").fill("13015")
    await task.locator("input[name=skills]").fill("CACES 3, chariot élévateur")
    await task.locator("select[name=position_id]").select_option(label="Cariste")
    await task.locator("textarea[name=cv_text]").fill("Cariste en entrepôt depuis 2019.")
    await task.locator("button:text('Proposer ce candidat')").click()
    # The answer is said on « Mes candidats » (a duplicate would say to whom it is credited).
    await expect(agency.locator(".ok")).to_contain_text("candidat proposé sous le pseudonyme")
    await expect(agency.locator("h1")).to_have_text("Mes candidats")

    # The staff sees the referral on the board, by name, and screens it from there.
    name = f"Yasmine Belkacem{run}"
    await staff.click("nav >> text=Recrutements")
    await staff.click(f"a:text('{title}')")
    card = staff.locator("#col-screening + ul li.ref-card", has_text=name)
    await expect(card).to_contain_text("Cariste")
    await expect(card).to_contain_text(AGENCY)
    await card.locator("a.button", has_text="Trier la candidature").click()
    await expect(staff.locator("h1")).to_contain_text("Trier la candidature")
    await expect(staff.locator("section.profile")).to_contain_text(
        "Cariste en entrepôt depuis 2019."
    )
    await expect(staff.locator("section.profile")).to_contain_text(f"yasmine.{run}@example.fr")
    await check_a11y(staff)
    await shot(staff, "campagne-tri")
    form = staff.locator("form.screen-form")
    await form.get_by_label("Retenir (présélection").check()
    await form.get_by_label("Motif").fill("CACES à jour, disponible")
    await form.locator("button[type=submit]").click()
    await expect(staff.locator(".ok")).to_contain_text("triée : retenue")
    await expect(staff.locator("#col-shortlisted + ul li.ref-card", has_text=name)).to_be_visible()
    await expect(staff.locator("#col-screening + ul li.ref-card", has_text=name)).to_have_count(0)
    await check_a11y(staff)
    await shot(staff, "campagne")

    # The report, with its bars, its CSV and print links.
    await staff.click("text=Bilan de la campagne")
    await expect(staff.locator("h1")).to_have_text(f"Bilan · {title}")
    await expect(staff.locator("figure.agencies")).to_contain_text("1 candidature · 1 présélection")
    await expect(staff.locator("a", has_text="Télécharger en CSV")).to_be_visible()
    await check_a11y(staff)
    await shot(staff, "campagne-bilan")

    # Another campaign, cancelled with a reason once confirmed.
    other = f"Renfort de quai {run}"
    await launch(staff, other, two=False)
    zone = staff.locator("section.danger-zone")
    await zone.get_by_label("Motif de l'annulation").fill("Besoin couvert en interne")
    await zone.get_by_label("Je confirme l'annulation").check()
    await zone.locator("button", has_text="Annuler la campagne").click()
    await expect(staff.locator(".ok")).to_contain_text("Campagne annulée")
    await expect(staff.locator("section.summary")).to_contain_text("annulée")
    await check_a11y(staff)
    await staff.click("nav >> text=Recrutements")
    await staff.select_option("#f-statut", label="annulée")
    await staff.click("button:text('Filtrer')")
    await expect(staff.locator("table.campaigns")).to_contain_text(other)
    await expect(staff.locator("table.campaigns")).not_to_contain_text(title)
    await staff.select_option("#f-statut", label="toutes les campagnes")
    await staff.click("button:text('Filtrer')")
    await expect(staff.locator("table.campaigns")).to_contain_text(title)
    await check_a11y(staff)
    await shot(staff, "campagnes")

    # The manager, on a phone: the list, the campaign, its report — nothing wider than 390 px.
    manager = await people.page(f"manager:{NETWORK}", PHONE)
    await manager.click("nav >> text=Recrutements")
    await fits(manager, PHONE["width"])
    await check_a11y(manager)
    await manager.click(f"a:text('{title}')")
    await fits(manager, PHONE["width"])
    await check_a11y(manager)
    await manager.click("text=Bilan de la campagne")
    await expect(manager.locator("h1")).to_have_text(f"Bilan · {title}")
    await expect(manager.locator(".tiles")).to_contain_text("0 / 3")
    await fits(manager, PHONE["width"])
    await check_a11y(manager)
    await shot(manager, "campagne-mobile")


async def test_the_staff_read_a_full_column_of_the_board_page_by_page(shared_stack, people):
    """A column holding more referrals than the board shows: « Voir les N » leads to all of
    them, page by page, each with its screening link."""
    campaign = launch_campaign(shared_stack)
    cid, title = campaign["id"], campaign["title"]
    token = shared_stack.tokens()[f"agency:{AGENCY}"]
    for i in range(21):  # the board shows 20 a column
        r = shared_stack.post(
            f"/api/campaigns/{cid}/referrals",
            token,
            {
                "request_id": f"browser-col-{cid[:8]}-{i}",
                "first_name": "Candidate",
                "last_name": f"N{i:02d}",
                "email": f"col.{cid[:8]}.{i}@example.fr",
                "postcode": "13014",
                "position_id": campaign["positions"][0]["id"],
            },
        )
        assert r.status_code == 201, r.text
    staff = await people.page(f"staff:{NETWORK}")
    await staff.click("nav >> text=Recrutements")
    await staff.click(f"a:text('{title}')")
    column = staff.locator("section.board-col", has=staff.locator("#col-screening"))
    await column.get_by_role("link", name=re.compile(r"Voir les 21")).click()
    await expect(staff.locator("h1")).to_contain_text(title)
    await expect(staff.locator("nav.pages")).to_contain_text("21 candidatures · page 1 sur 1")
    await expect(staff.locator("li.ref-card")).to_have_count(21)
    await expect(staff.locator("li.ref-card", has_text="Candidate N20")).to_contain_text(
        "Trier la candidature"
    )
    await check_a11y(staff)
    await staff.click(f"text=Retour à la campagne « {title} »")
    await expect(staff.locator("h1")).to_have_text(title)
