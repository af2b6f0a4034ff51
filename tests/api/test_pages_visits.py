"""Company visits' pages as browsers use them: a chamber's adviser records a visit (one more
project row without JavaScript, a refused form kept), its recruitment project reaches the
network's staff as a task; staff launch the campaign from the visit's page, which closes the
task; who may see and record what."""

from __future__ import annotations

import html
import re

import pytest

from domain.auth import Role
from domain.organisations import OrganisationKind
from tests.api.conftest import browser, csrf_of
from tests.api.test_pooling import next_month, service_body
from tests.factories import make_org, make_user, siret


@pytest.fixture
async def offered(client, actors, db):
    """A service of the catalogue (its provider's own organisation)."""
    provider = await make_org(db, OrganisationKind.PROVIDER, name="Cabinet du Port")
    await make_user(db, provider.id, Role.PARTNER)
    r = await client.post(
        "/api/services", json=service_body(provider.id), headers=actors["staff"].headers
    )
    assert r.status_code == 201, r.text
    return r.json()


def _t(r) -> str:
    return html.unescape(r.text)


def signed_in(client, actor):
    b = browser(client)
    b.cookies.update(actor.session.cookies)
    return b


async def _post(b, form_url: str, action: str, data: dict) -> object:
    page = await b.get(form_url)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'name="(request_id|rows)" value="([^"]*)"', page.text))
    return await b.post(action, data={**fields, **data, "csrf": csrf_of(page.text)})


async def test_a_chamber_adviser_records_a_visit_its_project_goes_to_staff(client, actors, db):
    adviser = signed_in(client, actors["partner"])
    page = _t(await adviser.get("/visites"))
    assert "Enregistrer une visite" in page
    page = _t(await adviser.get("/visites/nouvelle"))
    assert "Projet d'action 1" in page and "Projet d'action 2" not in page
    number = siret()
    typed = {
        "company_mode": "nouvelle",
        "siret": number,
        "name": "Atelier Vélo du Canet",
        "postcode": "13014",
        "territory": "Marseille Nord",
        "visited_on": "2099-01-01",
        "themes": ["Recrutement", "Numérique"],
        "needs": "Un mécanicien cycles",
        "project-0-kind": "recruitment",
        "project-0-title": "Recruter un mécanicien",
    }

    # « Ajouter un projet »: the same form, one more row, everything kept.
    r = await _post(adviser, "/visites/nouvelle", "/visites/nouvelle", {**typed, "ajouter": "1"})
    assert r.status_code == 200
    page = _t(r)
    assert "Projet d'action 2" in page and 'value="Recruter un mécanicien"' in page
    assert 'value="Numérique" checked' in page and "Un mécanicien cycles" in page
    rid = re.search(r'name="request_id" value="([^"]+)"', r.text).group(1)
    rows = re.search(r'name="rows" value="([^"]+)"', r.text).group(1)
    assert rows == "2"

    # A visit in the future is refused beside the date, the rows kept.
    both = {
        **typed,
        "request_id": rid,
        "rows": rows,
        "project-1-kind": "training",
        "project-1-title": "Former au numérique",
        "csrf": csrf_of(r.text),
    }
    r = await adviser.post("/visites/nouvelle", data=both)
    assert r.status_code == 422
    page = _t(r)
    assert "se déclare une fois faite" in page and 'value="Former au numérique"' in page
    r = await adviser.post("/visites/nouvelle", data={**both, "visited_on": "2026-01-05"})
    assert r.status_code == 303, r.text
    visit_url = r.headers["location"].split("?")[0]
    page = _t(await adviser.get(r.headers["location"]))
    assert "Visite chez Atelier Vélo du Canet enregistrée." in page
    assert "Transmis à l'équipe du réseau" in page and "Former au numérique" in page
    assert "Lancer la campagne" not in page
    # The adviser says where a project stands.
    page = await adviser.get(visit_url)
    action = re.findall(r'action="(/visites/[^"]+/etat)"', page.text)[1]
    r = await adviser.post(action, data={"status": "in_progress", "csrf": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    page = _t(await adviser.get(r.headers["location"]))
    assert "Projet « Former au numérique » : en cours." in page
    r = await adviser.post(action, data={"status": "fini", "csrf": csrf_of(page)})
    assert r.status_code == 422 and "valeurs possibles" in _t(r)

    # Staff see it in their tasks, with the visit to open; the company is not in the
    # directory yet: the page says to add it.
    staff = signed_in(client, actors["staff"])
    page = _t(await staff.get("/mes-taches"))
    assert "Lancer le projet « Recruter un mécanicien » (Atelier Vélo du Canet)" in page
    assert f'href="{visit_url}"' in page
    task = await db.fetchrow("SELECT id, workflow_id FROM tasks WHERE title LIKE '%mécanicien%'")
    r = await staff.get(f"/processus/{task['workflow_id']}")
    assert r.status_code == 303 and r.headers["location"] == visit_url
    page = _t(await staff.get(visit_url))
    assert "L'entreprise n'est pas dans l'annuaire" in page
    assert "Lancer la campagne" not in page

    # Added to the directory (same SIRET), the visit is its own: staff may launch it.
    r = await _post(
        staff,
        "/annuaire/nouvelle",
        "/annuaire/nouvelle",
        {
            "kind": "member",
            "name": "Atelier Vélo du Canet",
            "siret": number,
            "postcode": "13014",
            "territory": "Marseille Nord",
        },
    )
    assert r.status_code == 303
    page = _t(await staff.get(visit_url))
    assert "Lancer la campagne" in page
    org_url = r.headers["location"].split("?")[0]
    page = _t(await staff.get(org_url))
    assert "Visites reçues" in page and f'href="{visit_url}"' in page


async def test_staff_launch_a_visit_project_the_adviser_handed_them(client, actors, db):
    company = await make_org(db, name="Charcuterie de Saint-Louis")
    adviser = signed_in(client, actors["partner"])
    r = await _post(
        adviser,
        "/visites/nouvelle",
        "/visites/nouvelle",
        {
            "siret": company.siret,
            "name": "Charcuterie",
            "postcode": company.postcode,
            "visited_on": "2026-01-06",
            "project-0-kind": "recruitment",
            "project-0-title": "Recruter un apprenti",
        },
    )
    assert r.status_code == 303, r.text
    visit_url = r.headers["location"].split("?")[0]
    page = _t(await adviser.get(visit_url))
    assert "Visite chez Charcuterie de Saint-Louis" in page  # the member's own record

    staff = signed_in(client, actors["staff"])
    page = await staff.get(visit_url)
    assert "Lancer la campagne" in _t(page) and "Agence Nord" in _t(page)
    action = re.search(r'action="(/visites/[^"]+/campagne)"', page.text).group(1)
    form = {
        "title": "Apprenti charcutier",
        "position": "Apprenti",
        "count": "1",
        "contract": "apprenticeship",
        "place_postcode": company.postcode,
        "postcodes": "13015 13016",
        "deadline": "2099-03-01",
    }
    r = await staff.post(action, data={**form, "csrf": csrf_of(page.text)})
    assert r.status_code == 422  # no agency invited: refused, kept
    assert 'value="13015 13016"' in _t(r) and 'value="Apprenti charcutier"' in _t(r)
    agency = str(actors["agency"].organisation_id)
    r = await staff.post(action, data={**form, "agency_ids": agency, "csrf": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    page = _t(await staff.get(r.headers["location"]))
    assert "Campagne lancée pour le projet." in page and "voir la campagne" in page
    closed = await db.fetchval(
        "SELECT outcome FROM tasks WHERE title LIKE '%Recruter un apprenti%'"
    )
    assert closed == "campaign_launched"
    page = _t(await adviser.get(visit_url))
    assert "Campagne lancée" in page and "voir la campagne" not in page


async def test_staff_record_a_member_visit_and_request_its_service(client, actors, db, offered):
    staff = signed_in(client, actors["staff"])
    member = actors["member"].organisation_id
    page = _t(await staff.get("/visites/nouvelle"))
    assert "Une entreprise de l'annuaire" in page and "Boulangerie du Canet" in page
    r = await _post(
        staff,
        "/visites/nouvelle",
        "/visites/nouvelle",
        {"company_mode": "annuaire", "visited_on": "2026-01-07", "rows": "x"},
    )
    assert r.status_code == 422 and "choisissez l'entreprise dans la liste" in _t(r)
    r = await _post(
        staff,
        "/visites/nouvelle",
        "/visites/nouvelle",
        {
            "company_mode": "annuaire",
            "company_id": str(member),
            "visited_on": "2026-01-07",
            "project-0-kind": "pooled_service",
            "project-0-title": "Mutualiser la comptabilité",
        },
    )
    assert r.status_code == 303, r.text
    visit_url = r.headers["location"].split("?")[0]
    page = await staff.get(visit_url)
    assert "Demander le service" in _t(page)
    # No staff task: the network launches its own visits' projects.
    assert not await db.fetchval("SELECT count(*) FROM tasks WHERE title LIKE '%comptabilité%'")
    action = re.search(r'action="(/visites/[^"]+/service)"', page.text).group(1)
    needed = next_month().isoformat()
    form = {"code": offered["code"], "quantity": "0", "needed_by": needed, "note": ""}
    r = await staff.post(action, data={**form, "csrf": csrf_of(page.text)})
    assert r.status_code == 422 and f'value="{needed}"' in _t(r)
    r = await staff.post(action, data={**form, "quantity": "2", "csrf": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    page = _t(await staff.get(r.headers["location"]))
    assert f"Service « {offered['name']} » demandé pour le projet." in page
    assert "Service mutualisé demandé pour l'entreprise." in page


async def test_the_visits_list_filters_by_territory_and_dates(client, actors):
    adviser = signed_in(client, actors["partner"])
    for day, name, territory in (
        ("2026-02-02", "Pizzeria du Port", "Estaque"),
        ("2026-03-03", "Coiffure Lumière", "Marseille Nord"),
    ):
        r = await _post(
            adviser,
            "/visites/nouvelle",
            "/visites/nouvelle",
            {
                "siret": siret(),
                "name": name,
                "postcode": "13016",
                "territory": territory,
                "visited_on": day,
            },
        )
        assert r.status_code == 303, r.text
    page = _t(await adviser.get("/visites", params={"territoire": "Estaque"}))
    assert "Pizzeria du Port" in page and "Coiffure Lumière" not in page
    page = _t(await adviser.get("/visites", params={"du": "2026-03-01", "au": "2026-03-31"}))
    assert "Coiffure Lumière" in page and "Pizzeria du Port" not in page
    page = _t(await adviser.get("/visites", params={"du": "hier"}))
    assert "Date invalide" in page and "Pizzeria du Port" in page


async def test_who_sees_visits(client, actors):
    agency = signed_in(client, actors["agency"])
    r = await agency.get("/visites")
    assert r.status_code == 403 and "ne concernent pas votre rôle" in _t(r)
    member = signed_in(client, actors["member"])
    r = await member.get("/visites")
    assert r.status_code == 200 and "Enregistrer une visite" not in _t(r)
    r = await member.get("/visites/nouvelle")
    assert r.status_code == 403 and "Seuls les conseillers" in _t(r)


async def test_in_a_large_directory_staff_find_the_visited_company_by_name(
    client, actors, db, monkeypatch
):
    """Past a few hundred member companies the visit asks for the company's name, commune
    or SIRET: none found is said beside the field, several are listed to choose from, what
    was typed stays; one found is the company. A company not in the directory is still
    typed in by its SIRET."""
    monkeypatch.setattr("api.pages.picker.PICK_MAX", 1)
    other = await make_org(db, name="Boulangerie des Aygalades")
    staff = signed_in(client, actors["staff"])
    page = (await staff.get("/visites/nouvelle")).text
    assert 'name="company_id_texte"' in page and '<select id="visit-company"' not in page
    assert "Une entreprise de l'annuaire" in _t(await staff.get("/visites/nouvelle"))
    form = {
        "company_mode": "annuaire",
        "company_id_texte": "Fromagerie",
        "visited_on": "2026-01-07",
        "needs": "Un apprenti pour la fournée du matin.",
        "project-0-kind": "recruitment",
        "project-0-title": "Recruter un apprenti",
    }
    r = await _post(staff, "/visites/nouvelle", "/visites/nouvelle", form)
    assert r.status_code == 422
    assert "aucune organisation ne correspond à « Fromagerie »" in _t(r)
    assert "Un apprenti pour la fournée du matin." in _t(r)
    assert 'value="Recruter un apprenti"' in _t(r) and 'value="annuaire" checked' in r.text

    r = await _post(
        staff, "/visites/nouvelle", "/visites/nouvelle", {**form, "company_id_texte": ""}
    )
    assert r.status_code == 422 and "indiquez le nom, la commune ou le SIRET" in _t(r)

    form["company_id_texte"] = "boulangerie"
    r = await _post(staff, "/visites/nouvelle", "/visites/nouvelle", form)
    assert r.status_code == 422 and "2 organisations correspondent" in _t(r)
    choices = re.findall(r'name="company_id" value="([^"]+)"> ([^<(]+)', _t(r))
    assert {name.strip() for _, name in choices} == {
        "Boulangerie du Canet",
        "Boulangerie des Aygalades",
    }
    # The person picks one: the visit is that company's.
    fields = dict(re.findall(r'name="(request_id|rows)" value="([^"]*)"', r.text))
    picked = {**form, **fields, "company_id": str(other.id), "csrf": csrf_of(r.text)}
    r = await staff.post("/visites/nouvelle", data=picked)
    assert r.status_code == 303, _t(r)[:3000]
    visit_id = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
    company = await db.fetchval("SELECT company_id FROM company_visits WHERE id = $1", visit_id)
    assert company == other.id

    # One match is the company at once.
    r = await _post(
        staff, "/visites/nouvelle", "/visites/nouvelle", {**form, "company_id_texte": "canet"}
    )
    assert r.status_code == 303, _t(r)[:3000]
    assert "Visite chez Boulangerie du Canet enregistrée." in _t(
        await staff.get(r.headers["location"])
    )

    # Another company, not in the directory, by its SIRET.
    r = await _post(
        staff,
        "/visites/nouvelle",
        "/visites/nouvelle",
        {
            **form,
            "company_mode": "nouvelle",
            "company_id_texte": "",
            "siret": siret(),
            "name": "Fromagerie du Merlan",
            "postcode": "13014",
            "territory": "Marseille Nord",
        },
    )
    assert r.status_code == 303, _t(r)[:3000]
    assert "Visite chez Fromagerie du Merlan enregistrée." in _t(
        await staff.get(r.headers["location"])
    )
