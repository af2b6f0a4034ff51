"""The conventions' pages through the app as a browser uses them: a convention created in two
steps (parties, then their signatories), a refused form that keeps what was typed, the
content a signatory reads above the sign button (on the convention and on the task), the
network's expenses, amendments and fresh figures, and a past phase renewed with new targets
from its task; forbidden people read a French refusal."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime, timedelta

from domain.auth import Role
from domain.organisations import OrganisationKind
from tests.api.conftest import csrf_of
from tests.api.test_people import _signed_in_as
from tests.factories import make_org, make_user


def _t(r) -> str:
    return html.unescape(r.text)


def today():
    return datetime.now(UTC).date()


def _form(actors, **over) -> dict[str, str]:
    body = {
        "title": "Pacte Nord Entreprendre",
        "territory": "Marseille Nord",
        "party_0_org": str(actors["partner"].organisation_id),
        "party_0_role": "funder",
        "party_1_org": str(actors["manager"].organisation_id),
        "party_1_role": "operator",
        "starts_on": today().isoformat(),
        "ends_on": (today() + timedelta(days=365)).isoformat(),
        "budget": "120 000,50",
        "target_companies_met": "150",
        "target_investment_cents": "25 000",
        "priorities": "Recrutement local\nTransmission",
    }
    return {**body, **over}


async def _create(b, actors, **over) -> str:
    """A convention created by its two steps; its page's path."""
    page = await b.get("/conventions/nouvelle")
    data = {**_form(actors, **over), "csrf": csrf_of(page.text), "etape": "suivant"}
    step2 = await b.post("/conventions/nouvelle", data=data)
    assert step2.status_code == 200, step2.text
    text = _t(step2)
    rid = re.search(r'name="request_id" value="([^"]+)"', text).group(1)
    data.update(
        request_id=rid,
        etape="creer",
        party_0_signatory=str(actors["partner"].user_id),
        party_1_signatory=str(actors["manager"].user_id),
    )
    r = await b.post("/conventions/nouvelle", data=data)
    assert r.status_code == 303, _t(r)[:3000]
    return r.headers["location"].split("?")[0]


async def _task_id(b, title_part: str) -> tuple[str, str]:
    for _ in range(100):
        page = await b.get("/mes-taches")
        found = re.search(
            r'<form method="post" action="/mes-taches/([0-9a-f-]+)" class="task-form" '
            r'data-action="([a-z_]+)"',
            page.text,
        )
        if found and title_part in _t(page):
            return found.group(1), page.text
        await asyncio.sleep(0.1)
    raise AssertionError(f"no task « {title_part} »")


async def test_a_convention_is_created_in_two_steps_and_its_signatory_reads_it_first(
    client, actors, db
):
    manager = await _signed_in_as(client, actors["manager"].session)
    page = await manager.get("/conventions/nouvelle")
    assert page.status_code == 200 and "Suivant : choisir les signataires" in page.text

    # Step 1 → 2: the parties' people appear as choices, everything typed is kept.
    data = {**_form(actors), "csrf": csrf_of(page.text), "etape": "suivant"}
    step2 = _t(await manager.post("/conventions/nouvelle", data=data))
    assert "Utilisateur partner (partenaire)" in step2
    assert "Utilisateur manager (direction)" in step2
    assert 'value="Pacte Nord Entreprendre"' in step2 and "Transmission" in step2
    assert "Créer la convention" in step2
    # An organisation without anyone on Relais cannot sign yet: the form says so.
    empty = await make_org(db, name="Garage des Aygalades")
    lonely = _t(
        await manager.post("/conventions/nouvelle", data={**data, "party_2_org": str(empty.id)})
    )
    assert "Signataire : personne de cette organisation" in lonely

    # A refused form keeps what was typed, the reason beside the field.
    bad = {
        **data,
        "etape": "creer",
        "budget": "beaucoup",
        "party_0_signatory": str(actors["partner"].user_id),
        "party_1_signatory": str(actors["manager"].user_id),
    }
    r = await manager.post("/conventions/nouvelle", data=bad)
    assert r.status_code == 422
    text = _t(r)
    assert 'value="beaucoup"' in text and 'value="Pacte Nord Entreprendre"' in text
    assert "un nombre entier est attendu" in text
    wrong = {**bad, "budget": "1000", "party_0_signatory": str(actors["member"].user_id)}
    r = await manager.post("/conventions/nouvelle", data=wrong)
    assert r.status_code == 422 and "n'appartient pas" in _t(r)
    assert await db.fetchval("SELECT count(*) FROM conventions") == 0

    path = await _create(manager, actors)
    shown = _t(await manager.get(path))
    assert "Pacte Nord Entreprendre" in shown and "en attente de signatures" in shown
    assert "120\u202f000,50 €" in shown and "25\u202f000,00 €" in shown
    assert "Entreprises rencontrées : 150" in re.sub(r"<[^>]+>", "", shown)
    assert "pas encore signé" in shown and "Recrutement local" in shown

    # The list: title, phase, status and period in French.
    listed = _t(await manager.get("/conventions"))
    assert "Pacte Nord Entreprendre" in listed and "en attente de signatures" in listed
    assert f"du {today().day} " in listed

    # The partner's signatory reads the content above the sign button, on the task.
    partner = await _signed_in_as(client, actors["partner"].session)
    task_id, tasks = await _task_id(partner, "Signer la convention")
    tasks = _t(await partner.get("/mes-taches"))
    assert tasks.index("Ce que vous signez") < tasks.index("Signer la convention</button>")
    assert "Entreprises rencontrées" in tasks and "120\u202f000,50 €" in tasks
    one = _t(await partner.get(f"/mes-taches/{task_id}"))
    assert one.index("Recrutement local") < one.index("Signer la convention</button>")
    # … and on the convention's page, where the sign form follows the content.
    conv_page = _t(await partner.get(path))
    assert conv_page.index("Parties et signataires") < conv_page.index(
        "Signer la convention</button>"
    )
    r = await partner.post(
        f"/mes-taches/{task_id}", data={"csrf": csrf_of(conv_page), "back": path}
    )
    assert r.status_code == 303 and r.headers["location"].startswith(path)
    assert "signé le" in _t(await partner.get(path))

    # Not a party: the convention does not exist for them; the new form is the network's.
    member = await _signed_in_as(client, actors["member"].session)
    r = await member.get(path)
    assert r.status_code == 404 and "Convention" in _t(r)
    r = await member.get("/conventions/nouvelle")
    assert r.status_code == 403 and "Réservé" in _t(r)


async def _until_step(b, path: str, text: str) -> str:
    for _ in range(150):
        shown = _t(await b.get(path))
        if text in shown or text in re.sub(r"<[^>]+>", "", shown):
            return shown
        await asyncio.sleep(0.1)
    raise AssertionError(f"never « {text} »")


async def test_the_network_records_expenses_amends_and_renews_a_past_phase(client, actors, db):
    manager = await _signed_in_as(client, actors["manager"].session)
    partner = await _signed_in_as(client, actors["partner"].session)
    path = await _create(
        manager,
        actors,
        title="Pacte rétro",
        starts_on=(today() - timedelta(days=200)).isoformat(),
        ends_on=(today() - timedelta(days=1)).isoformat(),
    )
    for b in (partner, manager):
        task_id, _ = await _task_id(b, "Pacte rétro")
        page = await b.get(path)
        r = await b.post(f"/mes-taches/{task_id}", data={"csrf": csrf_of(page.text), "back": path})
        assert r.status_code == 303, _t(r)
    shown = await _until_step(manager, path, "Renouveler ou clore")
    assert "évaluation imprimable de la phase 1" in shown

    # An expense dated outside the phase is refused, what was typed kept.
    data = {
        "csrf": csrf_of(shown),
        "request_id": "web-dep-1",
        "amount": "1 250,40",
        "label": "Salon de l'emploi",
        "spent_on": today().isoformat(),
    }
    r = await manager.post(f"{path}/depenses", data=data)
    assert r.status_code == 409 and "la dépense doit dater de la phase" in _t(r)
    assert 'value="Salon de l&#39;emploi"' in r.text or 'value="Salon de l\'emploi"' in r.text
    r = await manager.post(
        f"{path}/depenses", data={**data, "spent_on": (today() - timedelta(days=10)).isoformat()}
    )
    assert r.status_code == 303
    shown = _t(await manager.get(r.headers["location"]))
    assert "Dépense enregistrée" in shown and "1\u202f250,40 €" in shown

    # The phase is evaluated: no amendment any more (its form is not offered).
    assert "Enregistrer l'avenant" not in shown

    # Renewed from its task with changed targets: phase 2 with them. The form proposes the
    # next phase's dates and the current targets.
    assert f'name="starts_on" type="date" value="{today().isoformat()}"' in shown
    assert 'name="target_companies_met" type="number" value="150"' in shown
    task_id, _ = await _task_id(manager, "Renouveler ou clore")
    start = today() + timedelta(days=1)
    r = await manager.post(
        f"/mes-taches/{task_id}",
        data={
            "csrf": csrf_of(shown),
            "back": path,
            "choice": "renew",
            "starts_on": start.isoformat(),
            "ends_on": (start + timedelta(days=364)).isoformat(),
            "annual_budget_euros": "130 000,00",
            "target_companies_met": "220",
            "target_campaigns": "",
            "target_visits": "40",
            "priorities": "Apprentissage",
        },
    )
    assert r.status_code == 303, _t(r)
    shown = await _until_step(manager, path, "phase 2")
    shown = await _until_step(manager, path, "Visites d'entreprises : 40")
    assert "Entreprises rencontrées : 220" in re.sub(r"<[^>]+>", "", shown)
    assert "130\u202f000,00 €" in shown and "Apprentissage" in shown
    assert "renouvelée" in shown


async def test_an_active_phase_is_amended_and_its_figures_counted(client, actors):
    manager = await _signed_in_as(client, actors["manager"].session)
    partner = await _signed_in_as(client, actors["partner"].session)
    # A phase past its middle: its review is due at once.
    path = await _create(
        manager,
        actors,
        title="Pacte actif",
        starts_on=(today() - timedelta(days=10)).isoformat(),
        ends_on=(today() + timedelta(days=5)).isoformat(),
    )
    for b in (partner, manager):
        task_id, _ = await _task_id(b, "Pacte actif")
        page = await b.get(path)
        r = await b.post(f"/mes-taches/{task_id}", data={"csrf": csrf_of(page.text), "back": path})
        assert r.status_code == 303
    shown = await _until_step(manager, path, "Enregistrer l'avenant")
    r = await manager.post(
        f"{path}/avenants",
        data={"csrf": csrf_of(shown), "request_id": "web-av-1", "target_companies_met": "9"},
    )
    assert r.status_code == 422 and "au moins 3 caractère" in _t(r)
    assert 'value="9"' in r.text
    r = await manager.post(
        f"{path}/avenants",
        data={
            "csrf": csrf_of(shown),
            "request_id": "web-av-1",
            "target_companies_met": "175",
            "reason": "Comité de pilotage",
        },
    )
    assert r.status_code == 303
    shown = _t(await manager.get(r.headers["location"]))
    assert "Avenant enregistré" in shown and "« Comité de pilotage »" in shown
    assert "Entreprises rencontrées → 175" in shown
    r = await manager.post(f"{path}/indicateurs", data={"csrf": csrf_of(shown)})
    assert r.status_code == 303
    shown = _t(await manager.get(r.headers["location"]))
    assert "Indicateurs comptés jusqu'au" in shown and "0 sur 175" in shown
    assert "<svg" in shown and "Évolution sur la phase" in shown
    # The review, from its task on the convention's page.
    shown = await _until_step(manager, path, "Enregistrer la revue")
    task_id = re.search(
        r'action="/mes-taches/([0-9a-f-]+)" class="task-form" data-action="review_convention"',
        shown,
    ).group(1)
    r = await manager.post(
        f"/mes-taches/{task_id}",
        data={"csrf": csrf_of(shown), "back": path, "note": "Bon rythme de visites"},
    )
    assert r.status_code == 303 and r.headers["location"].startswith(path)
    shown = _t(await manager.get(path))
    assert "« Bon rythme de visites »" in shown and "Enregistrer la revue" not in shown
    # The partner reads it; the network's forms are not theirs.
    seen = _t(await partner.get(path))
    assert "Pacte actif" in seen and "Enregistrer la dépense" not in seen
    r = await partner.post(f"{path}/depenses", data={"csrf": csrf_of(seen), "amount": "1"})
    assert r.status_code == 403


async def test_in_a_large_directory_each_party_is_found_by_name(client, actors, db, monkeypatch):
    """Past a few hundred organisations each party row asks for its organisation's name,
    commune or SIRET, at either step: none found is said beside that row, several are
    listed to choose from, what was typed stays; one found is the party, its people
    offered to sign. A name typed beside a party chosen earlier looks for another one."""
    monkeypatch.setattr("api.pages.picker.PICK_MAX", 1)
    vaucluse = await make_org(db, OrganisationKind.CHAMBER, name="CMA Vaucluse")
    lea, _ = await make_user(db, vaucluse.id, Role.PARTNER, name="Léa Martin")
    manager = await _signed_in_as(client, actors["manager"].session)
    page = (await manager.get("/conventions/nouvelle")).text
    assert 'name="party_0_org_texte"' in page and 'name="party_4_org_texte"' in page
    assert '<select id="party-0-org"' not in page
    network = str(actors["manager"].organisation_id)
    partner = str(actors["partner"].organisation_id)

    typed = {
        **_form(actors, party_0_org="", party_1_org=""),
        "party_0_org_texte": "Fromagerie",
        "party_1_org_texte": "réseau",
        "csrf": csrf_of(page),
        "etape": "suivant",
    }
    r = await manager.post("/conventions/nouvelle", data=typed)
    assert r.status_code == 422
    text = _t(r)
    assert "aucune organisation ne correspond à « Fromagerie »" in text
    assert 'value="Pacte Nord Entreprendre"' in text and "Transmission" in text
    assert f'value="{network}" checked> Réseau Nord' in text  # the other row found

    typed["party_0_org_texte"] = "cma"
    r = await manager.post("/conventions/nouvelle", data=typed)
    assert r.status_code == 422 and "2 organisations correspondent" in _t(r)
    choices = re.findall(r'name="party_0_org" value="([^"]+)"> ([^<(]+)', _t(r))
    assert {name.strip() for _, name in choices} == {"CMA 13", "CMA Vaucluse"}

    # The person picks one: its people are offered to sign.
    typed["party_0_org"] = partner
    step2 = await manager.post("/conventions/nouvelle", data=typed)
    assert step2.status_code == 200, _t(step2)[:3000]
    assert "Utilisateur partner (partenaire)" in _t(step2) and "Créer la convention" in step2.text
    assert f'value="{partner}" checked> CMA 13' in _t(step2)
    # Another name typed beside it: that one instead.
    typed["party_0_org_texte"] = "vaucluse"
    step2 = await manager.post("/conventions/nouvelle", data=typed)
    assert step2.status_code == 200, _t(step2)[:3000]
    assert "Léa Martin (partenaire)" in _t(step2) and "Utilisateur partner" not in _t(step2)

    rid = re.search(r'name="request_id" value="([^"]+)"', step2.text).group(1)
    made = {
        **typed,
        "party_0_org": str(vaucluse.id),
        "request_id": rid,
        "etape": "creer",
        "party_0_signatory": str(lea),
        "party_1_signatory": str(actors["manager"].user_id),
    }
    r = await manager.post("/conventions/nouvelle", data=made)
    assert r.status_code == 303, _t(r)[:3000]
    cid = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
    c = await client.get(f"/api/conventions/{cid}", headers=actors["manager"].headers)
    assert {p["organisation_id"] for p in c.json()["parties"]} == {str(vaucluse.id), network}

    # One match each: the parties at once, created in the two steps.
    page = (await manager.get("/conventions/nouvelle")).text
    typed = {
        **_form(actors, party_0_org="", party_1_org="", title="Pacte Sud"),
        "party_0_org_texte": "cma 13",
        "party_1_org_texte": "réseau nord",
        "csrf": csrf_of(page),
        "etape": "suivant",
    }
    step2 = await manager.post("/conventions/nouvelle", data=typed)
    assert step2.status_code == 200, _t(step2)[:3000]
    rid = re.search(r'name="request_id" value="([^"]+)"', step2.text).group(1)
    made = {
        **typed,
        "request_id": rid,
        "etape": "creer",
        "party_0_signatory": str(actors["partner"].user_id),
        "party_1_signatory": str(actors["manager"].user_id),
    }
    r = await manager.post("/conventions/nouvelle", data=made)
    assert r.status_code == 303, _t(r)[:3000]
    cid = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
    c = await client.get(f"/api/conventions/{cid}", headers=actors["manager"].headers)
    assert {p["organisation_id"] for p in c.json()["parties"]} == {partner, network}
