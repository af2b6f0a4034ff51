"""The agency's « Mes candidats » and referral form, the employer's « Sélection »: what each
reads, the forms that keep what was typed after a refusal, and the acts they carry out
(the same commands as the JSON API)."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.auth import Role
from domain.organisations import OrganisationKind
from tests.api.conftest import Actor, browser, csrf_of
from tests.factories import make_org, make_user, session_for


def _t(r) -> str:
    return html.unescape(r.text)


@pytest.fixture
async def other_agency(db) -> Actor:
    org = await make_org(db, OrganisationKind.AGENCY, name="Massajobs")
    user_id, token = await make_user(db, org.id, Role.AGENCY)
    return Actor(user_id, org.id, token, await session_for(db, user_id))


@pytest.fixture
async def campaign(client, actors, other_agency) -> dict:
    body = {
        "request_id": f"camp-{uuid.uuid4().hex[:8]}",
        "employer_id": str(actors["member"].organisation_id),
        "title": "Préparateurs de commandes – entrepôt des Arnavaux",
        "positions": [
            {
                "title": "Préparateur de commandes",
                "count": 3,
                "contract": "cdi",
                "place_postcode": "13014",
                "place_commune": "Marseille",
            },
            {"title": "Cariste", "count": 1, "contract": "interim", "place_postcode": "13014"},
        ],
        "territory_postcodes": ["13013", "13014", "13015", "13016"],
        "agency_ids": [str(actors["agency"].organisation_id), str(other_agency.organisation_id)],
        "deadline": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }
    r = await client.post("/api/campaigns", json=body, headers=actors["staff"].headers)
    assert r.status_code == 201, r.text
    return r.json()


def _as(client, actor: Actor):
    b = browser(client)
    b.cookies.update(actor.session.cookies)
    return b


CANDIDATE = {
    "first_name": "Inès",
    "last_name": "Martin",
    "email": "ines.martin@example.fr",
    "phone": "06 12 34 56 78",
    "postcode": "13015",
    "commune": "Marseille",
    "skills": "CACES 1, préparation de commandes",
    "experience_years": "4",
    "cv_text": "Préparatrice depuis 2021, entrepôt frigorifique.",
}


async def _propose(b, campaign_id: str, **kw) -> object:
    form = await b.get(f"/candidats/proposer/{campaign_id}")
    assert form.status_code == 200, form.text
    rid = re.search(r'name="request_id" value="([^"]+)"', form.text).group(1)
    data = {**CANDIDATE, **kw, "request_id": rid, "csrf": csrf_of(form.text)}
    return await b.post(f"/candidats/proposer/{campaign_id}", data=data)


def _form_of(page: str, action: str) -> dict[str, str]:
    """The hidden fields (CSRF, request id) of the form posting to `action`."""
    start = page.index(f'action="{action}"')
    chunk = page[start : page.index("</form>", start)]
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', chunk)) | {
        "csrf": csrf_of(chunk)
    }


async def _screen(client, staff, referral_id: str, note: str) -> None:
    r = await client.post(
        f"/api/referrals/{referral_id}/screening",
        headers=staff.headers,
        json={"request_id": f"s-{referral_id}", "retained": True, "reason": note},
    )
    assert r.json()["step"] == "shortlisted", r.text


async def test_an_agency_proposes_keeps_its_typing_sees_a_duplicate_and_its_candidates(
    client, actors, other_agency, campaign
):
    agency = _as(client, actors["agency"])
    cid = campaign["id"]
    mine = await agency.get("/candidats")
    assert mine.status_code == 200
    assert "Préparateurs de commandes – entrepôt des Arnavaux" in _t(mine)
    assert f'href="/candidats/proposer/{cid}"' in mine.text

    # A typing error: the form comes back with what was typed and the error beside it.
    bad = await _propose(agency, cid, email="ines.martin@", postcode="1301")
    assert bad.status_code == 422
    text = _t(bad)
    assert "adresse e-mail invalide" in text and "Candidature non enregistrée" in text
    assert 'value="Inès"' in text and 'value="ines.martin@"' in text
    assert "Préparatrice depuis 2021" in text  # the CV text kept too
    assert re.search(r'id="postcode"[^>]*aria-invalid="true"', bad.text)

    ok = await _propose(agency, cid)
    assert ok.status_code == 303 and ok.headers["location"].startswith("/candidats?proposee=")
    done = _t(await agency.get(ok.headers["location"]))
    assert "C'est fait : candidat proposé" in done
    assert "Inès Martin" in done and "tri" in done  # its own candidate, by name

    # The same person from another agency: a duplicate credited to the first, no « fait ».
    other = _as(client, other_agency)
    dup = await _propose(other, cid, email="INES.MARTIN@example.fr ")
    assert dup.status_code == 303
    seen = _t(await other.get(dup.headers["location"]))
    assert "Doublon — crédité à Agence Nord" in seen and "C'est fait" not in seen
    # From « Mes tâches » too (the standing task's form): the same answer, said the same.
    tasks = (await agency.get("/mes-taches")).text
    action = re.search(r'action="(/mes-taches/[^"]+)" class="task-form" data-action="refer_', tasks)
    form = _form_of(tasks, action.group(1))
    # A typing error there: the same task comes back, what was typed kept, the field named
    # by its label (issue 17: « Retour » brought back an empty form).
    typo = {**CANDIDATE, "email": "Salma Haddou", "first_name": "Salma", "last_name": "Haddou"}
    r = await agency.post(action.group(1), data={**form, **typo})
    assert r.status_code == 422
    again = _t(r)
    assert "Action non enregistrée — Courriel" in again, again[:3000]
    assert 'value="Salma"' in again and 'value="Haddou"' in again and 'value="13015"' in again
    assert "Préparatrice depuis 2021" in again
    assert f'name="back" value="{form["back"]}"' in again  # still returns where it came from
    r = await agency.post(action.group(1), data={**form, **CANDIDATE, "skills": "tri"})
    assert r.status_code == 303 and r.headers["location"].startswith("/candidats?proposee=")
    assert "Doublon — crédité à Agence Nord" in _t(await agency.get(r.headers["location"]))
    # Each agency sees its own candidates only.
    assert "Inès Martin" in _t(await other.get("/candidats"))
    assert _t(await agency.get("/candidats")).count("Inès Martin") >= 1

    # Not an agency's page: the employer and the staff are told so.
    for who in ("member", "staff"):
        r = await _as(client, actors[who]).get("/candidats")
        assert r.status_code == 403 and "réservée aux agences" in _t(r)
    r = await _as(client, actors["member"]).get(f"/candidats/proposer/{cid}")
    assert r.status_code == 403


async def test_the_employer_reads_a_card_asks_consents_and_hires_with_its_position(
    client, actors, campaign
):
    agency, member = _as(client, actors["agency"]), _as(client, actors["member"])
    staff = actors["staff"]
    cid = campaign["id"]
    ok = await _propose(agency, cid)
    rid = ok.headers["location"].split("=", 1)[1]
    await _screen(client, staff, rid, "note interne : très motivée")

    # The card: skills, experience, commune — no identity, no network's note.
    sel = await member.get(f"/selection/{cid}")
    text = _t(sel)
    assert sel.status_code == 200 and "CACES 1" in text and "4 ans" in text
    assert "Marseille (13015)" in text
    assert "Martin" not in text and "ines.martin" not in text and "note interne" not in text
    api = await client.get(f"/api/campaigns/{cid}/referrals", headers=actors["member"].headers)
    assert api.json()["items"][0]["reason"] is None  # the JSON API hides it the same way
    assert (await agency.get(f"/selection/{cid}")).status_code == 403
    assert (await _as(client, actors["partner"]).get(f"/selection/{cid}")).status_code == 403
    assert "CACES 1" in _t(await _as(client, actors["staff"]).get(f"/selection/{cid}"))

    # « Intéressé »: the agency is asked for consent, with the candidate's name in view.
    form = _form_of(sel.text, f"/selection/{cid}/{rid}/entretien")
    r = await member.post(f"/selection/{cid}/{rid}/entretien", data=form)
    assert r.status_code == 303
    assert "l'agence recueille le consentement" in _t(await member.get(r.headers["location"]))
    tasks = _t(await agency.get("/mes-taches"))
    assert "Réponse de Inès Martin" in tasks
    mine = await agency.get("/candidats")
    assert "Consentement de Inès Martin" in _t(mine)
    form = _form_of(mine.text, f"/candidats/{rid}/consentement")
    r = await agency.post(f"/candidats/{rid}/consentement", data={**form})
    assert r.status_code == 422 and "champ obligatoire" in _t(r)  # no answer chosen
    r = await agency.post(f"/candidats/{rid}/consentement", data={**form, "given": "true"})
    assert r.status_code == 303

    # Identity and contact now; a hire needs its position (two in this campaign).
    sel = await member.get(f"/selection/{cid}")
    text = _t(sel)
    assert (
        "Inès Martin" in text
        and "ines.martin@example.fr" in text
        and "entrepôt frigorifique" in text
    )
    form = _form_of(sel.text, f"/selection/{cid}/{rid}/decision")
    url = f"/selection/{cid}/{rid}/decision"
    r = await member.post(url, data={**form, "hired": "true", "reason": "motivée, disponible"})
    assert r.status_code == 422
    assert "indiquez le poste pourvu" in _t(r) and 'value="motivée, disponible"' in _t(r)
    r = await client.post(  # the JSON API asks the same
        f"/api/referrals/{rid}/decision",
        headers=actors["member"].headers,
        json={"request_id": "d0", "hired": True, "reason": "motivée"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "position_id"
    position = campaign["positions"][1]["id"]
    r = await member.post(
        url,
        data={**form, "hired": "true", "reason": "motivée, disponible", "position_id": position},
    )
    assert r.status_code == 303
    assert "1 pourvu sur 1" in _t(await member.get(f"/selection/{cid}"))
    outcome = _t(await agency.get("/candidats"))
    assert "embauchée" in outcome and "motivée, disponible" in outcome


async def test_not_interested_withdrawal_and_the_forms_keep_what_was_typed(
    client, actors, campaign
):
    agency, member = _as(client, actors["agency"]), _as(client, actors["member"])
    cid = campaign["id"]
    first = (await _propose(agency, cid, email="a@example.fr", phone="")).headers["location"]
    second = await _propose(agency, cid, email="b@example.fr", phone="", first_name="Yanis")
    a, b = first.split("=", 1)[1], second.headers["location"].split("=", 1)[1]
    await _screen(client, actors["staff"], a, "profil adapté")

    # « Pas intéressé » needs a reason; given, it closes the employer's review task.
    sel = await member.get(f"/selection/{cid}")
    url = f"/selection/{cid}/{a}/pas-interesse"
    form = _form_of(sel.text, url)
    r = await member.post(url, data={**form, "reason": "x"})
    assert r.status_code == 422 and 'value="x"' in r.text and "au moins 3" in _t(r)
    r = await member.post(url, data={**form, "reason": "trop loin du site"})
    assert r.status_code == 303
    assert "Motif : trop loin du site" in _t(await member.get(f"/selection/{cid}"))
    tasks = (await client.get("/api/tasks", headers=actors["member"].headers)).json()
    assert not [t for t in tasks if t.get("subject_id") == a]
    assert "trop loin du site" in _t(await agency.get("/candidats"))

    # Withdraw the other one: a short reason is kept with its error, then it is withdrawn.
    mine = await agency.get("/candidats")
    url = f"/candidats/{b}/retrait"
    form = _form_of(mine.text, url)
    r = await agency.post(url, data={**form, "reason": "ok"})
    assert r.status_code == 422 and 'value="ok"' in r.text and "<details open>" in r.text
    r = await agency.post(url, data={**form, "reason": "a trouvé un emploi ailleurs"})
    assert r.status_code == 303
    text = _t(await agency.get(r.headers["location"]))
    assert "le candidat est retiré" in text and "a trouvé un emploi ailleurs" in text


async def test_a_campaign_with_many_candidates_is_read_page_by_page(
    client, actors, other_agency, campaign, monkeypatch
):
    """« Mes candidats » shows a campaign's first candidates and a link to all of them; that
    page goes from page to page, its count exact, and only the agency's own candidates."""
    monkeypatch.setattr("api.pages.candidates.REFERRALS_SHOWN", 2)
    monkeypatch.setattr("api.pages.candidates.PAGE_SIZE", 2)
    agency = _as(client, actors["agency"])
    cid = campaign["id"]
    names = ["Inès", "Yanis", "Léa", "Sami", "Nora"]
    for i, first in enumerate(names):
        r = await _propose(agency, cid, first_name=first, email=f"c{i}@example.fr", phone="")
        assert r.status_code == 303, r.text
    mine = _t(await agency.get("/candidats"))
    assert "Voir les 5 candidats proposés sur cette campagne" in mine
    assert sum(f"{n} Martin" in mine for n in names) == 2  # the first two only
    link = re.search(r'href="(/candidats/campagne/[^"]+)"', mine).group(1)
    assert link == f"/candidats/campagne/{cid}"

    seen: list[str] = []
    url = link
    for no in (1, 2, 3):
        r = await agency.get(url)
        assert r.status_code == 200
        text = _t(r)
        assert f"5 candidats proposés · page {no} sur 3" in text
        seen += [n for n in names if f"{n} Martin" in text]
        nxt = re.search(r'href="([^"]+)" rel="next"', r.text)
        if no < 3:
            url = html.unescape(nxt.group(1))
        else:
            assert nxt is None and 'rel="prev"' in r.text
    assert seen == names  # each once, in the order they were proposed
    # A link kept from when there were more pages shows the last one.
    assert "page 3 sur 3" in _t(await agency.get(f"{link}?page=99"))

    # Another agency invited on the campaign sees none of these candidates there.
    other = _t(await _as(client, other_agency).get(link))
    assert "Aucun candidat proposé sur cette campagne." in other
    assert not any(f"{n} Martin" in other for n in names)
    # The employer is told the page is the agencies'.
    r = await _as(client, actors["member"]).get(link)
    assert r.status_code == 403 and "réservée aux agences" in _t(r)


async def test_acts_on_a_campaigns_candidates_page_come_back_to_that_page(
    client, actors, campaign, monkeypatch
):
    """A withdrawal sent from a campaign's candidates page (page 2) returns there, saying it
    is done; refused, that page comes back with the error beside its row."""
    monkeypatch.setattr("api.pages.candidates.PAGE_SIZE", 2)
    agency = _as(client, actors["agency"])
    cid = campaign["id"]
    for i, first in enumerate(["Inès", "Yanis", "Léa"]):
        r = await _propose(agency, cid, first_name=first, email=f"d{i}@example.fr", phone="")
        assert r.status_code == 303, r.text
    page2 = await agency.get(f"/candidats/campagne/{cid}?page=2")
    assert "Léa Martin" in _t(page2)
    rid = re.search(r'<tr id="r-([0-9a-f-]+)">', page2.text).group(1)
    form = _form_of(page2.text, f"/candidats/{rid}/retrait")
    assert form["campagne"] == cid and form["page"] == "2"

    refused = await agency.post(f"/candidats/{rid}/retrait", data={**form, "reason": ""})
    assert refused.status_code == 422
    text = _t(refused)
    assert "page 2 sur 2" in text and "Léa Martin" in text
    assert re.search(r"<details open>", refused.text)  # the row's form, opened, with its error

    r = await agency.post(f"/candidats/{rid}/retrait", data={**form, "reason": "A trouvé ailleurs"})
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"/candidats/campagne/{cid}?page=2&fait=")
    back = _t(await agency.get(r.headers["location"]))
    assert "page 2 sur 2" in back and "A trouvé ailleurs" in back
