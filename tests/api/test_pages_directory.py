"""The directory's pages as browsers use them: search and filters, an organisation's page,
create and edit with the API's checks (a refused form keeps what was typed, the error beside
its field), a member's proposal decided by staff, an onboarding opened from the page and its
charter accepted from « Mes tâches »."""

from __future__ import annotations

import asyncio
import html
from uuid import UUID

from domain.auth import Role
from domain.organisations import OrganisationKind, OrganisationStatus
from tests.api.conftest import browser, csrf_of
from tests.factories import make_org, make_user, session_for, siret


def _t(r) -> str:
    return html.unescape(r.text)


def signed_in(client, actor):
    b = browser(client)
    b.cookies.update(actor.session.cookies)
    return b


async def _post(b, form_url: str, action: str, data: dict) -> object:
    page = await b.get(form_url)
    assert page.status_code == 200, page.text
    return await b.post(action, data={**data, "csrf": csrf_of(page.text)})


async def test_staff_search_and_filter_the_directory(client, actors, db):
    joinery = await make_org(db, name="Menuiserie Lumière", territory="Estaque")
    await db.execute("UPDATE organisations SET naf = '16.23Z' WHERE id = $1", joinery.id)
    await make_org(db, OrganisationKind.AGENCY, name="Agence Lumière", territory="Estaque")
    staff = signed_in(client, actors["staff"])
    r = await staff.get("/annuaire", params={"q": "lumi"})
    assert r.status_code == 200
    assert "Menuiserie Lumière" in _t(r) and "Agence Lumière" in _t(r)
    r = await staff.get("/annuaire", params={"q": "lumi", "kind": "agency"})
    assert "Agence Lumière" in _t(r) and "Menuiserie Lumière" not in _t(r)
    r = await staff.get("/annuaire", params={"naf": "16", "territory": "estaque"})
    assert "Menuiserie Lumière" in _t(r) and "Agence Lumière" not in _t(r)
    r = await staff.get("/annuaire", params={"status": "pending", "q": "lumi"})
    assert "Aucune organisation ne correspond." in _t(r)
    r = await staff.get("/annuaire", params={"naf": "xx"})
    assert r.status_code == 200 and "Filtre invalide (secteur)" in _t(r)


async def test_a_member_sees_only_itself(client, actors, db):
    other = await make_org(db, name="Garage des Aygalades")
    member = signed_in(client, actors["member"])
    r = await member.get("/annuaire")
    assert "Boulangerie du Canet" in _t(r) and "Garage des Aygalades" not in _t(r)
    assert "Ajouter une organisation" not in _t(r)
    r = await member.get(f"/annuaire/{other.id}")
    assert r.status_code == 404 and "introuvable" in _t(r)
    r = await member.get("/annuaire/nouvelle")
    assert r.status_code == 403 and "L'équipe du réseau ajoute" in _t(r)


async def test_staff_create_a_member_pending_open_its_onboarding_and_it_accepts(client, actors, db):
    staff = signed_in(client, actors["staff"])
    number = siret()
    typed = {"kind": "member", "name": "Épicerie Fine du Merlan", "siret": "123",
             "postcode": "13014", "commune": "Marseille", "territory": "Marseille Nord",
             "naf": "47.29Z", "headcount": "3"}  # fmt: skip
    r = await _post(staff, "/annuaire/nouvelle", "/annuaire/nouvelle", typed)
    assert r.status_code == 422
    page = _t(r)
    assert 'value="Épicerie Fine du Merlan"' in page and 'value="47.29Z"' in page
    assert 'aria-invalid="true"' in page and "corrigez les champs signalés" in page
    r = await _post(staff, "/annuaire/nouvelle", "/annuaire/nouvelle", {**typed, "siret": number})
    assert r.status_code == 303, r.text
    org_url = r.headers["location"].split("?")[0]
    r = await staff.get(r.headers["location"])
    page = _t(r)
    assert "Épicerie Fine du Merlan est ajoutée à l'annuaire." in page
    assert "en adhésion" in page and "a ajouté l'organisation à l'annuaire" in page
    org_id = org_url.rsplit("/", 1)[1]
    status = await db.fetchval("SELECT status FROM organisations WHERE id = $1::uuid", org_id)
    assert status == OrganisationStatus.PENDING

    # The same SIRET again: refused beside the SIRET, what was typed kept.
    r = await _post(staff, "/annuaire/nouvelle", "/annuaire/nouvelle", {**typed, "siret": number})
    assert r.status_code == 409 and "est déjà enregistré" in _t(r)
    assert 'value="Marseille Nord"' in _t(r)

    # The onboarding: a wrong address is refused with what was typed, then it opens.
    bad = {"contact_name": "Zoé Martin", "contact_email": "zoé@"}
    r = await _post(staff, org_url, f"{org_url}/adhesion", bad)
    assert r.status_code == 422 and 'value="Zoé Martin"' in _t(r)
    assert "adresse e-mail invalide" in _t(r)
    good = {**bad, "contact_email": "zoe@epicerie.example.fr"}
    r = await _post(staff, org_url, f"{org_url}/adhesion", good)
    assert r.status_code == 303, r.text
    opened = _t(await staff.get(r.headers["location"]))
    assert "Adhésion ouverte : Zoé Martin est invité(e) à accepter la charte." in opened
    for _ in range(100):
        task = await db.fetchrow(
            "SELECT id, title FROM tasks WHERE assignee_organisation_id = $1::uuid", org_id
        )
        if task:
            break
        await asyncio.sleep(0.1)
    assert task and "Accepter la charte" in task["title"]
    r = await staff.get(org_url)
    for _ in range(50):  # the process's row, once its workflow has recorded it
        if "Adhésion de Épicerie Fine du Merlan" in _t(r):
            break
        await asyncio.sleep(0.1)
        r = await staff.get(org_url)
    assert "Adhésion de Épicerie Fine du Merlan" in _t(r)
    assert "Ouvrir l'adhésion</button>" not in _t(r)
    # Opened twice: the page says so in French.
    r = await _post(staff, org_url, f"{org_url}/adhesion", good)
    assert r.status_code == 409 and "déjà en cours" in _t(r)

    # Its member accepts the charter from « Mes tâches »: the company is active.
    user_id, _ = await make_user(db, UUID(org_id), Role.MEMBER)
    zoe = browser(client)
    zoe.cookies.update((await session_for(db, user_id)).cookies)
    page = _t(await zoe.get("/mes-taches"))
    assert "Accepter la charte du réseau (Épicerie Fine du Merlan)" in page
    r = await _post(zoe, "/mes-taches", f"/mes-taches/{task['id']}", {"request_id": "web-1"})
    assert r.status_code == 303, r.text
    r = await staff.get(org_url)
    assert "actif" in _t(r) and "l'adhésion est active" in _t(r)


async def test_staff_edit_refused_keeps_the_form_then_saved_and_audited(client, actors, db):
    org = await make_org(db, name="Traiteur du Canet")
    staff = signed_in(client, actors["staff"])
    url = f"/annuaire/{org.id}/modifier"
    page = _t(await staff.get(url))
    assert 'value="Traiteur du Canet"' in page
    form = {"name": "Traiteur du Canet", "postcode": org.postcode, "commune": org.commune or "",
            "email": org.email or "", "phone": org.phone or "", "territory": "Marseille Nord",
            "naf": "56.2", "headcount": "7", "status": "active"}  # fmt: skip
    r = await _post(staff, url, url, form)
    assert r.status_code == 422
    assert 'value="56.2"' in _t(r) and 'value="7"' in _t(r) and "format invalide" in _t(r)
    r = await _post(staff, url, url, {**form, "naf": "56.21Z"})
    assert r.status_code == 303
    r = await staff.get(r.headers["location"])
    assert "La fiche est enregistrée." in _t(r) and "56.21Z" in _t(r)
    assert "a modifié la fiche de l'organisation (effectif, code NAF)" in _t(r)


async def test_a_member_corrects_its_details_and_proposes_what_staff_decide(client, actors):
    member = signed_in(client, actors["member"])
    org_id = actors["member"].organisation_id
    url = f"/annuaire/{org_id}/modifier"
    page = _t(await member.get(url))
    assert 'name="naf"' in page and "Demander une modification" in page
    assert 'id="ed-naf"' not in page  # staff-only fields are not the member's to edit
    mine = {"postcode": "13014", "commune": "Marseille", "email": "contact@canet.example.fr"}
    r = await _post(member, url, url, {**mine, "phone": "bad"})
    assert r.status_code == 422 and 'value="contact@canet.example.fr"' in _t(r)
    r = await _post(member, url, url, {**mine, "phone": ""})
    assert r.status_code == 303
    # A proposal without a reason is refused, kept; with one it waits for staff.
    r = await _post(member, url, f"/annuaire/{org_id}/demande", {"headcount": "9"})
    assert r.status_code == 422 and 'value="9"' in _t(r)
    r = await _post(
        member, url, f"/annuaire/{org_id}/demande", {"headcount": "9", "reason": "Deux embauches"}
    )
    assert r.status_code == 303
    page = _t(await member.get(f"/annuaire/{org_id}"))
    assert "effectif → « 9 »" in page and "En attente de l'équipe du réseau." in page
    assert "Accepter la modification" not in page

    staff = signed_in(client, actors["staff"])
    page = await staff.get(f"/annuaire/{org_id}")
    change = page.text.split(f"/annuaire/{org_id}/demandes/", 1)[1].split('"', 1)[0]
    r = await staff.post(
        f"/annuaire/{org_id}/demandes/{change}",
        data={"approve": "true", "note": "Vu", "csrf": csrf_of(page.text)},
    )
    assert r.status_code == 303
    page = _t(await staff.get(r.headers["location"]))
    assert "Demande de modification acceptée." in page
    assert "a modifié la fiche de l'organisation (effectif) : Deux embauches" in page
