"""`relais token create` and the dashboard's sign-in, as a person uses them."""

from __future__ import annotations

import asyncio
import html

import asyncpg

from api.pages.dashboard import form_data
from domain.auth import Role
from domain.organisations import OrganisationStatus
from relais.cli import main
from store.users import UserRepository
from tests.api.conftest import Actor
from tests.factories import make_org, make_user, siret


def test_token_create_by_siret_gives_a_working_token(database_url, monkeypatch, capsys):
    monkeypatch.setenv("RELAIS_DATABASE_URL", database_url)
    s = siret()

    async def setup_and_check(token: str | None):
        conn = await asyncpg.connect(database_url)
        try:
            if token is None:
                await conn.execute(
                    "INSERT INTO organisations (id, kind, name, siret, postcode) "
                    "VALUES (gen_random_uuid(), 'agency', 'Massajobs', $1, '13001')",
                    s,
                )
                return None
            return await UserRepository(conn).principal_for_token(token)
        finally:
            await conn.close()

    asyncio.run(setup_and_check(None))
    spaced = f"{s[:3]} {s[3:]}"
    assert (
        main(
            [
                "token",
                "create",
                "--dev",
                "--org",
                spaced,
                "--role",
                "agency",
                "--name",
                "Julie Morel",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert "Massajobs" in out[0]
    principal = asyncio.run(setup_and_check(out[1]))
    assert principal is not None and principal.role == "agency"

    assert (
        main(
            [
                "token",
                "create",
                "--dev",
                "--org",
                "00000000000000",
                "--role",
                "staff",
                "--name",
                "X",
            ]
        )
        == 2
    )
    assert "introuvable" in capsys.readouterr().err


async def test_dashboard_sign_in_and_out(client, actors):
    r = await client.get("/tableau-de-bord")
    assert r.status_code == 303 and r.headers["location"] == "/connexion"
    r = await client.post("/connexion", data={"token": "rl_wrong"})
    assert r.headers["location"] == "/connexion?erreur=1"
    r = await client.post("/connexion", data={"token": actors["manager"].token})
    assert r.status_code == 303 and r.headers["location"] == "/tableau-de-bord"
    page = await client.get("/tableau-de-bord")
    assert page.status_code == 200 and "Tableau de bord" in page.text
    page = await client.get("/annuaire")
    assert "Boulangerie du Canet" in page.text and "Agence Nord" in page.text
    # A member's directory lists its own organisation only; the mail page is the network's.
    client.cookies.clear()
    await client.post("/connexion", data={"token": actors["member"].token})
    page = await client.get("/annuaire")
    assert "Boulangerie du Canet" in page.text and "Agence Nord" not in page.text
    assert (await client.get("/boite-mail")).status_code == 403


async def test_an_unknown_page_and_an_unknown_route_answer_in_french(client, actors):
    page = await client.get("/nulle-part", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "<h1>Page introuvable</h1>" in page.text and "n'existe pas" in html.unescape(page.text)
    api = await client.get("/api/nulle-part", headers=actors["staff"].headers)
    assert api.status_code == 404 and api.json() == {"detail": "Cette page n'existe pas (ou plus)."}
    wrong = await client.put("/api/me", headers=actors["staff"].headers)
    assert (
        wrong.status_code == 405
        and wrong.json()["detail"] == "Cette adresse ne s'utilise pas ainsi."
    )


def test_a_renewal_budget_that_is_not_an_amount_is_left_to_the_model():
    for bad in ("inf", "-inf", "nan", "1e400", "beaucoup"):
        data = form_data(
            "decide_convention",
            {"choice": "renew", "starts_on": "2027-01-01", "annual_budget_euros": bad},
        )
        assert data["renew"]["annual_budget_cents"] == bad  # the model's 422, not a 500
    data = form_data("decide_convention", {"choice": "renew", "annual_budget_euros": "1 234,5"})
    assert data["renew"]["annual_budget_cents"] == 123_450


async def test_a_file_or_an_infinite_budget_in_a_task_form_is_a_sentence_not_a_500(
    client, actors, db
):
    """Issue 18, finding 7: a multipart file in a task field ('UploadFile' object has no
    attribute 'strip') and `annual_budget_euros=inf` in the renewal form answered 500."""
    org = await make_org(db, name="Pressing du Merlan", status=OrganisationStatus.PENDING)
    user_id, token = await make_user(db, org.id, Role.MEMBER)
    member = Actor(user_id, org.id, token)
    r = await client.post(
        "/api/onboardings",
        json={
            "organisation_id": str(org.id),
            "contact_name": "Awa Diallo",
            "contact_email": "awa@example.fr",
        },
        headers=actors["staff"].headers,
    )
    assert r.status_code == 202, r.text
    for _ in range(100):
        tasks = (await client.get("/api/tasks", headers=member.headers)).json()
        if tasks:
            break
        await asyncio.sleep(0.1)
    [task] = tasks
    r = await client.post(
        f"/mes-taches/{task['id']}",
        files={"request_id": ("cv.pdf", b"%PDF-1.4 " * 100, "application/pdf")},
        headers=member.page_headers,
    )
    assert r.status_code == 422 and "text/html" in r.headers["content-type"], r.text
    assert "Action non enregistrée" in html.unescape(r.text)
    assert (await client.get(f"/api/tasks/{task['id']}", headers=member.headers)).json()[
        "closed_at"
    ] is None
