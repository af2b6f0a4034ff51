"""A person's first day, by clicking, from the home page: the network's staff invite her, she
activates her account from the mail, signs out and back in by a mail link, a task's mail
brings her to the task, she acts, signs out — Back shows nothing and the old cookie opens
nothing; a used or expired link says so in French. She does it on a 390 px wide phone; every
page passes axe-core."""

from __future__ import annotations

import re

import asyncpg
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PHONE, check_a11y, fits

pytestmark = pytest.mark.system

NETWORK = "Entreprendre au Nord de Marseille"
INES = "ines.garnier@example.fr"


async def mail_link(staff: Page, stack, subject: str, to: str, seen: tuple = ()) -> str:
    """The link of the newest mail with this subject to this address (one not `seen`
    before), as the dev mailbox (the network's « Courriels » page) shows it once the outbox
    has sent it."""
    for _ in range(60):
        await staff.click("nav >> text=Courriels")
        mail = staff.locator("details.mail", has_text=subject).filter(has_text=f"à {to}").first
        if await mail.count():
            await mail.locator("summary").click()
            href = await mail.locator("pre a").first.get_attribute("href")
            assert href and href.startswith(stack.url), href
            if href not in seen:
                return href
        await staff.wait_for_timeout(500)
    raise AssertionError(f"no mail « {subject} » to {to}")


async def test_invited_by_staff_signed_in_by_mail_acts_on_her_task_and_signs_out(
    shared_stack, people
):
    stack = shared_stack
    staff = await people.page(f"staff:{NETWORK}")

    # Staff invite Inès, of the employer company, from « Utilisateurs ».
    await staff.goto(stack.url + "/")
    await staff.click("nav >> text=Utilisateurs")
    await check_a11y(staff)
    await staff.fill("#invite-name", "Inès Garnier")
    await staff.fill("#invite-email", INES)
    await staff.select_option("#invite-org", label="Logistique des Arnavaux (entreprise membre)")
    await staff.select_option("#invite-role", label="entreprise membre")
    await staff.get_by_role("button", name="Envoyer l'invitation").click()
    await expect(staff.locator(".ok")).to_have_text(f"Invitation envoyée à {INES}.")
    await expect(staff.locator("tr.user", has_text="Inès Garnier")).to_contain_text("invité")

    # The mail reaches her (the dev mailbox); its link activates her account, on her phone.
    invitation = await mail_link(staff, stack, "Votre accès à Relais", INES)
    await check_a11y(staff)
    ines = await people.new(PHONE)
    await ines.goto(invitation)
    await expect(ines.locator("h1")).to_have_text("Bienvenue sur Relais")
    await check_a11y(ines)
    await ines.get_by_role("button", name="Activer mon compte").click()
    await expect(ines.locator("h1")).to_have_text("Tableau de bord")
    await fits(ines, PHONE["width"])
    await ines.click("nav >> text=Mon compte")
    await expect(ines.locator("dl.facts")).to_contain_text("actif")
    await expect(ines.locator("dl.facts")).to_contain_text(INES)
    await check_a11y(ines)
    await fits(ines, PHONE["width"])

    # She signs out, then back in by a link sent by mail.
    await ines.get_by_role("button", name="Se déconnecter").click()
    await expect(ines.locator(".ok")).to_have_text("Vous êtes déconnecté(e).")
    await ines.fill("#link-email", INES)
    await ines.get_by_role("button", name="Recevoir un lien").click()
    await expect(ines.locator(".ok")).to_contain_text("un lien de connexion vient d'y être envoyé")
    await check_a11y(ines)
    await fits(ines, PHONE["width"])
    sign_in = await mail_link(staff, stack, "Votre lien de connexion à Relais", INES, (invitation,))
    await ines.goto(sign_in)
    await ines.get_by_role("button", name="Me connecter").click()
    await expect(ines.locator("h1")).to_have_text("Tableau de bord")

    # Staff retain a referral for her company: the employer's task mails her at once.
    await staff.click("nav >> text=Mes tâches")
    card = staff.locator("section.task", has_text="Trier la candidature").first
    title = (await card.locator("h2").inner_text()).strip()
    pseudonym = re.search(r"\((C-[A-Z0-9]+)\)", title).group(1)
    await card.locator("input[name=retained][value=true]").check()
    await card.locator("input[name=reason]").fill("Profil conforme au poste")
    await card.locator("button[type=submit]").click()
    await expect(staff.locator(".ok")).to_contain_text("Trier la candidature")
    task_link = await mail_link(staff, stack, f"À faire : Examiner le profil ({pseudonym})", INES)
    assert "/mes-taches/" in task_link

    # The mail's link opens the task; she acts on it.
    await ines.goto(task_link)
    await expect(ines.locator("h1")).to_have_text(f"Examiner le profil ({pseudonym})")
    await check_a11y(ines)
    await fits(ines, PHONE["width"])
    await ines.get_by_role("button", name="Demander un entretien").click()
    await expect(ines.locator(".ok")).to_contain_text(f"Examiner le profil ({pseudonym})")
    await check_a11y(ines)

    # She signs out: Back shows nothing of hers, and the old cookie opens nothing.
    old_cookies = await ines.context.cookies()
    await ines.get_by_role("button", name="Se déconnecter").click()
    await expect(ines.locator("h1")).to_have_text("Connexion")
    await ines.go_back()
    await expect(ines.locator("h1")).to_have_text("Connexion")
    assert pseudonym not in await ines.content()
    thief = await people.new()
    await thief.context.add_cookies(old_cookies)
    await thief.goto(stack.url + "/mes-taches")
    await expect(thief.locator("h1")).to_have_text("Connexion")
    await expect(thief.locator(".error")).to_have_text(
        "Votre session a expiré : connectez-vous de nouveau."
    )
    await check_a11y(thief)

    # A used link, and an expired one, say so in French.
    await ines.goto(sign_in)
    await expect(ines.locator(".error")).to_contain_text("Ce lien a déjà servi")
    await ines.fill("#link-email", INES)
    await ines.get_by_role("button", name="Recevoir un lien").click()
    fresh = await mail_link(staff, stack, "Votre lien de connexion à Relais", INES, (sign_in,))
    conn = await asyncpg.connect(stack.database_url())
    try:  # a quarter of an hour later
        await conn.execute(
            "UPDATE sign_in_links SET expires_at = now() - interval '1 second' "
            "WHERE used_at IS NULL AND user_id = (SELECT id FROM users WHERE email = $1)",
            INES,
        )
    finally:
        await conn.close()
    await ines.goto(fresh)
    await expect(ines.locator(".error")).to_have_text("Ce lien a expiré : demandez-en un nouveau.")
    await check_a11y(ines)
    await fits(ines, PHONE["width"])
