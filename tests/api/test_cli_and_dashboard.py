"""`relais user invite` and `relais token create` / `revoke`, and the dashboard's sign-in and
sign-out with a session, as a person uses them."""

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
from tests.factories import make_org, make_user, session_for, siret


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
    member = Actor(user_id, org.id, token, await session_for(db, user_id))
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
    assert member.session is not None
    r = await client.post(
        f"/mes-taches/{task['id']}",
        data={"csrf": member.session.csrf},
        files={"request_id": ("cv.pdf", b"%PDF-1.4 " * 100, "application/pdf")},
        headers=member.session.headers,
    )
    assert r.status_code == 422 and "text/html" in r.headers["content-type"], r.text
    assert "Action non enregistrée" in html.unescape(r.text)
    assert (await client.get(f"/api/tasks/{task['id']}", headers=member.headers)).json()[
        "closed_at"
    ] is None


async def test_the_mail_page_shows_the_outbox_a_page_at_a_time(client, actors, db):
    """Issue 16: the mail page reread the whole mailbox; the outbox is read a page at a time,
    newest first, with a link to the older ones."""
    from domain.processes import OutboxMessage
    from store.processes import ProcessRepository

    async with db.acquire() as c:
        for i in range(60):
            await ProcessRepository(c).enqueue(
                OutboxMessage(
                    dedup_key=f"test:{i}", recipient="a@example.fr", subject=f"Mail {i:02d}",
                    body="—", workflow_id=None,
                )
            )  # fmt: skip
    session = actors["staff"].session
    assert session is not None
    first = await client.get("/boite-mail", headers=session.headers)
    assert first.status_code == 200 and first.text.count("<td>Mail ") == 50
    assert "Mail 59" in first.text and "Mail 09" not in first.text
    assert 'href="/boite-mail?offset=50"' in first.text
    older = await client.get("/boite-mail?offset=50", headers=session.headers)
    assert older.text.count("<td>Mail ") == 10 and "Mail 00" in older.text
    assert "plus anciens" not in older.text
