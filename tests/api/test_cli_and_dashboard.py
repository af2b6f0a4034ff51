"""`relais token create` and the dashboard's sign-in, as a person uses them."""

from __future__ import annotations

import asyncio
import html

import asyncpg

from relais.cli import main
from store.users import UserRepository
from tests.factories import siret


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
