"""Pooled services in a real browser, each person clicking from their home page: staff add a
service to the catalogue; two members see what they would pay now and request it (one on a
phone); their quotes show how they are made and are accepted (from the request's page and
from « Mes tâches »); the provider confirms the order with its reference and declares the
delivery; a member opens its printable invoice and rates; staff follow the pool and withdraw
the service. Every page visited passes axe-core; the main ones are saved as screenshots."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import PHONE, SHOTS, check_a11y, fits

pytestmark = pytest.mark.system

NETWORK = "Entreprendre au Nord de Marseille"
PROVIDER = "Cabinet Comptable Mutualisé du Nord"


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


async def reload_until(
    page: Page, selector: str, text: str, name: str | None = None, tries: int = 60
) -> None:
    """The pool answers in the background: reload (bounded) until the page says `text` (in
    the `selector` that also says `name`, when given)."""
    found = page.locator(selector, has_text=name) if name else page.locator(selector)
    found = found.filter(has_text=text)
    for _ in range(tries):
        if await found.count():
            return
        await page.wait_for_timeout(500)
        await page.reload()
    await expect(found.first).to_be_visible()


async def reload_until_seen(page: Page, found: Locator, tries: int = 60) -> None:
    """The same for a locator (a task of this test's pool among others)."""
    for _ in range(tries):
        if await found.count():
            return
        await page.wait_for_timeout(500)
        await page.reload()
    await expect(found.first).to_be_visible()


async def test_a_pooled_service_from_the_catalogue_to_the_invoice(shared_stack, people):
    tag = uuid.uuid4().hex[:6]
    code, name = f"paie-{tag}", f"Gestion de la paie mutualisée {tag}"

    # Staff add the service: two companies are enough, requests taken for a month ahead.
    staff = await people.page(f"staff:{NETWORK}")
    await staff.click("nav.menu >> text=Services mutualisés")
    await staff.click("nav.subnav >> text=Ajouter un service")
    await expect(staff.locator("h1")).to_have_text("Ajouter un service au catalogue")
    await check_a11y(staff)
    await staff.fill("#svc-name", name)
    await staff.fill("#svc-code", code)
    await staff.select_option("#svc-provider", label=PROVIDER)
    await staff.select_option("#svc-unit", label="jour")
    await staff.fill("#svc-fixed", "300")
    await staff.fill("#svc-per-unit", "200")
    await staff.fill("#svc-min", "2")
    await staff.fill("#svc-window", "31")
    await staff.check("label:has-text('au prorata des quantités demandées') input")
    await staff.click("text=Ajouter au catalogue")
    await expect(staff.locator(".ok")).to_contain_text(f"« {name} » est au catalogue")
    card = staff.locator("section.service", has_text=name)
    await expect(card).to_contain_text("Le regroupement se fait à partir de 2 entreprises")

    # Karim sees what he would pay now, against buying alone, and requests one day.
    karim = await people.page("member:Logistique des Arnavaux")
    await karim.click("nav.menu >> text=Services mutualisés")
    mine = karim.locator("section.service", has_text=name)
    await expect(mine).to_contain_text("Votre part aujourd'hui")
    await expect(mine).to_contain_text("Seul, le même service")
    await mine.scroll_into_view_if_needed()
    await shot(karim, "catalogue")
    await check_a11y(karim)
    await mine.locator("text=Demander ce service").click()
    await expect(karim.locator("h1")).to_have_text(f"Demander : {name}")
    await karim.fill("#req-quantity", "1")
    await karim.fill("#req-note", "Bulletins de décembre")
    await shot(karim, "demande")
    await check_a11y(karim)
    await karim.click("text=Envoyer la demande")
    await expect(karim.locator(".ok")).to_contain_text("Demande enregistrée")
    await expect(karim.locator("section.summary")).to_contain_text(
        "en attente d'autres entreprises"
    )
    await check_a11y(karim)

    # Leïla, on her phone, sees one company in already, requests two days: the rule is met,
    # her quote shows how it is made, and she accepts it.
    leila = await people.page("member:Pressing de Saint-Antoine", PHONE)
    await leila.click("nav.menu >> text=Services mutualisés")
    hers = leila.locator("section.service", has_text=name)
    await expect(hers).to_contain_text("1 / 2 entreprises")
    await shot(leila, "catalogue-mobile")
    await fits(leila, 390)
    await check_a11y(leila)
    # The demo opens with her company still joining the network: the card says why she may
    # not request yet; she accepts the charter from her tasks, and the company is active.
    if await hers.locator(".error", has_text="pas (encore) active").count():
        await leila.click("nav.menu >> text=Mes tâches")
        charter = leila.locator("section.task", has_text="charte").first
        await charter.get_by_role("button", name="Accepter la charte").click()
        await expect(leila.locator(".ok")).to_be_visible()
        await leila.click("nav.menu >> text=Services mutualisés")
        await reload_until(leila, "section.service", "Demander ce service", name=name)
    await hers.locator("text=Demander ce service").click()
    await leila.fill("#req-quantity", "2")
    await leila.click("text=Envoyer la demande")
    await expect(leila.locator(".ok")).to_contain_text("Demande enregistrée")
    await reload_until(leila, "section.summary", "devis à accepter")
    quote = leila.locator("section.quote")
    await expect(quote).to_contain_text("Prix du prestataire pour le regroupement")
    await expect(quote).to_contain_text("900,00")  # 300 + 3 days × 200
    await expect(quote).to_contain_text("2 jours sur 3 jours")
    await expect(quote).to_contain_text("600,00")  # her share: two thirds
    await expect(quote).to_contain_text("700,00")  # alone: 300 + 2 × 200
    await expect(leila.locator("main")).not_to_contain_text("Logistique des Arnavaux")
    await shot(leila, "devis-mobile")
    await fits(leila, 390)
    await check_a11y(leila)
    await quote.locator('label:has-text("J\'accepte le devis")').click()
    await quote.locator("button[type=submit]").click()
    await expect(leila.locator(".ok")).to_contain_text("Devis accepté")
    await fits(leila, 390)

    # Karim accepts his from « Mes tâches » (the same act).
    await karim.click("nav.menu >> text=Mes tâches")
    task = karim.locator("section.task", has=karim.locator(f"a[href*='{code}']"))
    await reload_until_seen(karim, task.filter(has_text="Accepter le devis"))
    await expect(task).to_contain_text("300,00")
    await check_a11y(karim)
    await task.locator("input[name=accept][value=true]").check()
    await task.locator("button[type=submit]").click()
    await expect(karim.locator(".ok")).to_contain_text("Accepter le devis")

    # The provider finds the order with its lines, confirms it with a reference.
    helene = await people.page(f"partner:{PROVIDER}")
    await helene.click("nav.menu >> text=Commandes")
    await reload_until(helene, "tr", name)
    await check_a11y(helene)
    await helene.locator("a", has_text=name).click()
    await reload_until(helene, "h2", "Confirmer ou refuser la commande")
    lines = helene.locator("table.participants")
    await expect(lines).to_contain_text("Logistique des Arnavaux")
    await expect(lines).to_contain_text("Pressing de Saint-Antoine")
    await expect(lines).to_contain_text("900,00")
    await shot(helene, "commandes")
    await check_a11y(helene)
    # She confirms it from her task in « Mes tâches » (the order page's own form calls the
    # same command: tests/api/test_pages_pooling.py submits it), then finds it confirmed.
    await helene.click("nav.menu >> text=Mes tâches")
    order = helene.locator("section.task", has=helene.locator(f"a[href*='{code}']"))
    order = order.filter(has=helene.locator("input[name=confirmed]"))
    await reload_until_seen(helene, order)
    await order.locator("input[name=confirmed][value=true]").check()
    await order.locator("input[name=reference]").fill(f"CCM-{tag}")
    await order.locator("button[type=submit]").click()
    await expect(helene.locator(".ok")).to_be_visible()
    await helene.click("nav.menu >> text=Commandes")
    await helene.locator("a", has_text=name).click()
    await reload_until(helene, "section.summary", f"CCM-{tag}")
    # The delivery, declared from « Mes tâches ».
    await helene.click("nav.menu >> text=Mes tâches")
    deliver = helene.locator("section.task", has=helene.locator(f"a[href*='{code}']"))
    deliver = deliver.filter(has_text="Confirmer la livraison")
    await reload_until_seen(helene, deliver)
    await deliver.locator("input[name=delivered][value=true]").check()
    await deliver.locator("button[type=submit]").click()
    await expect(helene.locator(".ok")).to_contain_text("Confirmer la livraison")
    await check_a11y(helene)

    # Karim finds his invoice, opens the printable page, and rates the service.
    await karim.click("nav.menu >> text=Services mutualisés")
    await karim.click("nav.subnav >> text=Mes factures")
    await reload_until(karim, "tr", name)
    await check_a11y(karim)
    await karim.locator("tr", has_text=name).locator("text=Voir la facture").click()
    invoice = karim.locator("article.invoice")
    await expect(invoice).to_contain_text(PROVIDER)
    await expect(invoice).to_contain_text("part mutualisée")
    await expect(invoice).to_contain_text("300,00")
    await shot(karim, "facture")
    await check_a11y(karim)
    await karim.click("text=← Mes factures")
    await karim.click("nav.subnav >> text=Mes demandes")
    await karim.locator("a", has_text=name).first.click()
    await reload_until(karim, "h2", "Facture")
    await karim.select_option("#note-etoiles", "5")
    await karim.fill("#note-comment", "Bulletins justes et à l'heure")
    await karim.click("text=Évaluer le service")
    await expect(karim.locator(".ok")).to_contain_text("Merci pour votre évaluation")
    # Leïla rates from « Mes tâches ».
    await leila.click("nav.menu >> text=Mes tâches")
    rating = leila.locator("section.task", has=leila.locator(f"a[href*='{code}']"))
    rating = rating.filter(has_text="Évaluer le service")
    await reload_until_seen(leila, rating)
    await rating.locator("select[name=stars]").select_option("4")
    await rating.locator("button[type=submit]").click()
    await expect(leila.locator(".ok")).to_contain_text("Évaluer le service")
    await fits(leila, 390)

    # Staff follow the pool: members, quantities, shares, the order, invoice lines, ratings.
    await staff.click("nav.menu >> text=Services mutualisés")
    await staff.click("nav.subnav >> text=Regroupements")
    await check_a11y(staff)
    await staff.locator("a", has_text=name).click()
    await reload_until(staff, "table.participants", "Bulletins justes")
    members = staff.locator("table.participants")
    await expect(members).to_contain_text("Logistique des Arnavaux")
    await expect(members).to_contain_text("Pressing de Saint-Antoine")
    await expect(members).to_contain_text("600,00")
    await expect(staff.locator("table.invoice-lines")).to_contain_text("Total facturé")
    await expect(staff.locator("section.summary")).to_contain_text(f"CCM-{tag}")
    await expect(staff.locator("section.summary")).to_contain_text("règle atteinte")
    await shot(staff, "mutualisation")
    await check_a11y(staff)

    # And take the service out of the catalogue.
    await staff.click("nav.menu >> text=Services mutualisés")
    card = staff.locator("section.service", has_text=name)
    await card.locator("text=Retirer du catalogue").click()
    await expect(staff.locator(".ok")).to_contain_text(f"« {name} » est retiré du catalogue")
    await expect(card).to_contain_text("retiré du catalogue")
    await check_a11y(staff)
