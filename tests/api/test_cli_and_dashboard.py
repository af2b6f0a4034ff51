"""`relais user invite` and `relais token create` / `revoke`, and the dashboard's sign-in and
sign-out with a session, as a person uses them."""

from __future__ import annotations

import asyncio

import asyncpg

from relais.cli import main
from store.users import UserRepository
from tests.factories import siret


def _run(database_url: str, sql: str, *args):
    async def go():
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(go())


def _principal(database_url: str, token: str):
    async def go():
        conn = await asyncpg.connect(database_url)
        try:
            return await UserRepository(conn).principal_for_token(token)
        finally:
            await conn.close()

    return asyncio.run(go())


def test_invite_then_token_for_an_existing_user(db, database_url, monkeypatch, capsys):
    monkeypatch.setenv("RELAIS_DATABASE_URL", database_url)
    agency, bakery = siret(), siret()
    _run(
        database_url,
        "INSERT INTO organisations (id, kind, name, siret, postcode) VALUES "
        "(gen_random_uuid(), 'agency', 'Massajobs', $1, '13001'), "
        "(gen_random_uuid(), 'member', 'Boulangerie du Canet', $2, '13014')",
        agency,
        bakery,
    )
    spaced = f"{agency[:3]} {agency[3:]}"
    invite = ["user", "invite", "--dev", "--org", spaced, "--role", "agency"]
    assert main([*invite, "--email", "Julie.Morel@Example.fr", "--name", "Julie Morel"]) == 0
    assert "invitation envoyée à julie.morel@example.fr" in capsys.readouterr().out
    [user] = _run(database_url, "SELECT status, email FROM users WHERE name = 'Julie Morel'")
    assert (user["status"], user["email"]) == ("invited", "julie.morel@example.fr")
    [mail] = _run(
        database_url, "SELECT recipient, body, sealed_body FROM outbox WHERE recipient = $1",
        "julie.morel@example.fr",
    )  # fmt: skip
    assert "[lien personnel masqué]" in mail["body"] and "jeton=" not in mail["body"]
    assert mail["sealed_body"] is not None  # the real link, sealed until sent

    # Network roles are for the network's own people: a bakery's admin is refused.
    admin = ["user", "invite", "--dev", "--org", bakery, "--role", "admin"]
    assert main([*admin, "--email", "patron@example.fr", "--name", "Le patron"]) == 2
    assert "réservés aux personnes de l'association" in capsys.readouterr().err
    assert not _run(database_url, "SELECT 1 FROM users WHERE email = 'patron@example.fr'")

    # A token for an invited user is refused until the account is active.
    create = ["token", "create", "--dev", "--email", "julie.morel@example.fr"]
    assert main([*create, "--name", "Logiciel de l'agence"]) == 2
    assert "n'est pas actif" in capsys.readouterr().err
    _run(database_url, "UPDATE users SET status = 'active' WHERE name = 'Julie Morel'")
    assert main([*create, "--name", "Logiciel de l'agence", "--expires-days", "30"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "Massajobs" in out[0] and "Logiciel de l'agence" in out[0]
    principal = _principal(database_url, out[1])
    assert principal is not None and principal.role == "agency"
    [token] = _run(
        database_url,
        "SELECT id, expires_at, label FROM api_tokens WHERE label = 'Logiciel de l''agence'",
    )
    assert token["label"] == "Logiciel de l'agence" and token["expires_at"] is not None

    assert main(["token", "revoke", "--dev", str(token["id"])]) == 0
    assert _principal(database_url, out[1]) is None
    assert main(["token", "revoke", "--dev", str(token["id"])]) == 2
    assert main(["token", "create", "--dev", "--email", "x@example.fr", "--name", "X"]) == 2
    assert "aucun utilisateur" in capsys.readouterr().err


async def test_dashboard_session_sign_in_and_out(client, actors):
    r = await client.get("/tableau-de-bord")
    assert r.status_code == 303 and r.headers["location"] == "/connexion"
    client.cookies.set("relais_session", actors["manager"].session.secret)
    page = await client.get("/tableau-de-bord")
    assert page.status_code == 200 and "Tableau de bord" in page.text
    page = await client.get("/annuaire")
    assert "Boulangerie du Canet" in page.text and "Agence Nord" in page.text
    # Signing out ends the session: the same cookie opens nothing any more.
    out = await client.post("/deconnexion", data={"csrf": actors["manager"].session.csrf})
    assert out.status_code == 303 and out.headers["location"] == "/connexion?fin=1"
    client.cookies.set("relais_session", actors["manager"].session.secret)
    r = await client.get("/tableau-de-bord")
    assert r.status_code == 303 and r.headers["location"].startswith("/connexion")
    # A member's directory lists its own organisation only; the mail page is the network's.
    client.cookies.clear()
    client.cookies.set("relais_session", actors["member"].session.secret)
    page = await client.get("/annuaire")
    assert "Boulangerie du Canet" in page.text and "Agence Nord" not in page.text
    assert (await client.get("/boite-mail")).status_code == 403
