"""A person's way through the dashboard in a real browser: signed in, open the dashboard,
act on a task from « Mes tâches », see the process move on; every page visited passes
axe-core. The main pages are saved under docs/screenshots/ (shown in the README)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import SHOTS, check_a11y

pytestmark = pytest.mark.system


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


async def test_staff_member_and_agency_move_a_referral_on_from_their_tasks(shared_stack, people):
    stack = shared_stack
    network = "Entreprendre au Nord de Marseille"

    # The manager's home: processes by kind and status, campaigns, pools, conventions. The
    # demo's processes start once the stack is up: reload until the last ones are there.
    manager = await people.page(f"manager:{network}")
    for _ in range(60):
        rows = await manager.locator(".stack-chart .row").count()
        if rows >= 5 and await manager.locator("h3", has_text="Cap Développement").count():
            break
        await manager.wait_for_timeout(500)
        await manager.reload()
    await expect(manager.locator("h2", has_text="Processus par type et statut")).to_be_visible()
    await expect(manager.locator(".stack-chart .row", has_text="Candidatures")).to_be_visible()
    await expect(manager.locator("h2", has_text="Recrutements en cours")).to_be_visible()
    await expect(manager.locator("h3", has_text="Cap Développement Nord")).to_be_visible()
    await shot(manager, "tableau-de-bord")
    await check_a11y(manager)

    # The staff screens a referral from « Mes tâches ».
    staff = await people.page(f"staff:{network}")
    await staff.click("nav >> text=Mes tâches")
    await check_a11y(staff)
    card = staff.locator("section.task", has_text="Trier la candidature").first
    title = (await card.locator("h2").inner_text()).strip()
    pseudonym = re.search(r"\((C-[A-Z0-9]+)\)", title).group(1)
    await card.locator("input[name=retained][value=true]").check()
    await card.locator("input[name=reason]").fill("Profil conforme au poste")
    await card.locator("button[type=submit]").click()
    await expect(staff.locator(".ok")).to_contain_text("Trier la candidature")
    screened = staff.locator("section.task", has_text=f"Trier la candidature ({pseudonym})")
    await expect(screened).to_have_count(0)
    # The network sees every task: the employer's is there now.
    await expect(
        staff.locator("section.task", has_text=f"Examiner le profil ({pseudonym})")
    ).to_be_visible()

    # The employer now has it, with the form to ask for an interview.
    employer = await people.page("member:Logistique des Arnavaux")
    await employer.click("nav >> text=Mes tâches")
    mine = employer.locator("section.task", has_text=pseudonym)
    await expect(mine).to_contain_text("Examiner le profil")
    await shot(employer, "mes-taches")
    await check_a11y(employer)
    await mine.locator("button[type=submit]").click()
    await expect(employer.locator(".ok")).to_contain_text("Examiner le profil")

    # The agency is asked for the candidate's consent and gives it from the referral's page.
    agency = await people.page("agency:France Travail Marseille Nord")
    await agency.click("nav >> text=Mes tâches")
    consent = agency.locator("section.task", has_text=pseudonym)
    await expect(consent).to_contain_text("consentement")
    await consent.locator("h2 a").click()
    await agency.locator("section.mine input[name=given][value=true]").check()
    await agency.locator("section.mine button[type=submit]").click()
    await expect(agency.locator(".ok")).to_be_visible()
    await expect(agency.locator("section.summary")).to_contain_text("entretien")
    await check_a11y(agency)

    # The network sees the referral moved on, with its history and live state.
    await manager.click("nav >> text=Processus")
    await manager.select_option("select[name=process]", "referral")
    await manager.click("button:text('Filtrer')")
    await shot(manager, "processus")
    await check_a11y(manager)
    await manager.locator("a", has_text=f"Candidature {pseudonym}").click()
    await expect(manager.locator("section.summary")).to_contain_text("entretien")
    # Its history in sentences, who acted and why; where it stands as facts, no JSON or id.
    timeline = manager.locator("ol.timeline li")
    await expect(timeline.filter(has_text="Tâche pour")).to_have_count(4)
    await expect(
        timeline.filter(has_text="Sonia Meziane a retenu la candidature : Profil conforme au poste")
    ).to_have_count(1)
    await expect(timeline.filter(has_text="a transmis le consentement du candidat")).to_have_count(
        1
    )
    await expect(manager.locator("h2", has_text="Où en est-il")).to_be_visible()
    await expect(manager.locator("dl.facts")).to_contain_text(pseudonym)
    text = await manager.locator("main").inner_text()
    assert "referral-" not in text and "{" not in text, text  # no workflow id, no JSON
    await shot(manager, "processus-detail")
    await check_a11y(manager)

    # After the interview, the employer decides from its task form: no hire, with its reason.
    await employer.click("nav >> text=Mes tâches")
    decide = employer.locator("section.task", has_text=pseudonym)
    await expect(decide).to_contain_text("Décider")
    await decide.locator("input[name=hired][value=false]").check()
    await decide.locator("input[name=reason]").fill("Profil trop éloigné du poste")
    await decide.locator("button[type=submit]").click()
    await expect(employer.locator(".ok")).to_be_visible()
    await expect(employer.locator("section.task", has_text=pseudonym)).to_have_count(0)
    await manager.reload()
    await expect(manager.locator("section.summary")).to_contain_text(
        re.compile("refusée|non retenue")
    )

    # What the outbox sent is in the dev mailbox.
    await manager.click("nav >> text=Courriels")
    await expect(manager.locator("details.mail").first).to_be_visible(timeout=20_000)
    await shot(manager, "courriels")
    await check_a11y(manager)

    # Prometheus: the worker's Temporal metrics and Relais' own counters, on one page.
    async with httpx.AsyncClient(timeout=10) as http:
        metrics = (await http.get(stack.url + "/metrics")).text
    assert "temporal_workflow_task_execution_latency" in metrics
    assert 'relais_http_requests_total{method="POST",route="/mes-taches/{task_id}"' in metrics
    assert 'relais_tasks_completed_total{action="screen"' in metrics
    assert "relais_mails_sent_total" in metrics
    # (The shared stack is stopped with Ctrl-C after the last browser test, exit code 0.)
