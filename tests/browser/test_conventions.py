"""A convention's life by clicking, from the home page: the network's manager creates one with
its parties and their signatories (two steps, no JavaScript), each signatory reads what they
sign above the button and signs — one on a 390 px phone — the phase runs: an expense, an
amended target, fresh figures against the targets, the mid-phase review; and two phases
already over, evaluated at once: one renewed with changed targets into its next phase, one
closed. Every page passes axe-core."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PHONE, SHOTS, check_a11y, fits

pytestmark = pytest.mark.system

NETWORK = "Entreprendre au Nord de Marseille"
CCI = "CCI métropolitaine Aix-Marseille-Provence"
MAIRIE = "Mairie des 15e et 16e arrondissements"
CMA = "Chambre de métiers et de l'artisanat – délégation 13"


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


async def create(
    manager: Page,
    title: str,
    parties: list[tuple[str, str, str]],
    starts: str,
    ends: str,
    targets: dict[str, str],
    screenshot: bool = False,
) -> None:
    """Conventions → Nouvelle convention: the parties, « Suivant », their signatories, then
    « Créer la convention »; the convention's page says it."""
    await manager.click("nav >> text=Conventions")
    await expect(manager.locator("h1")).to_contain_text("Conventions")
    await check_a11y(manager)
    await manager.get_by_role("link", name="Nouvelle convention").click()
    await expect(manager.locator("h1")).to_have_text("Nouvelle convention")
    await manager.get_by_label("Intitulé de la convention").fill(title)
    await manager.get_by_label("Territoire mesuré").fill("Marseille Nord")
    for i, (org, role, _) in enumerate(parties):
        value = await manager.locator(f"#party-{i}-org option", has_text=org).first.get_attribute(
            "value"
        )
        await manager.select_option(f"#party-{i}-org", value=value)
        await manager.select_option(f"#party-{i}-role", label=role)
    await manager.get_by_label("Début de la phase").fill(starts)
    await manager.get_by_label("Fin de la phase").fill(ends)
    await manager.get_by_label("Budget annuel (€)").fill("48 000,00")
    for label, value in targets.items():
        await manager.get_by_label(label).fill(value)
    await manager.get_by_label("Priorités").fill("Recrutement local\nTransmission d'entreprises")
    await manager.get_by_role("button", name="Suivant : choisir les signataires").click()
    # Step 2: what was typed is kept, each party offers its people.
    await expect(manager.get_by_label("Intitulé de la convention")).to_have_value(title)
    for i, (_, _, signatory) in enumerate(parties):
        await manager.select_option(f"#party-{i}-signatory", label=signatory)
    await check_a11y(manager)
    if screenshot:
        await shot(manager, "convention-nouvelle")
    await manager.get_by_role("button", name="Créer la convention").click()
    await expect(manager.locator(".ok")).to_contain_text("Convention créée")
    await expect(manager.locator("h1")).to_have_text(title)


async def until_text(page: Page, text: str, tries: int = 60) -> None:
    """Reload until the page says it (the workflow moves on a moment after the act)."""
    for _ in range(tries):
        if await page.locator("main", has_text=text).count():
            return
        await page.wait_for_timeout(500)
        await page.reload()
    raise AssertionError(f"never « {text} » on {page.url}")


async def open_convention(page: Page, title: str) -> None:
    await page.click("nav >> text=Conventions")
    await check_a11y(page)
    await page.get_by_role("link", name=title).click()
    await expect(page.locator("h1")).to_have_text(title)


async def test_a_convention_is_created_signed_run_reviewed_renewed_and_closed(people, shared_stack):
    run = uuid.uuid4().hex[:4]
    title = f"Pacte Emploi Nord {run}"
    manager = await people.page(f"manager:{NETWORK}")
    # A phase already half run (its mid-phase review is due at once).
    await create(
        manager,
        title,
        [
            (CCI, "financeur", "Thomas Girard (partenaire)"),
            (MAIRIE, "financeur", "Nadia Benali (partenaire)"),
            (CMA, "partenaire", "Yannick Roux (partenaire)"),
        ],
        day(-10),
        day(5),
        {"Entreprises rencontrées": "40", "Projets d'action": "12"},
        screenshot=True,
    )
    await expect(manager.locator("main")).to_contain_text("en attente de signatures")
    await manager.click("nav >> text=Conventions")
    await expect(manager.locator("tr", has_text=title)).to_contain_text("en attente de signatures")
    await shot(manager, "conventions")

    # Thomas Girard opens the convention: its content, then his sign button.
    thomas = await people.page(f"partner:{CCI}")
    await open_convention(thomas, title)
    content = thomas.get_by_role("region", name="La convention")
    await expect(content).to_contain_text("Entreprises rencontrées : 40")
    await expect(content).to_contain_text("Recrutement local")
    await expect(content).to_contain_text("48\u202f000,00 €")
    await thomas.get_by_role("button", name="Signer la convention").click()
    await expect(thomas.locator(".ok")).to_contain_text("Signer la convention")
    await expect(thomas.locator("li", has_text=CCI)).to_contain_text("signé le")
    await check_a11y(thomas)

    # Nadia Benali signs on her phone, from « Mes tâches », the content above the button.
    nadia = await people.page(f"partner:{MAIRIE}", PHONE)
    await nadia.click("nav >> text=Mes tâches")
    card = nadia.locator("section.task", has_text=title)
    await expect(card).to_contain_text("Ce que vous signez")
    await expect(card).to_contain_text("Projets d'action : 12")
    await expect(card).to_contain_text("Thomas Girard")
    await fits(nadia, 390)
    await check_a11y(nadia)
    await shot(nadia, "convention-signature-mobile")
    await card.get_by_role("button", name="Signer la convention").click()
    await expect(nadia.locator(".ok")).to_contain_text(title)
    await expect(nadia.locator("section.task", has_text=title)).to_have_count(0)
    await fits(nadia, 390)
    await check_a11y(nadia)
    # Her convention's page on the phone too.
    await open_convention(nadia, title)
    await fits(nadia, 390)

    # Yannick Roux, of the CMA, signs last, from his tasks.
    yannick = await people.page(f"partner:{CMA}")
    await yannick.click("nav >> text=Mes tâches")
    card = yannick.locator("section.task", has_text=title)
    await expect(card).to_contain_text("Ce que vous signez")
    await check_a11y(yannick)
    await card.get_by_role("button", name="Signer la convention").click()
    await expect(yannick.locator(".ok")).to_contain_text(title)

    # Every party signed: the phase runs. The manager records an expense, amends a target,
    # asks for fresh figures and reads them against the targets.
    await open_convention(manager, title)
    await until_text(manager, "phase en cours")
    for org in (CCI, MAIRIE, CMA):
        await expect(manager.locator("li", has_text=org)).to_contain_text("signé le")
    expense = manager.locator("form[action$='/depenses']")
    await expense.get_by_label("Montant (€)").fill("1 250,40")
    await expense.get_by_label("Objet de la dépense").fill("Forum de l'emploi des Aygalades")
    await expense.get_by_role("button", name="Enregistrer la dépense").click()
    await expect(manager.locator(".ok")).to_contain_text("Dépense enregistrée")
    await expect(manager.locator("tr", has_text="Forum de l'emploi")).to_contain_text(
        "1\u202f250,40 €"
    )
    amend = manager.locator("form[action$='/avenants']")
    await amend.get_by_label("Entreprises rencontrées").fill("45")
    await amend.get_by_label("Motif de l'avenant").fill("Comité de pilotage de décembre")
    await amend.get_by_role("button", name="Enregistrer l'avenant").click()
    await expect(manager.locator(".ok")).to_contain_text("Avenant enregistré")
    await expect(manager.locator("ul.amendments")).to_contain_text("Entreprises rencontrées → 45")
    await expect(manager.locator("ul.amendments")).to_contain_text("Claire Rinaldi")
    await manager.get_by_role("button", name="Recalculer les indicateurs maintenant").click()
    await expect(manager.locator(".ok")).to_contain_text("Indicateurs recalculés")
    bars = manager.locator("figure.chart .row", has_text="Entreprises rencontrées")
    await expect(bars).to_contain_text("sur 45")
    await expect(manager.locator(".kpi-chart svg").first).to_be_visible()

    # The mid-phase review is due (the phase is past its middle): done from its task here.
    await until_text(manager, "Revue à mi-parcours")
    review = manager.locator("form[data-action=review_convention]")
    await review.get_by_label("Note de revue").fill("Bon rythme de visites, recrutements à suivre")
    await review.get_by_role("button", name="Enregistrer la revue").click()
    await expect(manager.locator(".ok")).to_contain_text("Revue à mi-parcours")
    await expect(manager.locator("form[data-action=review_convention]")).to_have_count(0)
    await expect(manager.get_by_role("region", name="Revue à mi-parcours")).to_contain_text(
        "Bon rythme de visites"
    )
    await check_a11y(manager)
    await shot(manager, "convention")
    # The same page fits a phone.
    phone = await people.page(f"manager:{NETWORK}", PHONE)
    await open_convention(phone, title)
    await fits(phone, 390)
    await check_a11y(phone)

    # A phase already over: signed by the network itself, evaluated at once, then renewed
    # with other targets from the decision's task on its page.
    past = f"Pacte Rétro {run}"
    network_party = [(NETWORK, "opérateur", "Claire Rinaldi (direction)")]
    await create(
        manager, past, network_party, day(-200), day(-1), {"Entreprises rencontrées": "30"}
    )
    await manager.get_by_role("button", name="Signer la convention").click()
    await until_text(manager, "Renouveler ou clore")
    await check_a11y(manager)
    decide = manager.locator("form[data-action=decide_convention]")
    await decide.get_by_label("Renouveler pour une nouvelle phase").check()
    await decide.get_by_label("Début de la nouvelle phase").fill(day(1))
    await decide.get_by_label("Fin de la nouvelle phase").fill(day(365))
    await expect(decide.get_by_label("Entreprises rencontrées")).to_have_value("30")
    await decide.get_by_label("Entreprises rencontrées").fill("60")
    await decide.get_by_label("Visites d'entreprises").fill("25")
    await decide.get_by_role("button", name="Décider").click()
    await expect(manager.locator(".ok")).to_contain_text("Renouveler ou clore")
    await until_text(manager, "Phase 2, du")
    content = manager.get_by_role("region", name="La convention")
    await expect(content).to_contain_text("Entreprises rencontrées : 60")
    await expect(content).to_contain_text("Visites d'entreprises : 25")
    phases = manager.locator("tr", has_text="phase 1")
    await expect(phases).to_contain_text("renouvelée")
    await check_a11y(manager)
    await phases.get_by_role("link", name=re.compile("évaluation imprimable")).click()
    await expect(manager.locator("h2", has_text="Objectifs et réalisé")).to_be_visible()
    await check_a11y(manager)

    # Another one over, closed from « Mes tâches » with its reason.
    closing = f"Pacte Clos {run}"
    await create(manager, closing, network_party, day(-120), day(-2), {"Recrutements": "8"})
    await manager.get_by_role("button", name="Signer la convention").click()
    await until_text(manager, "Renouveler ou clore")
    await manager.click("nav >> text=Mes tâches")
    card = manager.locator("section.task", has_text=f"Renouveler ou clore « {closing} »")
    await card.get_by_label("Clore la convention").check()
    await card.get_by_label("Motif de clôture").fill("Programme arrivé à son terme")
    await check_a11y(manager)
    await card.get_by_role("button", name="Décider").click()
    await expect(manager.locator(".ok")).to_contain_text(closing)
    await open_convention(manager, closing)
    await until_text(manager, "Programme arrivé à son terme")
    await expect(manager.locator("h1 + p .badge")).to_have_text("close")

    # The signatories were mailed their task (the network's « Courriels »: the outbox).
    await manager.click("nav >> text=Courriels")
    mail = manager.locator("tr", has_text=f"À faire : Signer la convention « {title} »")
    await expect(mail.first).to_be_visible()
    await check_a11y(manager)
