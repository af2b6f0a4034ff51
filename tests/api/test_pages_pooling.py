"""Pooled services through their pages, as browsers post them: staff keep the catalogue, a
member sees what it would pay and requests, staff request for a member, quotes are answered
from the request's page and from « Mes tâches », the provider confirms and delivers from its
orders, the member finds its invoice and rates; refused forms keep what was typed."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from datetime import UTC, datetime

import pytest

from domain.auth import Role
from domain.organisations import OrganisationKind
from domain.pooling import in_next_month
from tests.api.conftest import Actor, browser, csrf_of
from tests.factories import make_org, make_user, session_for


def _t(r) -> str:
    """A page's text as read (entities decoded, French thin spaces as spaces)."""
    return html.unescape(r.text).replace("\u202f", " ").replace("\xa0", " ")


async def _as(client, actor: Actor):
    b = browser(client)
    b.cookies.update(actor.session.cookies)
    return b


async def _actor(db, name: str, kind: OrganisationKind, role: Role) -> Actor:
    org = await make_org(db, kind, name=name)
    user_id, token = await make_user(db, org.id, role)
    return Actor(user_id, org.id, token, await session_for(db, user_id))


@pytest.fixture
async def provider(db) -> Actor:
    return await _actor(db, "Cabinet Comptable du Port", OrganisationKind.PROVIDER, Role.PARTNER)


def _service_form(provider: Actor, **over: str) -> dict[str, str]:
    form = {
        "name": "Comptable partagé du port",
        "code": f"compta-{uuid.uuid4().hex[:6]}",
        "description": "Une journée de comptable par mois",
        "provider_id": str(provider.organisation_id),
        "unit": "day",
        "fixed_euros": "500",
        "per_unit_euros": "450",
        "min_participants": "2",
        "min_quantity": "0",
        "max_participants": "",
        "max_quantity": "10",
        "window_days": "60",
        "acceptance_days": "7",
        "territories": "",
        "sectors": "",
        "split_rule": "pro_rata_quantity",
    }
    return {**form, **over}


async def _create(staff, form: dict[str, str]):
    page = await staff.get("/catalogue/nouveau")
    assert page.status_code == 200, page.text
    return await staff.post("/catalogue/nouveau", data={**form, "csrf": csrf_of(page.text)})


async def _reload_until(b, path: str, text: str) -> str:
    """The page once it says `text` (the pool answers in the background)."""
    for _ in range(100):
        page = _t(await b.get(path))
        if text in page:
            return page
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never said {text!r}:\n{page[:3000]}")


async def test_staff_keep_the_catalogue_from_its_pages(client, actors, provider):
    staff = await _as(client, actors["staff"])
    # A refused form comes back with what was typed and the error beside the field.
    bad = _service_form(provider, code="Pas Un Code", fixed_euros="beaucoup")
    r = await _create(staff, bad)
    assert r.status_code == 422
    page = _t(r)
    assert 'value="Comptable partagé du port"' in page and 'value="Pas Un Code"' in page
    assert 'value="beaucoup"' in page and "Une journée de comptable par mois" in page
    assert page.count('class="field-error"') >= 2 and "Action non enregistrée" in page

    form = _service_form(provider)
    r = await _create(staff, form)
    assert r.status_code == 303, r.text
    page = _t(await staff.get(r.headers["location"]))
    assert "« Comptable partagé du port » est au catalogue" in page
    assert "Le regroupement se fait à partir de 2 entreprises" in page
    assert "au prorata des quantités demandées" in page
    assert "500,00 € de frais fixes, plus 450,00 € par jour" in page
    again = await _create(staff, form)
    assert again.status_code == 409 and "existe déjà" in _t(again)

    # Members may not keep the catalogue.
    member = await _as(client, actors["member"])
    r = await member.get("/catalogue/nouveau")
    assert r.status_code == 403 and "équipe du réseau" in _t(r)
    # Withdrawn: staff still see it, marked; members no more.
    assert form["code"] in (await member.get("/catalogue")).text
    page = await staff.get("/catalogue")
    r = await staff.post(f"/catalogue/{form['code']}/retrait", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    assert "retiré du catalogue" in _t(await staff.get(r.headers["location"]))
    assert form["code"] not in (await member.get("/catalogue")).text
    forbidden = await member.post(
        f"/catalogue/{form['code']}/retrait", data={"csrf": csrf_of(page.text)}
    )
    assert forbidden.status_code == 403
    # The agency has no catalogue.
    agency = await _as(client, actors["agency"])
    assert (await agency.get("/catalogue")).status_code == 403


async def test_a_pool_from_the_catalogue_to_the_invoice_through_the_pages(
    client, actors, provider, db
):
    staff = await _as(client, actors["staff"])
    form = _service_form(provider)
    assert (await _create(staff, form)).status_code == 303
    code = form["code"]
    first = actors["member"]
    second = await _actor(db, "Garage des Aygalades", OrganisationKind.MEMBER, Role.MEMBER)

    # The member sees what it would pay now, alone for now.
    karim = await _as(client, first)
    page = _t(await karim.get(f"/catalogue?estimer={code}&quantite=2"))
    assert "Votre part aujourd'hui" in page and "1 400,00 €" in page  # 500 + 2 × 450
    assert "0 / 2 entreprises" in page

    # A refused request keeps what was typed, with the error beside the field.
    form_page = await karim.get(f"/catalogue/{code}/demande?quantite=2")
    assert form_page.status_code == 200 and "Votre part aujourd'hui" in _t(form_page)
    need = in_next_month(datetime.now(UTC).date(), 5).isoformat()
    body = {"quantity": "50", "needed_by": need, "note": "Bilan annuel", "request_id": "web-a1"}
    r = await karim.post(
        f"/catalogue/{code}/demande", data={**body, "csrf": csrf_of(form_page.text)}
    )
    assert r.status_code == 422
    assert "au plus 10 par demande" in _t(r) and "Bilan annuel" in _t(r) and 'value="50"' in r.text
    r = await karim.post(
        f"/catalogue/{code}/demande",
        data={**body, "quantity": "1", "csrf": csrf_of(form_page.text)},
    )
    assert r.status_code == 303, r.text
    mine = r.headers["location"].split("?")[0]
    page = _t(await karim.get(r.headers["location"]))
    assert "Demande enregistrée" in page and "en attente d'autres entreprises" in page
    assert "1 entreprise pour 2 au minimum : le devis vous sera envoyé" in page
    card = _t(await karim.get("/catalogue")).split(f'id="service-{code}"')[1].split("</section>")[0]
    assert "voir ma demande" in card and "1 / 2 entreprises" in card
    assert "Votre part aujourd'hui" not in card  # no estimate for a second request
    manager = _t(await (await _as(client, actors["manager"])).get("/catalogue"))
    assert "1 / 2 entreprises" in manager and "Demander pour une entreprise" not in manager

    # Staff request for the second member (it must be named).
    form_page = await staff.get(f"/catalogue/{code}/demande")
    assert "Entreprise pour qui vous faites la demande" in _t(form_page)
    body = {"quantity": "2", "needed_by": need, "request_id": "web-b1"}
    r = await staff.post(
        f"/catalogue/{code}/demande", data={**body, "csrf": csrf_of(form_page.text)}
    )
    assert r.status_code == 422 and "indiquez l'entreprise" in _t(r)
    body["member_id"] = str(second.organisation_id)
    r = await staff.post(
        f"/catalogue/{code}/demande", data={**body, "csrf": csrf_of(form_page.text)}
    )
    assert r.status_code == 303, r.text

    # The rule is met: the first member's quote, with its breakdown.
    page = await _reload_until(karim, mine, "devis à accepter")
    assert "Prix du prestataire pour le regroupement" in page and "1 850,00 €" in page
    assert "1 jour sur 3 jours" in page and "616,67 €" in page  # 1/3 of 500 + 3 × 450
    assert "950,00 €" in page  # alone: 500 + 450
    assert "Garage des Aygalades" not in page  # another member's name is never shown
    other = await _as(client, second)
    assert (await other.get(mine)).status_code == 404
    # A stale amount is refused, the choice kept; then accepted.
    quote_page = await karim.get(mine)
    r = await karim.post(
        f"{mine}/devis",
        data={
            "accept": "true",
            "quote_cents": "1",
            "reason": "ok",
            "csrf": csrf_of(quote_page.text),
        },
    )
    assert r.status_code == 409 and "le devis a changé" in _t(r)
    assert 'value="true" required checked' in r.text and 'value="ok"' in r.text
    r = await karim.post(
        f"{mine}/devis",
        data={"accept": "true", "quote_cents": "61667", "csrf": csrf_of(quote_page.text)},
    )
    assert r.status_code == 303, r.text
    assert "Devis accepté" in _t(await karim.get(r.headers["location"]))

    # The second accepts from « Mes tâches » (the same command).
    tasks = await other.get("/mes-taches")
    task_id = re.search(r'action="/mes-taches/([0-9a-f-]{36})"', tasks.text).group(1)
    assert "123 333" not in tasks.text and "1 233,33 €" in _t(tasks)
    r = await other.post(
        f"/mes-taches/{task_id}",
        data={"accept": "true", "quote_cents": "123333", "csrf": csrf_of(tasks.text)},
    )
    assert r.status_code == 303, r.text

    # The provider's order: members, quantities, total; it confirms, refusing a bad form.
    cabinet = await _as(client, provider)
    pool_id = f"pool-{code}-{need[:7]}"
    page = await _reload_until(cabinet, "/commandes", "Comptable partagé du port")
    order = await _reload_until(
        cabinet, f"/commandes/{pool_id}", "Confirmer ou refuser la commande"
    )
    assert "Boulangerie du Canet" in order and "Garage des Aygalades" in order
    assert "1 850,00 €" in order and "3 jours" in order
    csrf = csrf_of((await cabinet.get(f"/commandes/{pool_id}")).text)
    r = await cabinet.post(
        f"/commandes/{pool_id}/reponse",
        data={"confirmed": "true", "reference": "x" * 101, "csrf": csrf},
    )
    assert r.status_code == 422 and "x" * 101 in r.text
    r = await cabinet.post(
        f"/commandes/{pool_id}/reponse",
        data={"confirmed": "true", "reference": "CMD-7", "csrf": csrf},
    )
    assert r.status_code == 303, r.text
    page = _t(await cabinet.get(r.headers["location"]))
    assert "Commande confirmée" in page and "CMD-7" in page and "Déclarer la livraison" in page
    r = await cabinet.post(
        f"/commandes/{pool_id}/livraison", data={"delivered": "false", "csrf": csrf}
    )
    assert r.status_code == 422 and "motivée" in _t(r)
    r = await cabinet.post(
        f"/commandes/{pool_id}/livraison", data={"delivered": "true", "csrf": csrf}
    )
    assert r.status_code == 303, r.text
    # Another provider's user sees no such order.
    outsider = await _actor(db, "Autre prestataire", OrganisationKind.PROVIDER, Role.PARTNER)
    assert (await (await _as(client, outsider)).get(f"/commandes/{pool_id}")).status_code == 404

    # The member's invoice, printable; it rates the service.
    page = await _reload_until(karim, "/factures", "Comptable partagé du port")
    invoice = re.search(r'href="(/factures/[0-9a-f-]{36})"', page).group(1)
    printed = _t(await karim.get(invoice))
    assert "Facture" in printed and "616,67 €" in printed and "Cabinet Comptable du Port" in printed
    assert "part mutualisée" in printed
    assert (await other.get(invoice)).status_code == 404
    page = await _reload_until(karim, mine, "Évaluer le service")
    r = await karim.post(
        f"{mine}/evaluation",
        data={
            "stars": "4",
            "comment": "Clair et disponible",
            "csrf": csrf_of((await karim.get(mine)).text),
        },
    )
    assert r.status_code == 303, r.text
    assert "Votre évaluation : 4 sur 5" in _t(await karim.get(r.headers["location"]))

    # The network's pool page: members, shares, invoice lines, ratings.
    page = await _reload_until(staff, f"/mutualisations/{pool_id}", "Clair et disponible")
    assert "Boulangerie du Canet" in page and "Garage des Aygalades" in page
    assert "616,67 €" in page and "1 233,33 €" in page and "Total facturé" in page
    assert "CMD-7" in page and "règle atteinte" in page
    assert pool_id in (await staff.get("/mutualisations")).text
    # Members see neither the pools nor the orders.
    assert (await karim.get(f"/mutualisations/{pool_id}")).status_code == 404
    assert (await karim.get("/commandes")).status_code == 403


async def test_a_member_withdraws_its_request_with_a_reason(client, actors, provider):
    staff = await _as(client, actors["staff"])
    form = _service_form(provider, min_participants="3")
    assert (await _create(staff, form)).status_code == 303
    karim = await _as(client, actors["member"])
    form_page = await karim.get(f"/catalogue/{form['code']}/demande")
    need = in_next_month(datetime.now(UTC).date(), 5).isoformat()
    r = await karim.post(
        f"/catalogue/{form['code']}/demande",
        data={
            "quantity": "1",
            "needed_by": need,
            "request_id": "web-w",
            "csrf": csrf_of(form_page.text),
        },
    )
    assert r.status_code == 303, r.text
    mine = r.headers["location"].split("?")[0]
    page = await karim.get(mine)
    assert "Retirer ma demande" in _t(page)
    r = await karim.post(f"{mine}/retrait", data={"reason": "", "csrf": csrf_of(page.text)})
    assert r.status_code == 422
    r = await karim.post(
        f"{mine}/retrait", data={"reason": "Besoin reporté", "csrf": csrf_of(page.text)}
    )
    assert r.status_code == 303, r.text
    page = await _reload_until(karim, mine, "demande retirée")
    assert "Retirer ma demande" not in page
    listed = _t(await karim.get("/services"))
    assert "Comptable partagé du port" in listed and "demande retirée" in listed


async def test_staff_answer_an_order_for_the_provider_and_a_refusal_bills_nothing(
    client, actors, provider, db
):
    staff = await _as(client, actors["staff"])
    form = _service_form(provider)
    assert (await _create(staff, form)).status_code == 303
    second = await _actor(db, "Garage des Aygalades", OrganisationKind.MEMBER, Role.MEMBER)
    need = in_next_month(datetime.now(UTC).date(), 5).isoformat()
    made = []
    for m in (actors["member"], second):
        r = await client.post(
            f"/api/services/{form['code']}/requests",
            json={"request_id": "r1", "quantity": 1, "needed_by": need},
            headers=m.headers,
        )
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    for request_id, m in zip(made, (actors["member"], second), strict=True):
        for _ in range(100):
            got = (
                await client.get(f"/api/service-requests/{request_id}", headers=m.headers)
            ).json()
            if got["status"] == "quoted":
                break
            await asyncio.sleep(0.1)
        r = await client.post(
            f"/api/service-requests/{request_id}/quote",
            json={"accept": True, "quote_cents": got["quote_cents"]},
            headers=m.headers,
        )
        assert r.status_code == 200, r.text
    pool_id = f"pool-{form['code']}-{need[:7]}"
    page = await _reload_until(staff, f"/mutualisations/{pool_id}", "Répondre pour le prestataire")
    order = await staff.get(f"/commandes/{pool_id}")
    assert "Confirmer ou refuser la commande" in _t(order)
    r = await staff.post(
        f"/commandes/{pool_id}/reponse",
        data={"confirmed": "false", "reason": "Plus de disponibilité", "csrf": csrf_of(order.text)},
    )
    assert r.status_code == 303, r.text
    page = await _reload_until(staff, f"/mutualisations/{pool_id}", "annulée, rien facturé")
    assert "Plus de disponibilité" in page and "Répondre pour le prestataire" not in page
    karim = await _as(client, actors["member"])
    # Neither a member nor another provider may answer an order; nor a member for another.
    csrf = csrf_of((await karim.get("/services")).text)
    r = await karim.post(f"/commandes/{pool_id}/reponse", data={"confirmed": "true", "csrf": csrf})
    assert r.status_code == 404
    other = await _as(client, second)
    r = await other.post(
        f"/services/{made[0]}/retrait",
        data={"reason": "pas à moi", "csrf": csrf_of((await other.get("/services")).text)},
    )
    assert r.status_code == 404
    mine = _t(await karim.get(f"/services/{made[0]}"))
    assert "annulée, rien facturé" in mine and "Plus de disponibilité" in mine


async def test_in_a_large_directory_the_provider_and_the_member_are_found_by_name(
    client, actors, provider, db, monkeypatch
):
    """Past a few hundred organisations the new service's provider and the member a request
    is made for are asked by name, commune or SIRET: none found is said beside the field,
    several are listed to choose from, what was typed stays; one found is the one."""
    monkeypatch.setattr("api.pages.picker.PICK_MAX", 1)
    await make_org(db, OrganisationKind.PROVIDER, name="Formations du Vieux-Port")
    other = await make_org(db, OrganisationKind.PROVIDER, name="Cabinet Comptable des Aygalades")
    staff = await _as(client, actors["staff"])
    page = (await staff.get("/catalogue/nouveau")).text
    assert 'name="provider_id_texte"' in page and '<select id="svc-provider"' not in page

    form = _service_form(provider, provider_id="", provider_id_texte="Plomberie")
    r = await staff.post("/catalogue/nouveau", data={**form, "csrf": csrf_of(page)})
    assert r.status_code == 422
    assert "aucune organisation ne correspond à « Plomberie »" in _t(r)
    assert 'value="Comptable partagé du port"' in _t(r) and 'value="Plomberie"' in r.text

    form["provider_id_texte"] = "cabinet comptable"
    r = await staff.post("/catalogue/nouveau", data={**form, "csrf": csrf_of(page)})
    assert r.status_code == 422 and "2 organisations correspondent" in _t(r)
    choices = re.findall(r'name="provider_id" value="([^"]+)"> ([^<(]+)', r.text)
    assert {name.strip() for _, name in choices} == {
        "Cabinet Comptable du Port",
        "Cabinet Comptable des Aygalades",
    }
    # The person picks one of them: the service is that provider's.
    r = await staff.post(
        "/catalogue/nouveau",
        data={**form, "provider_id": str(other.id), "csrf": csrf_of(r.text)},
    )
    assert r.status_code == 303, _t(r)[:3000]
    s = await client.get(f"/api/services/{form['code']}", headers=actors["staff"].headers)
    assert s.json()["provider_id"] == str(other.id)

    # One match is the provider at once.
    code = f"compta-{uuid.uuid4().hex[:6]}"
    form = _service_form(provider, code=code, provider_id="", provider_id_texte="comptable du")
    r = await staff.post("/catalogue/nouveau", data={**form, "csrf": csrf_of(page)})
    assert r.status_code == 303, _t(r)[:3000]
    s = await client.get(f"/api/services/{code}", headers=actors["staff"].headers)
    assert s.json()["provider_id"] == str(provider.organisation_id)

    # Staff request for a member company, found the same way.
    second = await make_org(db, name="Boulangerie des Aygalades")
    page = (await staff.get(f"/catalogue/{code}/demande")).text
    assert 'name="member_id_texte"' in page and '<select id="req-member"' not in page
    need = in_next_month(datetime.now(UTC).date(), 5).isoformat()
    body = {"quantity": "2", "needed_by": need, "note": "Bilan", "request_id": "web-c1"}
    r = await staff.post(
        f"/catalogue/{code}/demande",
        data={**body, "member_id_texte": "Fromagerie", "csrf": csrf_of(page)},
    )
    assert r.status_code == 422
    assert "aucune organisation ne correspond à « Fromagerie »" in _t(r)
    assert 'value="2"' in r.text and "Bilan" in _t(r)
    r = await staff.post(
        f"/catalogue/{code}/demande",
        data={**body, "member_id_texte": "boulangerie", "csrf": csrf_of(page)},
    )
    assert r.status_code == 422 and "2 organisations correspondent" in _t(r)
    choices = re.findall(r'name="member_id" value="([^"]+)"> ([^<(]+)', r.text)
    assert {name.strip() for _, name in choices} == {
        "Boulangerie du Canet",
        "Boulangerie des Aygalades",
    }
    r = await staff.post(
        f"/catalogue/{code}/demande",
        data={
            **body,
            "member_id_texte": "boulangerie",
            "member_id": str(second.id),
            "csrf": csrf_of(r.text),
        },
    )
    assert r.status_code == 303, _t(r)[:3000]
    made = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
    got = await client.get(f"/api/service-requests/{made}", headers=actors["staff"].headers)
    assert got.json()["member_id"] == str(second.id)
    # One match: requested for it at once.
    r = await staff.post(
        f"/catalogue/{code}/demande",
        data={**body, "request_id": "web-c2", "member_id_texte": "canet", "csrf": csrf_of(page)},
    )
    assert r.status_code == 303, _t(r)[:3000]
    made = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
    got = await client.get(f"/api/service-requests/{made}", headers=actors["staff"].headers)
    assert got.json()["member_id"] == str(actors["member"].organisation_id)
