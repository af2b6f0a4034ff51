"""A company visit by clicking, from the home page: the CMA's adviser records, on his phone,
a visit to a company outside the directory, adds a second project row (no JavaScript), and
its recruitment project reaches the network's staff as a task, mailed to them; the mail's
link opens the task, which links to the visit, where they see what to do. Every page passes
axe-core; the phone's fit 390 px."""

from __future__ import annotations

import random

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PHONE, check_a11y, fits
from tests.browser.test_directory import new_siret, shot
from tests.browser.test_people import mail_link
from worker.demo import demo_email

pytestmark = pytest.mark.system

NETWORK = "Entreprendre au Nord de Marseille"
CMA = "Chambre de métiers et de l'artisanat – délégation 13"
STAFF = "Sonia Meziane"


async def test_a_chamber_adviser_records_a_visit_its_project_reaches_staff(shared_stack, people):
    tag = f"{random.randrange(10**5):05d}"
    company = f"Boulangerie des Aygalades {tag}"
    project = f"Recruter un apprenti boulanger {tag}"

    adviser = await people.page(f"partner:{CMA}", PHONE)
    await adviser.click("nav >> text=Visites")
    await expect(adviser.locator("h1")).to_contain_text("Visites d'entreprises")
    await check_a11y(adviser)
    await fits(adviser, PHONE["width"])
    await adviser.get_by_role("link", name="Enregistrer une visite").click()
    await expect(adviser.locator("h1")).to_have_text("Nouvelle visite")
    await adviser.fill("#visit-siret", new_siret())
    await adviser.fill("#visit-name", company)
    await adviser.fill("#visit-postcode", "13015")
    await adviser.fill("#visit-territory", "Marseille Nord")
    await adviser.get_by_label("Recrutement", exact=True).check()
    await adviser.get_by_label("Formation", exact=True).check()
    await adviser.fill("#visit-needs", "Un apprenti pour la fournée du matin.")
    await adviser.select_option("#project-0-kind", label="recrutement")
    await adviser.fill("#project-0-title", project)

    # One more project row: the same form comes back with everything typed.
    await adviser.get_by_role("button", name="Ajouter un projet").click()
    await expect(adviser.locator("legend", has_text="Projet d'action 2")).to_be_visible()
    await expect(adviser.locator("#project-0-title")).to_have_value(project)
    await expect(adviser.locator("#visit-name")).to_have_value(company)
    await expect(adviser.get_by_label("Formation", exact=True)).to_be_checked()
    await adviser.select_option("#project-1-kind", label="formation")
    await adviser.fill("#project-1-title", "Former au logiciel de caisse")
    await check_a11y(adviser)
    await fits(adviser, PHONE["width"])
    await shot(adviser, "visite-nouvelle-mobile")
    await adviser.get_by_role("button", name="Enregistrer la visite").click()
    await expect(adviser.locator("h1")).to_have_text(f"Visite chez {company}")
    await expect(adviser.locator(".ok")).to_have_text(f"Visite chez {company} enregistrée.")
    recruitment = adviser.locator(".project", has_text=project)
    await expect(recruitment).to_contain_text("Transmis à l'équipe du réseau")
    await expect(adviser.locator(".project", has_text="Former au logiciel")).to_be_visible()
    await check_a11y(adviser)
    await fits(adviser, PHONE["width"])
    await shot(adviser, "visite-mobile")
    training = adviser.locator(".project", has_text="Former au logiciel")
    await training.get_by_label("Où en est ce projet").select_option(label="en cours")
    await training.get_by_role("button", name="Mettre à jour").click()
    await expect(adviser.locator(".ok")).to_have_text(
        "Projet « Former au logiciel de caisse » : en cours."
    )
    await check_a11y(adviser)
    await fits(adviser, PHONE["width"])
    await adviser.click("nav >> text=Visites")
    await expect(adviser.locator("tr.visit", has_text=company)).to_be_visible()
    await check_a11y(adviser)
    await fits(adviser, PHONE["width"])

    # The task reaches the network's staff by mail (« Courriels »); its link opens it, and
    # the task the visit (« Mes tâches » lists every task of the network: it may be far down).
    staff = await people.page(f"staff:{NETWORK}")
    title = f"Lancer le projet « {project} » ({company})"
    task_link = await mail_link(staff, shared_stack, f"À faire : {title}", demo_email(STAFF))
    await staff.goto(task_link)
    await expect(staff.locator("h1")).to_have_text(title)
    card = staff.locator("section.task")
    await check_a11y(staff)
    await card.get_by_role("link", name="ouvrez la visite").click()
    await expect(staff.locator("h1")).to_have_text(f"Visite chez {company}")
    await expect(staff.locator("dl.facts")).to_contain_text("Recrutement, Formation")
    await expect(staff.locator(".project", has_text=project)).to_contain_text(
        "L'entreprise n'est pas dans l'annuaire"
    )
    await check_a11y(staff)
    await shot(staff, "visite")
    await staff.click("nav >> text=Visites")
    await staff.fill("#v-territory", "Marseille Nord")
    await staff.get_by_role("button", name="Filtrer").click()
    await expect(staff.locator("tr.visit", has_text=company)).to_contain_text("Yannick Roux")
    await check_a11y(staff)
    await shot(staff, "visites")
