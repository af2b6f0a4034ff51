"""The campaigns' pages as a browser uses them: staff launch a campaign from a form (a refusal
shows the form again with what was typed), follow its board, screen a candidate with the
profile in view, erase a candidate on request, read the report and cancel; employers and
agencies see their own campaigns; the others are told in French."""

from __future__ import annotations

import html
import re
import uuid
from datetime import date, timedelta

from tests.api.conftest import browser, csrf_of
from tests.api.test_recruitment import candidate
from tests.factories import make_org


def _t(r) -> str:
    return html.unescape(r.text)


def _signed_in(client, actor):
    b = browser(client)
    b.cookies.update(actor.session.cookies)
    return b


def _form(page: str, **typed: str | list[str]) -> dict:
    """The launch form as a person fills it: its hidden fields kept, the rest typed."""
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    return {**hidden, "csrf": csrf_of(page), **typed}


def _launch_fields(actors, **kw) -> dict:
    soon = (date.today() + timedelta(days=30)).isoformat()
    return {
        "title": "Préparateurs – entrepôt du Canet",
        "employer_id": str(actors["member"].organisation_id),
        "pos-0-title": "Préparateur de commandes",
        "pos-0-count": "2",
        "pos-0-contract": "cdi",
        "pos-0-place_postcode": "13014",
        "pos-0-place_commune": "Marseille",
        "pos-1-title": "Cariste",
        "pos-1-count": "1",
        "pos-1-contract": "interim",
        "pos-1-place_postcode": "13014",
        "territory": "13014, 13015 13016",
        "agency_ids": [str(actors["agency"].organisation_id)],
        "deadline": soon,
        "decision_sla_days": "5",
        **kw,
    }


async def _launch(staff, actors, **kw) -> str:
    page = (await staff.get("/campagnes/nouvelle")).text
    r = await staff.post("/campagnes/nouvelle", data=_form(page, **_launch_fields(actors, **kw)))
    assert r.status_code == 303, _t(r)[:3000]
    return r.headers["location"]


async def test_staff_launch_a_campaign_and_a_refusal_keeps_what_was_typed(client, actors):
    staff = _signed_in(client, actors["staff"])
    listed = _t(await staff.get("/campagnes"))
    assert "Lancer une campagne" in listed and "Aucune campagne" in listed
    page = (await staff.get("/campagnes/nouvelle")).text
    assert "Boulangerie du Canet" in page and "Agence Nord" in page  # employer and agencies
    assert page.count('class="position-row"') == 3

    # « Ajouter un poste »: the same form with one more row, nothing lost.
    typed = _launch_fields(actors)
    r = await staff.post("/campagnes/nouvelle", data={**_form(page, **typed), "ajouter": "1"})
    assert r.status_code == 200 and r.text.count('class="position-row"') == 4
    assert 'value="Cariste"' in r.text and 'value="13014, 13015 13016"' in r.text

    # Refused: a past deadline and a row without its postcode — said by their fields.
    bad = _launch_fields(actors, deadline="2020-01-01", **{"pos-1-place_postcode": ""})
    r = await staff.post("/campagnes/nouvelle", data=_form(page, **bad))
    text = _t(r)
    assert r.status_code == 422, text[:2000]
    assert "Campagne non lancée" in text
    assert 'value="Préparateurs – entrepôt du Canet"' in text and 'value="Cariste"' in text
    assert re.search(r'value="{}"[^>]* checked'.format(actors["agency"].organisation_id), text)
    assert "champ obligatoire" in text  # the second row's postcode
    bad = _launch_fields(actors, deadline="2020-01-01")
    r = await staff.post("/campagnes/nouvelle", data=_form(page, **bad))
    assert r.status_code == 422 and "la date limite doit être dans le futur" in _t(r)
    r = await staff.post(
        "/campagnes/nouvelle", data=_form(page, **_launch_fields(actors, agency_ids=[]))
    )
    assert r.status_code == 422 and "Agences invitées" in _t(r)

    # Launched: the campaign's page, its positions and hires against target.
    r = await staff.post("/campagnes/nouvelle", data=_form(page, **typed))
    assert r.status_code == 303, _t(r)[:2000]
    shown = _t(await staff.get(r.headers["location"]))
    assert "Campagne lancée" in shown and "Préparateurs – entrepôt du Canet" in shown
    assert "0 / 2 embauches" in shown and "0 / 1 embauche" in shown and "intérim" in shown
    assert "candidatures ouvertes" in shown
    listed = _t(await staff.get("/campagnes?statut=open"))
    assert "Préparateur de commandes (2), Cariste (1)" in listed and "0 / 3" in listed
    assert "Aucune campagne avec ce statut" in _t(await staff.get("/campagnes?statut=cancelled"))

    # The employer and the agency see it listed, without the launch button; nobody else may.
    for who in ("member", "agency"):
        theirs = _t(await _signed_in(client, actors[who]).get("/campagnes"))
        assert "Préparateurs – entrepôt du Canet" in theirs and "Lancer une campagne" not in theirs
    r = await _signed_in(client, actors["member"]).get("/campagnes/nouvelle")
    assert r.status_code == 403 and "réservé à l'équipe du réseau" in _t(r)
    partner = _t(await _signed_in(client, actors["partner"]).get("/campagnes"))
    assert "Aucune campagne" in partner and "entrepôt du Canet" not in partner


async def test_board_screening_erasure_report_and_cancel(client, actors, db):
    staff = _signed_in(client, actors["staff"])
    where = await _launch(staff, actors)
    cid = where.split("?")[0].rsplit("/", 1)[1]
    positions = (await client.get(f"/api/campaigns/{cid}", headers=actors["staff"].headers)).json()
    # The agency refers a candidate (its own page belongs to the candidates' area).
    ref = await client.post(
        f"/api/campaigns/{cid}/referrals",
        json=candidate(position_id=positions["positions"][1]["id"]),
        headers=actors["agency"].headers,
    )
    assert ref.status_code == 201, ref.text
    pseudonym, rid = ref.json()["pseudonym"], ref.json()["referral_id"]

    # The board: the candidate under « tri », by name for the network, with the position.
    board = _t(await staff.get(f"/campagnes/{cid}"))
    assert "Inès Martin" in board and pseudonym in board and "Cariste" in board
    assert "depuis aujourd'hui" in board and "Trier la candidature" in board
    assert "Agence Nord" in board

    # The profile and CV beside the screening form; a form without a choice keeps the reason.
    profile = await staff.get(f"/campagnes/candidatures/{rid}")
    text = _t(profile)
    assert "Préparatrice depuis 2021" in text and "ines.martin@example.fr" in text
    assert "Décision de tri" in text
    form = _form(profile.text, reason="Profil conforme")
    r = await staff.post(f"/campagnes/candidatures/{rid}/tri", data=form)
    assert r.status_code == 422 and "Tri non enregistré" not in _t(r)
    assert 'value="Profil conforme"' in r.text and "champ obligatoire" in _t(r)
    r = await staff.post(f"/campagnes/candidatures/{rid}/tri", data={**form, "retained": "true"})
    assert r.status_code == 303, _t(r)[:2000]
    moved = _t(await staff.get(r.headers["location"]))
    assert f"Candidature {pseudonym} triée : retenue" in moved
    col = moved.split('id="col-shortlisted"')[1].split("</section>")[0]
    assert "Inès Martin" in col
    # Screening twice is refused in French, the form shown again.
    again = await staff.get(f"/campagnes/candidatures/{rid}")
    assert "Décision de tri" not in _t(again)

    # The employer, once the candidate is in interview, must name the position of a hire.
    member = actors["member"]
    r = await client.post(
        f"/api/referrals/{rid}/interview-request", json={"request_id": "i1"}, headers=member.headers
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/referrals/{rid}/consent",
        json={"request_id": "c1", "given": True},
        headers=actors["agency"].headers,
    )
    assert r.json()["step"] == "interview", r.text
    employer = _signed_in(client, member)
    tasks = (await employer.get("/mes-taches")).text
    task_id = re.search(
        r'action="/mes-taches/([0-9a-f-]+)" class="task-form" data-action="decide"', tasks
    )
    assert task_id, tasks[:3000]
    r = await employer.post(
        f"/mes-taches/{task_id.group(1)}",
        data={
            "csrf": csrf_of(tasks),
            "request_id": "d-web-1",
            "hired": "true",
            "reason": "motivée",
            "position_id": "",
        },
    )
    assert r.status_code == 422 and "indiquez le poste pourvu" in _t(r)
    assert await db.fetchval("SELECT sum(filled) FROM campaign_positions") == 0

    # Erasure on request: identity and CV gone, the referral stays.
    page = await staff.get(f"/campagnes/candidatures/{rid}")
    r = await staff.post(
        f"/campagnes/candidatures/{rid}/effacement", data={"csrf": csrf_of(page.text)}
    )
    assert r.status_code == 422 and "Rien n'est effacé" in _t(r)
    r = await staff.post(
        f"/campagnes/candidatures/{rid}/effacement",
        data={"csrf": csrf_of(page.text), "confirm": "oui"},
    )
    assert r.status_code == 303
    erased = _t(await staff.get(r.headers["location"]))
    assert "Données personnelles effacées" in erased and "Inès Martin" not in erased
    assert "effacée ou non communiquée" in erased and "Préparatrice" not in erased

    # The report, with its CSV, for the network and the employer — not for the agency.
    report = _t(await staff.get(f"/campagnes/{cid}/bilan"))
    assert "Bilan · Préparateurs – entrepôt du Canet" in report and "0 / 3" in report
    assert "1 candidature · 1 présélection · 0 embauche" in report
    assert "Télécharger en CSV" in report
    csv = await staff.get(f"/campagnes/{cid}/bilan.csv")
    assert csv.status_code == 200 and "Cariste" in csv.text and "Agence Nord" in csv.text
    assert (await employer.get(f"/campagnes/{cid}/bilan")).status_code == 200
    r = await _signed_in(client, actors["agency"]).get(f"/campagnes/{cid}/bilan")
    assert r.status_code == 403 and "Le bilan est réservé" in _t(r)
    # The employer's campaign page: positions, no board (its shortlist is elsewhere).
    theirs = _t(await employer.get(f"/campagnes/{cid}"))
    assert "Cariste" in theirs and "Inès" not in theirs and "Trier" not in theirs
    assert f'href="/selection/{cid}"' in theirs  # their shortlist is on their own page
    mine = (await _signed_in(client, actors["agency"]).get(f"/campagnes/{cid}")).text
    assert f'href="/candidats/proposer/{cid}"' in mine and "Inès" not in mine
    r = await _signed_in(client, actors["partner"]).get(f"/campagnes/{cid}")
    assert r.status_code == 404 and "Campagne introuvable" in _t(r)
    # The referral as the employer and the agency may read it: no form, no screening note.
    for who in (employer, _signed_in(client, actors["agency"])):
        r = await who.get(f"/campagnes/candidatures/{rid}")
        assert r.status_code == 200 and pseudonym in _t(r)
        assert "Décision de tri" not in _t(r) and "Effacer" not in _t(r)
        assert "Profil conforme" not in _t(r)
    r = await _signed_in(client, actors["partner"]).get(f"/campagnes/candidatures/{rid}")
    assert r.status_code == 404 and "Candidature introuvable" in _t(r)

    # Cancel: a reason and the confirmation; without it nothing happens and the reason stays.
    page = (await staff.get(f"/campagnes/{cid}")).text
    form = _form(page, reason="Poste supprimé par l'employeur")
    r = await staff.post(f"/campagnes/{cid}/annulation", data=form)
    assert r.status_code == 422 and "cochez la case" in _t(r)
    assert "Poste supprimé par l&#39;employeur" in r.text or "Poste supprimé par l'employeur" in _t(
        r
    )
    r = await staff.post(f"/campagnes/{cid}/annulation", data={**form, "confirm": "oui"})
    assert r.status_code == 303
    done = _t(await staff.get(r.headers["location"]))
    assert "Campagne annulée" in done and "annulée" in done and "Annuler la campagne" not in done
    status = await db.fetchval("SELECT status FROM campaigns WHERE id = $1", uuid.UUID(cid))
    assert status == "cancelled"


async def test_a_board_column_and_the_closed_referrals_are_read_page_by_page(
    client, actors, monkeypatch
):
    """A column shows its first cards and links to all of them, page by page (network only);
    so do the closed referrals."""
    monkeypatch.setattr("api.pages.campaigns.CARDS", 1)
    monkeypatch.setattr("api.pages.campaigns.STEP_PAGE", 2)
    staff = _signed_in(client, actors["staff"])
    where = await _launch(staff, actors)
    cid = where.split("?")[0].rsplit("/", 1)[1]
    names = ["Inès", "Yanis", "Léa"]
    rids = []
    for i, first in enumerate(names):
        r = await client.post(
            f"/api/campaigns/{cid}/referrals",
            json=candidate(first_name=first, email=f"c{i}@example.fr", phone=None),
            headers=actors["agency"].headers,
        )
        assert r.status_code == 201, r.text
        rids.append(r.json()["referral_id"])
    board = await staff.get(f"/campagnes/{cid}")
    link = re.search(r'href="(/campagnes/[^"]+/etape\?etape=screening)"', board.text)
    assert link and "Voir les 3<span" in board.text
    seen: list[str] = []
    url = html.unescape(link.group(1))
    for no in (1, 2):
        r = await staff.get(url)
        assert r.status_code == 200, _t(r)[:2000]
        text = _t(r)
        assert f"3 candidatures · page {no} sur 2" in text
        seen += [n for n in names if f"{n} Martin" in text]
        nxt = re.search(r'href="([^"]+)" rel="next"', r.text)
        if nxt:
            url = html.unescape(nxt.group(1))
    assert seen == names  # each once, the oldest first

    # Two screened out: the closed list links to all of them too.
    for rid in rids[:2]:
        r = await client.post(
            f"/api/referrals/{rid}/screening",
            json={"request_id": f"s-{rid}", "retained": False, "reason": "Hors secteur"},
            headers=actors["staff"].headers,
        )
        assert r.status_code == 200, r.text
    board = await staff.get(f"/campagnes/{cid}")
    closed = re.search(r'href="(/campagnes/[^"]+/etape\?etape=closes)"', board.text)
    assert closed and "voir toutes les candidatures closes" in _t(board)
    text = _t(await staff.get(html.unescape(closed.group(1))))
    assert "Candidatures closes" in text and "2 candidatures · page 1 sur 1" in text
    assert "Inès Martin" in text and "Yanis Martin" in text and "Hors secteur" in text

    # The employer reads its campaign, not the network's columns; a made-up step is not found.
    r = await _signed_in(client, actors["member"]).get(html.unescape(link.group(1)))
    assert r.status_code == 403 and "réservées à l'équipe du réseau" in _t(r)
    r = await staff.get(f"/campagnes/{cid}/etape?etape=inconnue")
    assert r.status_code == 404 and "Cette étape n'existe pas." in _t(r)


async def test_in_a_large_directory_the_employer_is_found_by_name_or_siret(
    client, actors, db, monkeypatch
):
    """Past a few hundred member companies the form asks for the employer's name or SIRET:
    none found is said beside the field, several are listed to choose from, what was typed
    stays; one found is the employer. From the company's page, the form comes chosen."""
    monkeypatch.setattr("api.pages.picker.PICK_MAX", 1)
    other = await make_org(db, name="Boulangerie des Aygalades")
    staff = _signed_in(client, actors["staff"])
    page = (await staff.get("/campagnes/nouvelle")).text
    assert 'name="employer_id_texte"' in page and '<select id="c-employer"' not in page

    fields = _launch_fields(actors, employer_id="", employer_id_texte="Fromagerie")
    r = await staff.post("/campagnes/nouvelle", data=_form(page, **fields))
    assert r.status_code == 422
    assert "aucune organisation ne correspond à « Fromagerie »" in _t(r)
    assert 'value="Préparateurs – entrepôt du Canet"' in _t(r)  # the rest kept

    fields["employer_id_texte"] = "boulangerie"
    r = await staff.post("/campagnes/nouvelle", data=_form(page, **fields))
    assert r.status_code == 422 and "2 organisations correspondent" in _t(r)
    choices = dict(re.findall(r'name="employer_id" value="([^"]+)"> ([^<(]+)', r.text))
    assert {v.strip() for v in choices.values()} == {
        "Boulangerie du Canet",
        "Boulangerie des Aygalades",
    }
    # The person picks one of them: launched for that company.
    picked = _form(r.text, **{**fields, "employer_id": str(other.id)})
    r = await staff.post("/campagnes/nouvelle", data=picked)
    assert r.status_code == 303, _t(r)[:3000]
    cid = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
    c = await client.get(f"/api/campaigns/{cid}", headers=actors["staff"].headers)
    assert c.json()["employer_id"] == str(other.id)

    # One match is the employer at once.
    page = (await staff.get("/campagnes/nouvelle")).text
    fields = _launch_fields(actors, employer_id="", employer_id_texte="canet", title="Vendeurs")
    r = await staff.post("/campagnes/nouvelle", data=_form(page, **fields))
    assert r.status_code == 303, _t(r)[:3000]

    # From the company's page: the form comes with it chosen.
    company = await staff.get(f"/annuaire/{other.id}")
    link = re.search(r'href="(/campagnes/nouvelle\?employeur=[^"]+)"', company.text)
    assert link and "Lancer une campagne pour cette entreprise" in company.text
    r = await staff.get(link.group(1))
    assert re.search(rf'value="{other.id}" checked> Boulangerie des Aygalades', r.text)
