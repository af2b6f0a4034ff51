"""Recruitment by clicking, from the home page: the agency proposes candidates (a typing
error keeps the form, a duplicate says to whom it is credited), the staff screen one from
« Mes tâches », the employer reads the card without identity and is interested, the agency
gives consent with the name in view, the employer — on a phone too — sees identity and
contact and records the hire with its position; the agency sees the outcome and withdraws
another candidate. Every page passes axe-core, the employer's at 390 px as well."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PHONE, SHOTS, check_a11y, fits

pytestmark = pytest.mark.system

NETWORK = "Entreprendre au Nord de Marseille"
EMPLOYER = "Logistique des Arnavaux"
AGENCY = "France Travail Marseille Nord"


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def _org(stack, token: str, name: str) -> str:
    found = stack.get(f"/api/organisations?q={name}", token).json()["items"]
    return next(o["id"] for o in found if o["name"] == name)


def launch_campaign(stack) -> dict:
    """The staff's campaign for the employer, through the JSON API (its own, so nothing
    depends on another test's referrals): two positions, France Travail invited."""
    token = stack.tokens()[f"staff:{NETWORK}"]
    suffix = uuid.uuid4().hex[:6]
    body = {
        "request_id": f"browser-cand-{suffix}",
        "employer_id": _org(stack, token, EMPLOYER),
        "title": f"Manutentionnaires – quai {suffix}",
        "positions": [
            {"title": "Manutentionnaire", "count": 2, "contract": "cdd",
             "place_postcode": "13014", "place_commune": "Marseille"},
            {"title": "Chef d'équipe", "count": 1, "contract": "cdi", "place_postcode": "13014"},
        ],
        "territory_postcodes": ["13013", "13014", "13015", "13016"],
        "agency_ids": [_org(stack, token, AGENCY)],
        "deadline": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
        "decision_sla_days": 1,
    }  # fmt: skip
    r = stack.post("/api/campaigns", token, body)
    assert r.status_code == 201, r.text
    return r.json()


async def task_card(page: Page, title: str):
    """The task's card in « Mes tâches », on whichever page of the list it is (the shared
    stack's other tests add tasks too)."""
    await page.click("nav >> text=Mes tâches")
    for n in range(1, 21):
        await expect(page.locator("h1")).to_contain_text("âches")  # the list, loaded
        card = page.locator("section.task", has_text=title)
        if await card.count():
            return card
        await page.get_by_role("link", name="suivantes").click()
        await page.wait_for_url(re.compile(f"offset={50 * n}"))
    raise AssertionError(f"no task « {title} »")


async def propose(
    agency: Page, campaign: dict, first: str, last: str, email: str, phone: str
) -> None:
    section = agency.locator(f"#campagne-{campaign['id']}")
    await section.get_by_role("link", name="Proposer un candidat").click()
    await expect(agency.locator("h1")).to_have_text("Proposer un candidat")
    await agency.fill("#first_name", first)
    await agency.fill("#last_name", last)
    await agency.fill("#email", email)
    await agency.fill("#phone", phone)
    await agency.fill("#postcode", "13015")
    await agency.fill("#commune", "Marseille")
    await agency.fill("#skills", "CACES 3, quai")
    await agency.fill("#experience_years", "6")
    await agency.select_option("#position_id", label="Manutentionnaire")
    await agency.fill("#cv_text", "Six ans de quai et de chargement.")


async def test_an_agency_refers_the_employer_hires_and_the_agency_sees_the_outcome(
    shared_stack, people
):
    campaign = launch_campaign(shared_stack)
    cid, title = campaign["id"], campaign["title"]

    # The agency, from its home page: « Mes candidats », the campaign, its referral form.
    agency = await people.page(f"agency:{AGENCY}")
    await agency.click("nav >> text=Mes candidats")
    await expect(agency.locator("h1")).to_have_text("Mes candidats")
    await expect(agency.locator(f"#campagne-{cid}")).to_contain_text(title)
    await propose(agency, campaign, "Samia", "Benyahia", "samia.benyahia@example", "06 11 22 33 44")
    await agency.fill("#postcode", "1301")  # a digit missing, and a mail without its domain
    await agency.get_by_role("button", name="Proposer ce candidat").click()
    await expect(agency.locator("p.error[role=alert]")).to_contain_text("non enregistrée")
    await expect(agency.locator("#email")).to_have_attribute("aria-invalid", "true")
    await expect(agency.locator("#postcode")).to_have_attribute("aria-invalid", "true")
    await expect(agency.locator("#first_name")).to_have_value("Samia")  # what was typed stays
    await expect(agency.locator("#cv_text")).to_have_value("Six ans de quai et de chargement.")
    await check_a11y(agency)
    await shot(agency, "proposer-candidat")
    await agency.fill("#email", "samia.benyahia@example.fr")
    await agency.fill("#postcode", "13015")
    await agency.get_by_role("button", name="Proposer ce candidat").click()
    done = agency.locator("p.ok")
    await expect(done).to_contain_text("candidat proposé sous le pseudonyme")
    pseudonym = re.search(r"C-[A-Z0-9]+", await done.inner_text()).group(0)
    row = agency.locator(f"#campagne-{cid} tr", has_text="Samia Benyahia")
    await expect(row).to_contain_text("tri")

    # The same person again, from the standing task in « Mes tâches »: a duplicate.
    task = await task_card(agency, f"Proposer des candidats : {title}")
    await task.locator("input[name=first_name]").fill("Samia")
    await task.locator("input[name=last_name]").fill("Benyahia")
    await task.locator("input[name=email]").fill("Samia.Benyahia@example.fr")
    await task.locator("input[name=postcode]").fill("13015")
    await task.get_by_role("button", name="Proposer ce candidat").click()
    await expect(agency.locator("p.warn")).to_contain_text(f"Doublon — crédité à {AGENCY}")
    await expect(agency.locator("p.ok")).to_have_count(0)

    # A second candidate, whom the agency will withdraw.
    await propose(agency, campaign, "Yanis", "Roche", "yanis.roche@example.fr", "07 55 44 33 22")
    await agency.get_by_role("button", name="Proposer ce candidat").click()
    await expect(agency.locator("p.ok")).to_contain_text("candidat proposé")

    # The staff screen Samia from « Mes tâches ».
    staff = await people.page(f"staff:{NETWORK}")
    card = await task_card(staff, f"Trier la candidature ({pseudonym})")
    await card.locator("input[name=retained][value=true]").check()
    await card.locator("input[name=reason]").fill("Note interne : très bon entretien téléphonique")
    await card.get_by_role("button", name="Enregistrer le tri").click()
    await expect(staff.locator(".ok")).to_contain_text("Trier la candidature")
    await check_a11y(staff)

    # The employer, from its home page: the shortlist as cards, no identity, no staff note.
    employer = await people.page(f"member:{EMPLOYER}")
    await employer.get_by_role("link", name=f"Candidats présélectionnés — {title}").click()
    await expect(employer.locator("h1")).to_have_text("Candidats présélectionnés")
    profile = employer.locator("article.profile", has_text=pseudonym)
    await expect(profile).to_contain_text("CACES 3")
    await expect(profile).to_contain_text("Manutentionnaire")
    main = await employer.locator("main").inner_text()
    assert "Benyahia" not in main and "samia" not in main.lower() and "Note interne" not in main
    await check_a11y(employer)
    await shot(employer, "selection")
    await profile.get_by_role("button", name=re.compile("Intéressé")).click()
    await expect(employer.locator("p.ok")).to_contain_text("consentement")
    await expect(profile).to_contain_text("entretien demandé")

    # The agency gives Samia's consent, her name in view.
    await agency.click("nav >> text=Mes candidats")
    act = agency.locator(".act", has_text="Samia Benyahia")
    consent = act.locator("fieldset", has_text="Réponse de Samia Benyahia")
    await consent.get_by_label("Samia Benyahia accepte", exact=False).check()
    await act.get_by_role("button", name="Transmettre la réponse").click()
    await expect(agency.locator("p.ok")).to_contain_text("réponse du candidat est transmise")
    await check_a11y(agency)

    # The employer on a phone: identity and contact, then the hire with its position.
    phone = await people.page(f"member:{EMPLOYER}", PHONE)
    await phone.get_by_role("link", name=f"Candidats présélectionnés — {title}").click()
    card = phone.locator("article.profile", has_text="Samia Benyahia")
    await expect(card.locator(".identity")).to_contain_text("samia.benyahia@example.fr")
    await expect(card.locator(".identity")).to_contain_text("0611223344")
    await fits(phone, 390)
    await check_a11y(phone)
    await shot(phone, "selection-mobile")
    await card.get_by_label("Embauche", exact=True).check()
    await card.get_by_label("Poste pourvu").select_option(label="Manutentionnaire (0 pourvu sur 2)")
    await card.get_by_label("Motif").fill("Entretien concluant, disponible lundi")
    await card.get_by_role("button", name="Enregistrer la décision").click()
    await expect(phone.locator("p.ok")).to_contain_text("décision est enregistrée")
    await expect(phone.locator("ul.positions")).to_contain_text(
        "Manutentionnaire — CDD : 1 pourvu sur 2"
    )
    await fits(phone, 390)
    await check_a11y(phone)

    # The agency sees the outcome in « Mes candidats », and withdraws Yanis.
    await agency.click("nav >> text=Mes candidats")
    row = agency.locator(f"#campagne-{cid} tr", has_text=pseudonym)
    await expect(row).to_contain_text("Samia Benyahia")
    await expect(row).to_contain_text("embauchée")
    await expect(row).to_contain_text("Entretien concluant, disponible lundi")
    row = agency.locator(f"#campagne-{cid} tr", has_text="Yanis Roche")
    await row.locator("summary", has_text="Retirer").click()
    await row.get_by_label("Motif du retrait").fill("A trouvé un emploi ailleurs")
    await row.get_by_role("button", name="Retirer Yanis Roche").click()
    await expect(agency.locator("p.ok")).to_contain_text("retiré de la campagne")
    row = agency.locator(f"#campagne-{cid} tr", has_text="Yanis Roche")
    await expect(row).to_contain_text("retirée")
    await expect(row).to_contain_text("A trouvé un emploi ailleurs")
    await check_a11y(agency)
    await shot(agency, "candidats")

    # More candidates than « Mes candidats » shows a campaign: the link to all of them, page
    # by page (the JSON API proposes them, as an agency's own software would).
    token = shared_stack.tokens()[f"agency:{AGENCY}"]
    for i in range(5):
        r = shared_stack.post(
            f"/api/campaigns/{cid}/referrals",
            token,
            {
                "request_id": f"browser-more-{cid[:8]}-{i}",
                "first_name": "Candidat",
                "last_name": f"Numéro {i}",
                "email": f"candidat.{cid[:8]}.{i}@example.fr",
                "postcode": "13014",
                "commune": "Marseille",
                "position_id": campaign["positions"][0]["id"],
                "cv_text": "Cariste, CACES 3.",
            },
        )
        assert r.status_code == 201, r.text
    await agency.click("nav >> text=Mes candidats")
    section = agency.locator(f"#campagne-{cid}")
    await section.get_by_role("link", name=re.compile(r"Voir les \d+ candidats proposés")).click()
    await expect(agency.locator("nav.pages")).to_contain_text("page 1 sur 1")
    await expect(agency.locator("tr", has_text="Candidat Numéro 4")).to_be_visible()
    await expect(agency.locator("tr", has_text=pseudonym)).to_contain_text("embauchée")
    await check_a11y(agency)

    # The agency's pages on a phone: nothing wider than the screen.
    mobile = await people.page(f"agency:{AGENCY}", PHONE)
    await mobile.click("nav >> text=Mes candidats")
    await expect(mobile.locator(f"#campagne-{cid} tr", has_text="Yanis Roche")).to_be_visible()
    await fits(mobile, 390)
    await check_a11y(mobile)
    await (
        mobile.locator(f"#campagne-{cid}").get_by_role("link", name="Proposer un candidat").click()
    )
    await expect(mobile.locator("#first_name")).to_be_visible()
    await fits(mobile, 390)
    await check_a11y(mobile)
