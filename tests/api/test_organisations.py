"""The directory through the API: validation, search, pagination, who may do what."""

from __future__ import annotations

import json

import pytest

from tests.factories import siret

NEW = {
    "kind": "member",
    "name": "Transports Phocéens du Nord",
    "siret": siret(),
    "naf": "49.41A",
    "headcount": 42,
    "postcode": "13015",
    "commune": "Marseille",
    "territory": "Marseille Nord",
}


async def test_staff_creates_then_reads_back(client, actors):
    """A member company starts pending (its onboarding makes it active); any other kind of
    organisation is active at once."""
    staff = actors["staff"]
    r = await client.post("/api/organisations", json=NEW, headers=staff.headers)
    assert r.status_code == 201, r.text
    org = r.json()
    assert org["status"] == "pending" and org["siret"] == NEW["siret"]
    agency = {**NEW, "kind": "agency", "siret": siret(), "name": "Agence du Port"}
    r = await client.post("/api/organisations", json=agency, headers=staff.headers)
    assert r.status_code == 201 and r.json()["status"] == "active", r.text
    r = await client.get(f"/api/organisations/{org['id']}", headers=staff.headers)
    assert r.json()["name"] == "Transports Phocéens du Nord"


async def test_siret_is_normalised_and_a_second_creation_conflicts(client, actors):
    staff = actors["staff"]
    s = siret()
    spaced = f"{s[:3]} {s[3:6]} {s[6:9]} {s[9:]}"
    r = await client.post(
        "/api/organisations", json={**NEW, "siret": spaced}, headers=staff.headers
    )
    assert r.status_code == 201 and r.json()["siret"] == s
    r = await client.post("/api/organisations", json={**NEW, "siret": s}, headers=staff.headers)
    assert r.status_code == 409
    assert "déjà enregistré" in r.json()["detail"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("siret", "12345678901234", "Luhn"),
        ("siret", "1234", "14 chiffres"),
        ("postcode", "1300", "5 chiffres"),
        ("headcount", -1, "headcount : doit être supérieur ou égal à 0"),
        ("headcount", "douze", "headcount : un nombre entier est attendu"),
        ("kind", "bank", "kind : valeurs possibles : 'member', "),
        ("email", "pas-un-mail", "email : adresse e-mail invalide"),
        ("name", "", "name : au moins 2 caractère(s)"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(client, actors, field, value, expected):
    r = await client.post(
        "/api/organisations",
        json={**NEW, "siret": siret(), field: value},
        headers=actors["staff"].headers,
    )
    assert r.status_code == 422
    body = r.json()
    assert [e["field"] for e in body["errors"]] == [field]
    assert expected in body["detail"]


async def test_unknown_fields_and_missing_fields_are_refused(client, actors):
    r = await client.post(
        "/api/organisations",
        json={**NEW, "siret": siret(), "cheat": 1},
        headers=actors["staff"].headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cheat"
    assert r.json()["detail"] == "Données invalides — cheat : champ inconnu"
    r = await client.post(
        "/api/organisations", json={"kind": "member"}, headers=actors["staff"].headers
    )
    assert {e["field"] for e in r.json()["errors"]} == {"name", "siret", "postcode"}
    assert {e["message"] for e in r.json()["errors"]} == {"champ obligatoire"}


async def test_search_by_name_kind_territory_with_pagination(client, actors):
    staff = actors["staff"]
    for i in range(5):
        body = {
            **NEW,
            "siret": siret(),
            "name": f"Garage des Aygalades {i}",
            "territory": "Marseille Nord" if i % 2 == 0 else "Aubagne",
        }
        assert (
            await client.post("/api/organisations", json=body, headers=staff.headers)
        ).status_code == 201
    r = await client.get(
        "/api/organisations", params={"q": "aygalades", "limit": 2}, headers=staff.headers
    )
    page = r.json()
    assert page["total"] == 5 and len(page["items"]) == 2
    names = [o["name"] for o in page["items"]]
    r = await client.get(
        "/api/organisations",
        params={"q": "aygalades", "limit": 2, "offset": 2},
        headers=staff.headers,
    )
    assert not set(names) & {o["name"] for o in r.json()["items"]}
    r = await client.get(
        "/api/organisations",
        params={"q": "aygalades", "territory": "aubagne"},
        headers=staff.headers,
    )
    assert r.json()["total"] == 2
    r = await client.get("/api/organisations", params={"kind": "agency"}, headers=staff.headers)
    assert [o["name"] for o in r.json()["items"]] == ["Agence Nord"]
    r = await client.get("/api/organisations", params={"q": "%"}, headers=staff.headers)
    assert r.json()["total"] == 0  # a wildcard typed by a person is literal
    r = await client.get("/api/organisations", params={"limit": 0}, headers=staff.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "limit"


async def test_the_search_matches_words_as_typed_accents_and_case_aside(
    client, actors, monkeypatch
):
    """Each word typed starts a word of the name or the commune (an index finds them, at any
    size of directory); digits alone also find a SIRET by its first digits."""
    staff = actors["staff"]
    numbers = {}
    for name, commune in [
        ("Épicerie Fine de l'Estaque", "Marseille"),
        ("Boulangerie Saint-Étienne", "Aubagne"),
        ("Garage du Port", "La Ciotat"),
        ("Garage Martin", "Cassis"),
        ("Garage des Pins", "Gémenos"),
        ("Au Cœur du Panier", "Marseille"),
    ]:
        numbers[name] = siret()
        body = {**NEW, "siret": numbers[name], "name": name, "commune": commune}
        r = await client.post("/api/organisations", json=body, headers=staff.headers)
        assert r.status_code == 201, r.text

    async def names(q: str) -> set[str]:
        r = await client.get("/api/organisations", params={"q": q}, headers=staff.headers)
        assert r.status_code == 200, r.text
        return {o["name"] for o in r.json()["items"]}

    assert await names("epicerie") == {"Épicerie Fine de l'Estaque"}
    assert await names("ÉPICERIE  estaq") == {"Épicerie Fine de l'Estaque"}  # every word
    assert await names("epicerie aubagne") == set()
    assert await names("saint-etienne") == {"Boulangerie Saint-Étienne"}
    assert await names("ciotat") == {"Garage du Port"}  # its commune
    assert await names("coeur") == await names("CŒUR") == {"Au Cœur du Panier"}
    assert await names("GÉMENOS") == {"Garage des Pins"}
    assert await names("langerie") == set()  # a word's start, not any part of it
    assert await names("' & !") == set()  # no word typed: nothing, and no error
    number = numbers["Garage du Port"]
    assert await names(f"{number[:3]} {number[3:9]}") >= {"Garage du Port"}
    assert await names(number) == {"Garage du Port"}

    # A word many hold (past the count's bound): the same names, page after page, in order.
    monkeypatch.setattr("store.sql.COUNT_BOUND", 1)
    seen = []
    for offset in range(3):
        r = await client.get(
            "/api/organisations",
            params={"q": "garage", "limit": 1, "offset": offset},
            headers=staff.headers,
        )
        seen += [o["name"] for o in r.json()["items"]]
    assert seen == sorted(["Garage des Pins", "Garage du Port", "Garage Martin"])  # by name


async def test_update_changes_only_what_is_sent(client, actors):
    staff = actors["staff"]
    org = (
        await client.post(
            "/api/organisations", json={**NEW, "siret": siret()}, headers=staff.headers
        )
    ).json()
    r = await client.patch(
        f"/api/organisations/{org['id']}", json={"headcount": 50}, headers=staff.headers
    )
    assert r.status_code == 200
    assert (r.json()["headcount"], r.json()["name"]) == (50, NEW["name"])
    r = await client.patch(
        f"/api/organisations/{org['id']}", json={"postcode": "ABCDE"}, headers=staff.headers
    )
    assert r.status_code == 422


async def test_no_token_is_401_and_a_bad_token_too(client):
    r = await client.get("/api/organisations")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = await client.get("/api/organisations", headers={"Authorization": "Bearer rl_nope"})
    assert r.status_code == 401


@pytest.mark.parametrize("role", ["manager", "member", "agency", "partner"])
async def test_only_staff_and_admin_create(client, actors, role):
    r = await client.post(
        "/api/organisations", json={**NEW, "siret": siret()}, headers=actors[role].headers
    )
    assert r.status_code == 403
    assert "réservée" in r.json()["detail"]


async def test_a_member_sees_and_edits_only_its_own_organisation(client, actors):
    member, agency = actors["member"], actors["agency"]
    r = await client.get("/api/organisations", headers=member.headers)
    assert [o["id"] for o in r.json()["items"]] == [str(member.organisation_id)]
    r = await client.get(f"/api/organisations/{agency.organisation_id}", headers=member.headers)
    assert r.status_code == 404
    r = await client.patch(
        f"/api/organisations/{agency.organisation_id}",
        json={"headcount": 1},
        headers=member.headers,
    )
    assert r.status_code == 404
    # Its contact details, a member corrects itself; what decides eligibility and shares of
    # bills (issue 18: a member lowered its headcount, and its share, with a PATCH) it asks
    # the network's staff to change.
    r = await client.patch(
        f"/api/organisations/{member.organisation_id}",
        json={"phone": "04 91 00 00 00", "commune": "Marseille"},
        headers=member.headers,
    )
    assert r.status_code == 200 and r.json()["commune"] == "Marseille"
    r = await client.patch(
        f"/api/organisations/{member.organisation_id}",
        json={"headcount": 7},
        headers=member.headers,
    )
    assert r.status_code == 403 and "effectif" in r.json()["detail"]
    r = await client.patch(
        f"/api/organisations/{member.organisation_id}",
        json={"status": "inactive"},
        headers=member.headers,
    )
    assert r.status_code == 403
    r = await client.patch(
        f"/api/organisations/{member.organisation_id}",
        json={"headcount": 8},
        headers=actors["manager"].headers,
    )
    assert r.status_code == 403


async def test_malformed_id_is_422_unknown_is_404(client, actors):
    r = await client.get("/api/organisations/not-a-uuid", headers=actors["staff"].headers)
    assert r.status_code == 422
    r = await client.get(
        "/api/organisations/00000000-0000-0000-0000-000000000000", headers=actors["staff"].headers
    )
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"postcode": None}, "postcode"),
        ({"status": None}, "status"),
        ({"name": "Garage\u0000Nord"}, "name"),
    ],
)
async def test_patch_refuses_null_required_fields_and_control_chars(client, actors, body, field):
    staff = actors["staff"]
    org = (
        await client.post(
            "/api/organisations", json={**NEW, "siret": siret()}, headers=staff.headers
        )
    ).json()
    r = await client.patch(f"/api/organisations/{org['id']}", json=body, headers=staff.headers)
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"]


async def test_a_nul_in_a_search_is_a_422_not_a_500(client, actors):
    r = await client.get(
        "/api/organisations", params={"q": "a\x00b"}, headers=actors["staff"].headers
    )
    assert r.status_code == 422


async def test_what_decides_eligibility_and_shares_changes_through_the_staff(client, actors, db):
    """Issue 18, finding 1: a member rewrote its territory and headcount with a PATCH, joined
    a service reserved to another territory and cut its share of a bill. Now it proposes;
    staff approve or refuse; each change is audited, the pending proposal changes nothing."""
    member, staff = actors["member"], actors["staff"]
    url = f"/api/organisations/{member.organisation_id}"
    before = (await client.get(url, headers=member.headers)).json()
    for body in ({"territory": "Marseille Sud"}, {"headcount": 0}, {"name": "France Travail"}):
        r = await client.patch(url, json=body, headers=member.headers)
        assert r.status_code == 403, r.text
    r = await client.post(
        f"{url}/change-requests",
        json={"territory": "Marseille Sud", "headcount": 0, "reason": "déménagement"},
        headers=member.headers,
    )
    assert r.status_code == 201, r.text
    proposal = r.json()
    assert proposal["status"] == "pending" and proposal["changes"] == {
        "territory": "Marseille Sud",
        "headcount": 0,
    }
    assert (await client.get(url, headers=member.headers)).json() == before  # nothing yet

    # The member sees its own proposals; it cannot decide them.
    mine = await client.get("/api/organisation-changes", headers=member.headers)
    assert [c["id"] for c in mine.json()] == [proposal["id"]]
    decision = f"/api/organisation-changes/{proposal['id']}/decision"
    r = await client.post(decision, json={"approve": True}, headers=member.headers)
    assert r.status_code == 403
    r = await client.post(decision, json={"approve": True}, headers=staff.headers)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    after = (await client.get(url, headers=member.headers)).json()
    assert (after["territory"], after["headcount"]) == ("Marseille Sud", 0)
    r = await client.post(decision, json={"approve": False}, headers=staff.headers)
    assert r.status_code == 409 and "déjà été traitée" in r.json()["detail"]

    # Staff's own edit is audited like the approved proposal, field by field.
    r = await client.patch(url, json={"headcount": 9}, headers=staff.headers)
    assert r.status_code == 200
    audits = await db.fetch(
        "SELECT actor, data FROM audit_events WHERE action = 'organisation.updated' "
        "AND entity_id = $1 ORDER BY id",
        str(member.organisation_id),
    )
    changes = [_json(a["data"])["changes"] for a in audits]
    assert changes[0]["headcount"] == {"avant": before["headcount"], "après": 0}
    assert changes[0]["territory"]["après"] == "Marseille Sud"
    assert changes[-1] == {"headcount": {"avant": 0, "après": 9}}
    assert {a["actor"] for a in audits} == {str(staff.user_id)}


def _json(value):
    return value if isinstance(value, dict) else json.loads(value)
