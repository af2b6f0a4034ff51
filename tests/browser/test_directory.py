"""The directory by clicking, from the home page: the network's staff search it and open an
organisation; they add a member company, which starts « en adhésion » with its onboarding;
the company's contact, invited from « Utilisateurs », accepts the charter from « Mes tâches »
on her phone, and the company is active; an edit refused keeps what was typed, then saves.
Every page passes axe-core, the phone's fit 390 px."""

from __future__ import annotations

import random

import pytest
from playwright.async_api import Page, expect

from domain.identifiers import luhn_check_digit
from tests.browser.conftest import PHONE, SHOTS, check_a11y, fits
from tests.browser.test_people import mail_link

pytestmark = pytest.mark.system

NETWORK = "Entreprendre au Nord de Marseille"


def new_siret() -> str:
    siren = f"{random.randrange(10**7, 10**8)}"
    siren += luhn_check_digit(siren)
    nic = "0001"
    return siren + nic + luhn_check_digit(siren + nic)


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


async def test_staff_add_a_member_company_it_joins_by_accepting_the_charter(shared_stack, people):
    stack = shared_stack
    tag = f"{random.randrange(10**5):05d}"
    company = f"Fromagerie du Merlan {tag}"
    contact = f"camille.{tag}@fromagerie.example.fr"

    # Staff search the directory and open an organisation.
    staff = await people.page(f"staff:{NETWORK}")
    await staff.click("nav >> text=Annuaire")
    await expect(staff.locator("h1")).to_contain_text("Annuaire")
    await check_a11y(staff)
    await staff.fill("#f-q", "Arnavaux")
    await staff.select_option("#f-kind", label="Entreprises membres")
    await staff.get_by_role("button", name="Rechercher").click()
    await expect(staff.locator("tr.org", has_text="Logistique des Arnavaux")).to_be_visible()
    for row in await staff.locator("tr.org").all():  # members matching « Arnavaux » only
        await expect(row).to_contain_text("Arnavaux")
        await expect(row).to_contain_text("entreprise membre")
    await check_a11y(staff)
    await shot(staff, "annuaire")
    await staff.get_by_role("link", name="Logistique des Arnavaux").click()
    await expect(staff.locator("h1")).to_have_text("Logistique des Arnavaux")
    await expect(staff.locator("dl.facts")).to_contain_text("Territoire")
    await expect(staff.get_by_role("heading", name="Utilisateurs")).to_be_visible()
    await expect(staff.locator("section", has_text="Utilisateurs")).to_contain_text("Karim Haddad")
    await check_a11y(staff)
    await shot(staff, "organisation")

    # They add a member company: it starts pending, and its onboarding opens from its page.
    await staff.click("nav >> text=Annuaire")
    await staff.get_by_role("link", name="Ajouter une organisation").click()
    await expect(staff.locator("h1")).to_have_text("Nouvelle organisation")
    await check_a11y(staff)
    await staff.fill("#org-name", company)
    await staff.fill("#org-siret", new_siret())
    await staff.fill("#org-postcode", "13014")
    await staff.fill("#org-commune", "Marseille")
    await staff.fill("#org-territory", "Marseille Nord")
    await staff.fill("#org-naf", "10.51C")
    await staff.fill("#org-headcount", "4")
    await staff.get_by_role("button", name="Ajouter à l'annuaire").click()
    await expect(staff.locator("h1")).to_have_text(company)
    await expect(staff.locator(".ok")).to_have_text(f"{company} est ajoutée à l'annuaire.")
    await expect(staff.locator(".badge.pending")).to_have_text("en adhésion")
    await staff.fill("#onb-name", "Camille Roussel")
    await staff.fill("#onb-email", contact)
    await staff.get_by_role("button", name="Ouvrir l'adhésion").click()
    await expect(staff.locator(".ok")).to_contain_text("Adhésion ouverte : Camille Roussel")
    for _ in range(60):  # the process's row once its workflow has recorded it
        if await staff.get_by_role("link", name=f"Adhésion de {company}").count():
            break
        await staff.wait_for_timeout(500)
        await staff.reload()
    await expect(staff.get_by_role("link", name=f"Adhésion de {company}")).to_be_visible()
    await check_a11y(staff)
    await shot(staff, "organisation-adhesion")

    # Its contact is invited from « Utilisateurs » and signs in from the mail, on her phone.
    await staff.click("nav >> text=Utilisateurs")
    await staff.fill("#invite-name", "Camille Roussel")
    await staff.fill("#invite-email", contact)
    await staff.select_option("#invite-org", label=f"{company} (entreprise membre)")
    await staff.select_option("#invite-role", label="entreprise membre")
    await staff.get_by_role("button", name="Envoyer l'invitation").click()
    await expect(staff.locator(".ok")).to_have_text(f"Invitation envoyée à {contact}.")
    invitation = await mail_link(staff, stack, "Votre accès à Relais", contact)
    camille = await people.new(PHONE)
    await camille.goto(invitation)
    await camille.get_by_role("button", name="Activer mon compte").click()
    await expect(camille.locator("h1")).to_have_text("Tableau de bord")

    # She accepts the charter from « Mes tâches »: the company is an active member.
    await camille.click("nav >> text=Mes tâches")
    card = camille.locator("section.task", has_text=f"Accepter la charte du réseau ({company})")
    await expect(card).to_be_visible()
    await check_a11y(camille)
    await fits(camille, PHONE["width"])
    await card.get_by_role("button", name="Accepter la charte").click()
    await expect(camille.locator(".ok")).to_contain_text("Accepter la charte du réseau")
    await check_a11y(camille)
    await fits(camille, PHONE["width"])
    await camille.click("nav >> text=Annuaire")
    await expect(camille.locator("tr.org")).to_have_count(1)
    await expect(camille.locator("tr.org")).to_contain_text("actif")
    await check_a11y(camille)
    await fits(camille, PHONE["width"])
    await shot(camille, "annuaire-mobile")
    await camille.get_by_role("link", name=company).click()
    await expect(camille.locator("h1")).to_have_text(company)
    await expect(camille.locator("ol.timeline")).to_contain_text("l'adhésion est active")
    await check_a11y(camille)
    await fits(camille, PHONE["width"])
    await shot(camille, "organisation-mobile")

    # Staff see it active, the acceptance in its history; an edit refused keeps the form.
    await staff.click("nav >> text=Annuaire")
    await staff.fill("#f-q", company)
    await staff.get_by_role("button", name="Rechercher").click()
    await staff.get_by_role("link", name=company).click()
    await expect(staff.locator(".badge.active")).to_have_text("actif")
    await expect(staff.locator("ol.timeline")).to_contain_text("l'adhésion est active")
    await staff.get_by_role("link", name="Modifier la fiche").click()
    await expect(staff.locator("h1")).to_have_text(f"Modifier la fiche de {company}")
    await staff.fill("#ed-naf", "10.5X")
    await staff.fill("#ed-headcount", "6")
    await staff.get_by_role("button", name="Enregistrer").click()
    await expect(staff.locator(".field-error")).to_have_text("format invalide")
    await expect(staff.locator("#ed-naf")).to_have_value("10.5X")
    await expect(staff.locator("#ed-headcount")).to_have_value("6")
    await check_a11y(staff)
    await shot(staff, "organisation-modifier-refus")
    await staff.fill("#ed-naf", "10.51C")
    await staff.get_by_role("button", name="Enregistrer").click()
    await expect(staff.locator(".ok")).to_have_text("La fiche est enregistrée.")
    await expect(staff.locator("dl.facts")).to_contain_text("6")
    await expect(staff.locator("ol.timeline")).to_contain_text(
        "a modifié la fiche de l'organisation (effectif)"
    )
    await check_a11y(staff)
