"""People through the app as browsers use it: an invitation by mail, signing in by a link or a
password (the same answer for an unknown address, rate limits), sessions that expire, end and
return to the page asked for, disabling at once, API tokens from « Mon compte », mail about
tasks, forged forms refused, the headers of every page, no secret in the logs."""

from __future__ import annotations

import asyncio
import html
import logging
import re
import uuid

import pytest

from api.commands.people import LINK_REFUSALS, WRONG_PASSWORD
from api.pages.people import LINK_SENT
from domain.auth import Role
from domain.organisations import OrganisationStatus
from domain.people import SessionMethod
from store.sessions import LinkRefusal
from tests.api.conftest import browser, csrf_of, link_in
from tests.api.test_object_access import DIGEST, TABLES
from tests.factories import make_org, make_user, onboarding_input, session_for
from workflows.onboarding import start_onboarding


def _t(r) -> str:
    """A page's text as a person reads it (entities decoded)."""
    return html.unescape(r.text)


async def _signed_in_as(client, session) -> object:
    b = browser(client)
    b.cookies.update(session.cookies)
    return b


async def _digest(db) -> list:
    return [
        (name, await db.fetchval(DIGEST.format(name)))
        for name in [r[0] for r in await db.fetch(TABLES)]
    ]


async def _ask_link(b, email: str, suite: str = "") -> object:
    page = await b.get("/connexion")
    data = {"email": email, "csrf": csrf_of(page.text)}
    if suite:
        data["suite"] = suite
    return await b.post("/connexion/demande-lien", data=data)


async def _open_link(b, path: str) -> object:
    page = await b.get(path)
    assert page.status_code == 200, page.text
    token = path.split("jeton=", 1)[1]
    return await b.post("/connexion/lien", data={"jeton": token, "csrf": csrf_of(page.text)})


async def test_an_invited_person_activates_their_account_from_the_mail(client, actors, db, mailbox):
    staff = await _signed_in_as(client, actors["staff"].session)
    page = await staff.get("/utilisateurs")
    assert page.status_code == 200 and "Inviter une personne" in page.text
    body = {
        "name": "Inès Garnier",
        "email": "Ines.Garnier@Example.fr",
        "organisation_id": str(actors["member"].organisation_id),
        "role": "member",
        "csrf": csrf_of(page.text),
    }
    r = await staff.post("/utilisateurs", data=body)
    assert r.status_code == 303, r.text
    listed = _t(await staff.get(r.headers["location"]))
    assert "Invitation envoyée à ines.garnier@example.fr" in listed
    assert "invité, pas encore venu" in listed
    # The outbox shows the mail with its link masked; the sent mail carries it.
    row = await db.fetchrow("SELECT body, sealed_body FROM outbox")
    assert "[lien personnel masqué]" in row["body"] and "jeton" not in row["body"]
    [mail] = await mailbox.to("ines.garnier@example.fr")
    assert mail.subject == "Votre accès à Relais" and "Bonjour Inès Garnier" in mail.body
    assert await db.fetchval("SELECT sealed_body FROM outbox") is None  # forgotten once sent

    ines = browser(client)
    link = link_in(mail)
    page = await ines.get(link)
    assert "Activer mon compte" in page.text and page.headers["referrer-policy"] == "no-referrer"
    r = await _open_link(ines, link)
    assert r.status_code == 303 and r.headers["location"] == "/tableau-de-bord"
    account = await ines.get("/mon-compte")
    assert "Inès Garnier" in account.text and ">actif<" in account.text
    assert await db.fetchval(
        "SELECT status FROM users WHERE email = 'ines.garnier@example.fr'"
    ) == ("active")
    # The same link again, in another browser: refused, in French.
    again = browser(client)
    r = await again.get(link)
    assert r.status_code == 401 and LINK_REFUSALS[LinkRefusal.USED] in _t(r)
    # The same address cannot be invited twice.
    page = await staff.get("/utilisateurs")
    r = await staff.post("/utilisateurs", data={**body, "csrf": csrf_of(page.text)})
    assert r.status_code == 409 and "Un compte existe déjà" in _t(r)


async def test_network_roles_stay_in_the_network_and_members_invite_their_colleagues(
    client, actors, db
):
    staff = await _signed_in_as(client, actors["staff"].session)
    page = await staff.get("/utilisateurs")
    r = await staff.post(
        "/utilisateurs",
        data={
            "name": "Le patron",
            "email": "patron@example.fr",
            "organisation_id": str(actors["member"].organisation_id),
            "role": "admin",
            "csrf": csrf_of(page.text),
        },
    )
    assert r.status_code == 403 and "réservés aux personnes de l" in _t(r)
    member = await _signed_in_as(client, actors["member"].session)
    page = await member.get("/utilisateurs")
    assert "Inviter un ou une collègue" in _t(page) and 'name="role"' not in page.text
    csrf = csrf_of(page.text)
    refused = await member.post(
        "/utilisateurs",
        data={"name": "Intrus", "email": "i@example.fr", "role": "staff", "csrf": csrf},
    )
    assert refused.status_code == 403 and "votre propre rôle" in _t(refused)
    ok = await member.post(
        "/utilisateurs", data={"name": "Paul Castel", "email": "paul@example.fr", "csrf": csrf}
    )
    assert ok.status_code == 303, ok.text
    row = await db.fetchrow(
        "SELECT organisation_id, role FROM users WHERE email = 'paul@example.fr'"
    )
    assert (row["organisation_id"], row["role"]) == (actors["member"].organisation_id, "member")
    # A member sees its own organisation's people only, and cannot disable anyone.
    listed = _t(await member.get("/utilisateurs"))
    assert "Paul Castel" in listed and "Réseau Nord" not in listed and "Désactiver" not in listed


async def test_a_sign_in_link_says_the_same_for_an_unknown_address_and_is_rate_limited(
    client, actors, db, mailbox
):
    await db.execute(
        "UPDATE users SET email = 'karim@example.fr' WHERE id = $1", actors["member"].user_id
    )
    b = browser(client)
    known = await _ask_link(b, "karim@example.fr", suite="/processus?process=referral")
    unknown = await _ask_link(b, "personne@example.fr")
    assert known.status_code == unknown.status_code == 200
    assert LINK_SENT in _t(known) and LINK_SENT in _t(unknown)
    [mail] = await mailbox.deliver()
    assert mail.to == "karim@example.fr" and "valable 15 minutes" in mail.body
    r = await _open_link(b, link_in(mail))
    assert r.status_code == 303 and r.headers["location"] == "/processus?process=referral"

    # Per address: the sixth request within 15 minutes is refused, known address or not.
    other = browser(client)
    for _ in range(4):
        assert (await _ask_link(other, "karim@example.fr")).status_code == 200
    refused = await _ask_link(other, "karim@example.fr")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "Trop de liens demandés pour cette adresse : réessayez dans" in _t(refused)
    assert len(await mailbox.to("karim@example.fr")) == 5
    # Per client: 30 requests, whatever the addresses.
    for i in range(24):
        assert (await _ask_link(other, f"x{i}@example.fr")).status_code == 200
    refused = await _ask_link(other, "y@example.fr")
    assert refused.status_code == 429 and "depuis ce poste" in _t(refused)


async def test_a_password_set_on_my_account_signs_in_with_one_sentence_for_every_refusal(
    client, actors, db
):
    await db.execute(
        "UPDATE users SET email = 'karim@example.fr' WHERE id = $1", actors["member"].user_id
    )
    me = await _signed_in_as(client, actors["member"].session)  # opened by a link just now
    other = await session_for(db, actors["member"].user_id, SessionMethod.PASSWORD)
    page = await me.get("/mon-compte")
    short = await me.post(
        "/mon-compte/mot-de-passe", data={"password": "court", "csrf": csrf_of(page.text)}
    )
    assert short.status_code == 422 and "au moins 12 caractère(s)" in _t(short)
    r = await me.post(
        "/mon-compte/mot-de-passe",
        data={"password": "un très long secret", "csrf": csrf_of(page.text)},
    )
    assert r.status_code == 303, r.text
    # The person's other sessions end: this one only is left.
    left = "SELECT count(*) FROM sessions WHERE user_id = $1"
    assert await db.fetchval(left, actors["member"].user_id) == 1
    gone = await _signed_in_as(client, other)
    assert (await gone.get("/tableau-de-bord")).status_code == 303

    b = browser(client)
    page = await b.get("/connexion")
    csrf = csrf_of(page.text)
    answers = []
    for email, password in (
        ("karim@example.fr", "mauvais mot de passe"),
        ("personne@example.fr", "un très long secret"),
    ):
        r = await b.post(
            "/connexion/mot-de-passe", data={"email": email, "password": password, "csrf": csrf}
        )
        answers.append((r.status_code, WRONG_PASSWORD in _t(r)))
    assert answers == [(401, True), (401, True)]
    r = await b.post(
        "/connexion/mot-de-passe",
        data={"email": "KARIM@example.fr", "password": "un très long secret", "csrf": csrf},
    )
    assert r.status_code == 303 and "relais_session" in r.headers["set-cookie"]
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    # Changing it now asks for the current one (a password session, not a fresh link).
    page = await b.get("/mon-compte")
    r = await b.post(
        "/mon-compte/mot-de-passe",
        data={"password": "encore un autre secret", "current": "faux", "csrf": csrf_of(page.text)},
    )
    assert r.status_code == 422 and "mot de passe actuel" in _t(r)
    # Ten wrong passwords for an address: the eleventh try is refused, even the right one.
    for _ in range(8):
        await b.post(
            "/connexion/mot-de-passe",
            data={"email": "karim@example.fr", "password": "non", "csrf": csrf},
        )
    r = await b.post(
        "/connexion/mot-de-passe",
        data={"email": "karim@example.fr", "password": "un très long secret", "csrf": csrf},
    )
    assert r.status_code == 429 and r.headers["retry-after"]
    assert "Trop d'essais de mot de passe pour cette adresse" in _t(r)


async def test_an_expired_session_says_so_and_sign_in_returns_to_the_page(
    client, actors, db, mailbox
):
    await db.execute(
        "UPDATE users SET email = 'karim@example.fr' WHERE id = $1", actors["member"].user_id
    )
    b = await _signed_in_as(client, actors["member"].session)
    assert (await b.get("/mes-taches")).status_code == 200
    await db.execute("UPDATE sessions SET last_seen_at = now() - interval '9 hours'")
    r = await b.get("/processus?process=referral")
    assert r.status_code == 303
    assert r.headers["location"] == "/connexion?suite=%2Fprocessus%3Fprocess%3Dreferral&expiree=1"
    page = await b.get(r.headers["location"])
    assert "Votre session a expiré" in _t(page)
    assert 'name="suite" value="/processus?process=referral"' in page.text
    await b.post(
        "/connexion/demande-lien",
        data={"email": "karim@example.fr", "suite": "/processus?process=referral",
              "csrf": csrf_of(page.text)},
    )  # fmt: skip
    [mail] = await mailbox.deliver()
    r = await _open_link(b, link_in(mail))
    assert r.headers["location"] == "/processus?process=referral"
    # Never elsewhere than Relais.
    page = await b.get("/connexion?suite=//ailleurs.example/piege")
    assert "ailleurs" not in page.text


async def test_a_disabled_users_sessions_and_tokens_are_refused_at_once(client, actors, db):
    member = actors["member"]
    b = await _signed_in_as(client, member.session)
    assert (await b.get("/tableau-de-bord")).status_code == 200
    assert (await client.get("/api/me", headers=member.headers)).status_code == 200
    staff = await _signed_in_as(client, actors["staff"].session)
    page = await staff.get("/utilisateurs")
    r = await staff.post(
        f"/utilisateurs/{member.user_id}/desactivation", data={"csrf": csrf_of(page.text)}
    )
    assert r.status_code == 303, r.text
    assert (await b.get("/tableau-de-bord")).status_code == 303
    r = await client.get("/api/me", headers=member.headers)
    assert r.status_code == 401 and r.json()["detail"] == "Jeton inconnu, expiré ou révoqué."
    assert (
        await db.fetchval("SELECT count(*) FROM sessions WHERE user_id = $1", member.user_id) == 0
    )
    # Staff cannot disable an admin, nor anyone themselves.
    for target in (actors["admin"], actors["staff"]):
        r = await staff.post(
            f"/utilisateurs/{target.user_id}/desactivation", data={"csrf": csrf_of(page.text)}
        )
        assert r.status_code in (403, 409), r.text
    assert await db.fetchval("SELECT count(*) FROM users WHERE status = 'disabled'") == 1


async def test_api_tokens_from_my_account_shown_once_and_revocable(client, actors, db):
    b = await _signed_in_as(client, actors["agency"].session)
    page = await b.get("/mon-compte")
    r = await b.post(
        "/mon-compte/jetons",
        data={"name": "Logiciel de l'agence", "expires_in_days": "30", "csrf": csrf_of(page.text)},
    )
    assert r.status_code == 200 and "il ne sera plus jamais affiché" in _t(r)
    token = r.text.split('<code class="secret">', 1)[1].split("</code>", 1)[0]
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["id"] == str(actors["agency"].user_id)
    page = await b.get("/mon-compte")
    assert token not in page.text and "Logiciel de l'agence" in _t(page)
    row = await db.fetchrow(
        "SELECT id, last_used_at, expires_at - created_at AS life FROM api_tokens WHERE label = $1",
        "Logiciel de l'agence",
    )
    assert row["last_used_at"] is not None and 29 <= row["life"].days <= 30
    r = await b.post(
        f"/mon-compte/jetons/{row['id']}/revocation", data={"csrf": csrf_of(page.text)}
    )
    assert r.status_code == 303
    assert (
        await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401


async def test_my_sessions_list_and_end(client, actors, db):
    me = actors["manager"]
    other = await session_for(db, me.user_id)
    b = await _signed_in_as(client, me.session)
    page = await b.get("/mon-compte")
    assert page.text.count("/fin") == 2 and "celle-ci" in page.text
    other_id = await db.fetchval(
        "SELECT id FROM sessions WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1", me.user_id
    )
    r = await b.post(f"/mon-compte/sessions/{other_id}/fin", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    assert (await (await _signed_in_as(client, other)).get("/mon-compte")).status_code == 303
    assert (await b.get("/mon-compte")).status_code == 200
    # Another person's session is as unknown as a missing one.
    theirs = await db.fetchval(
        "SELECT id FROM sessions WHERE user_id = $1", actors["staff"].user_id
    )
    r = await b.post(f"/mon-compte/sessions/{theirs}/fin", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 404 and "Session introuvable" in _t(r)


async def test_a_task_mails_the_person_who_must_act_with_a_link_to_it(
    client, actors, db, dev_env, api_settings, mailbox
):
    newcomer = await make_org(db, name="Pressing Saint-Louis", status=OrganisationStatus.PENDING)
    user, _ = await make_user(
        db, newcomer.id, Role.MEMBER, email="leila@example.fr", name="Leïla Amrani"
    )
    await start_onboarding(
        dev_env.client, api_settings.task_queue, onboarding_input(newcomer.id, "contact@p.fr")
    )
    for _ in range(100):
        mails = await mailbox.to("leila@example.fr")
        if mails:
            break
        await asyncio.sleep(0.1)
    [mail] = mails
    assert mail.subject.startswith("À faire : ") and "Bonjour Leïla Amrani" in mail.body
    link = link_in(mail)
    assert link.startswith("/mes-taches/")
    b = await _signed_in_as(client, await session_for(db, user))
    page = await b.get(link)
    assert page.status_code == 200 and "Accepter la charte" in page.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    data = {"csrf": csrf_of(page.text), **({"request_id": request_id[1]} if request_id else {})}
    r = await b.post(link, data=data)
    assert r.status_code == 303, r.text
    assert (
        await db.fetchval("SELECT count(*) FROM outbox WHERE recipient = 'leila@example.fr'") == 1
    )  # once per task and person


async def test_forged_forms_are_refused_and_change_nothing(client, actors, db):
    staff = actors["staff"]
    b = await _signed_in_as(client, staff.session)
    before = await _digest(db)
    forged = [
        # A page of another site posting with the staff's cookie.
        ("/mes-taches/" + str(uuid.uuid4()), {"csrf": staff.session.csrf},
         {"Origin": "http://piege.example", "Sec-Fetch-Site": "cross-site"}),
        # Another port of the same host (same site, another origin), without the token.
        ("/utilisateurs", {"email": "x@example.fr", "name": "X", "organisation_id":
         str(staff.organisation_id), "role": "admin"},
         {"Origin": "http://test:8081", "Sec-Fetch-Site": "same-site"}),
        # Same site, no token at all.
        ("/utilisateurs", {"email": "x@example.fr", "name": "X"}, {}),
        # A wrong token.
        ("/utilisateurs", {"email": "x@example.fr", "name": "X", "csrf": "faux"}, {}),
        # The JSON API never takes the cookie: a form-encoded post with it.
        ("/api/services/conciergerie/withdraw", {"reason": "x"}, {}),
        ("/deconnexion", {}, {"Origin": "http://piege.example"}),
    ]  # fmt: skip
    for url, data, headers in forged:
        r = await b.post(url, data=data, headers=headers)
        assert r.status_code == 403, (url, r.status_code, r.text[:200])
        assert "Formulaire refusé" in _t(r)
    # The JSON API with the cookie alone (JSON, no token): not signed in.
    r = await b.post("/api/services/conciergerie/withdraw", json={"reason": "x"})
    assert r.status_code in (401, 403)
    assert await _digest(db) == before
    assert (await b.get("/tableau-de-bord")).status_code == 200  # still signed in

    # Login CSRF: another site's form signing the browser into someone's account.
    fresh = browser(client)
    for headers, data in (
        ({"Origin": "http://piege.example"}, {"email": "a@example.fr", "password": "x" * 12}),
        ({}, {"email": "a@example.fr", "password": "x" * 12}),  # no pre-session cookie
    ):
        r = await fresh.post("/connexion/mot-de-passe", data=data, headers=headers)
        assert r.status_code == 403, r.text
    assert await _digest(db) == before


PAGES = [
    "/connexion",
    "/tableau-de-bord",
    "/processus",
    "/mes-taches",
    "/annuaire",
    "/utilisateurs",
    "/mon-compte",
    "/boite-mail",
]


async def test_every_page_carries_the_security_headers(client, actors):
    b = await _signed_in_as(client, actors["staff"].session)
    for path in [*PAGES, "/docs", "/openapi.json", "/health", "/api/me"]:
        r = await (b.get(path) if path != "/api/me" else client.get(path))
        h = r.headers
        csp = h["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp, path
        assert h["x-content-type-options"] == "nosniff", path
        assert h["referrer-policy"] in ("same-origin", "no-referrer"), path
        assert h["cache-control"] == "no-store", path
        assert "strict-transport-security" not in h  # dev mode: plain http
    docs = await b.get("/docs")
    assert "'sha256-" in docs.headers["content-security-policy"]
    static = await b.get("/static/relais.css")
    assert static.headers.get("cache-control") != "no-store"
    assert "frame-ancestors 'none'" in static.headers["content-security-policy"]
    # No page carries an inline script or style.
    for path in PAGES:
        text = (await b.get(path)).text
        assert "<script" not in text and "style=" not in text and "javascript:" not in text


async def test_no_token_link_password_or_session_in_the_logs(client, actors, db, mailbox, caplog):
    await db.execute(
        "UPDATE users SET email = 'karim@example.fr' WHERE id = $1", actors["member"].user_id
    )
    caplog.set_level(logging.DEBUG)
    b = browser(client)
    await _ask_link(b, "karim@example.fr")
    [mail] = await mailbox.deliver()
    link = link_in(mail)
    await _open_link(b, link)
    session = b.cookies["relais_session"]
    page = await b.get("/mon-compte")
    await b.post(
        "/mon-compte/mot-de-passe",
        data={"password": "phrase secrète du test", "csrf": csrf_of(page.text)},
    )
    await b.post(
        "/connexion/mot-de-passe",
        data={"email": "karim@example.fr", "password": "phrase secrète du test",
              "csrf": csrf_of(page.text)},
    )  # fmt: skip
    logging.getLogger("uvicorn.access").warning('127.0.0.1 - "GET %s HTTP/1.1" 200', link)
    text = "\n".join(r.getMessage() + " " + str(r.__dict__) for r in caplog.records)
    secret = link.split("jeton=", 1)[1]
    assert "signed in" in text  # the logs do say what happened, by ids
    for leaked in (secret, session, "phrase secrète du test", actors["member"].token):
        assert leaked not in _formatted(caplog), leaked[:8]


def _formatted(caplog) -> str:
    """The log lines as the process writes them (structlog's formatter, secrets masked)."""
    handler = logging.getLogger().handlers[0]
    return "\n".join(handler.format(r) for r in caplog.records)


@pytest.mark.parametrize("dev", [True, False])
def test_cookies_outside_dev_mode_are_secure_and_host_only(dev, settings):
    from fastapi import Response

    from api.security import session_cookie, set_session_cookie

    s = settings.model_copy(update={"dev_mode": dev})
    response = Response()
    set_session_cookie(response, s, "secret")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("relais_session=" if dev else "__Host-relais_session=")
    assert ("Secure" in cookie) is (not dev) and "HttpOnly" in cookie and "Path=/" in cookie
    assert session_cookie(s) in cookie


async def test_hsts_outside_dev_mode(settings):
    from api.security import SecurityHeaders

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent = []

    async def send(message):
        sent.append(message)

    for dev in (True, False):
        sent.clear()
        guard = SecurityHeaders(app, settings.model_copy(update={"dev_mode": dev}))
        await guard({"type": "http", "path": "/", "headers": []}, None, send)
        names = {k for k, _ in sent[0]["headers"]}
        assert (b"strict-transport-security" in names) is (not dev)


async def test_a_session_cookie_alone_opens_no_json_route(client, actors):
    """The JSON API takes bearer tokens only: with the session cookie, every operation
    answers as for an anonymous caller."""
    paths = (await client.get("/openapi.json")).json()["paths"]
    b = await _signed_in_as(client, actors["admin"].session)
    for path, ops in paths.items():
        if path in ("/health", "/health/live", "/health/ready", "/metrics"):
            continue  # anyone's
        url = path.replace("{code}", "x")
        for name in ("organisation_id", "campaign_id", "referral_id", "request_id", "pool_id",
                     "resource_id", "reservation_id", "convention_id", "visit_id",
                     "project_id", "workflow_id", "task_id", "change_id"):  # fmt: skip
            url = url.replace("{" + name + "}", str(uuid.uuid4()))
        for method in ops:
            if method.upper() == "GET":
                r = await b.get(url)
                assert r.status_code == 401, (method, path, r.status_code)


async def test_my_mail_preference_and_name(client, actors, db):
    me = actors["agency"]
    b = await _signed_in_as(client, me.session)
    page = await b.get("/mon-compte")
    assert 'value="immediate" checked' in page.text
    r = await b.post("/mon-compte/preference", data={"notify": "daily", "csrf": csrf_of(page.text)})
    assert r.status_code == 303
    page = await b.get(r.headers["location"])
    assert "Préférence de courriel enregistrée" in _t(page) and 'value="daily" checked' in page.text
    r = await b.post(
        "/mon-compte/preference", data={"notify": "jamais", "csrf": csrf_of(page.text)}
    )
    assert r.status_code == 422 and "notify" in _t(r)
    r = await b.post("/mon-compte/nom", data={"name": "Julie Morel", "csrf": csrf_of(page.text)})
    assert r.status_code == 303
    row = await db.fetchrow("SELECT notify, name FROM users WHERE id = $1", me.user_id)
    assert (row["notify"], row["name"]) == ("daily", "Julie Morel")


async def test_in_a_large_directory_the_invited_persons_organisation_is_found_by_name(
    client, actors, db, monkeypatch
):
    """Past a few hundred organisations the invitation asks for the organisation's name,
    commune or SIRET: none found is said beside the field, several are listed to choose
    from (with their kind), what was typed stays; one found is the one."""
    monkeypatch.setattr("api.pages.picker.PICK_MAX", 1)
    other = await make_org(db, name="Boulangerie des Aygalades")
    staff = await _signed_in_as(client, actors["staff"].session)
    page = (await staff.get("/utilisateurs")).text
    assert 'name="organisation_id_texte"' in page and '<select id="invite-org"' not in page
    body = {
        "name": "Inès Garnier",
        "email": "ines.garnier@example.fr",
        "organisation_id_texte": "Fromagerie",
        "role": "member",
        "csrf": csrf_of(page),
    }
    r = await staff.post("/utilisateurs", data=body)
    assert r.status_code == 422
    assert "aucune organisation ne correspond à « Fromagerie »" in _t(r)
    assert 'value="Inès Garnier"' in _t(r) and 'value="ines.garnier@example.fr"' in r.text
    assert re.search(r'<option value="member" selected>', r.text)
    # A search nothing can match (a forged control character) is said the same way.
    r = await staff.post("/utilisateurs", data={**body, "organisation_id_texte": "Four\x00"})
    assert r.status_code == 422 and "aucune organisation ne correspond" in _t(r)

    r = await staff.post("/utilisateurs", data={**body, "organisation_id_texte": "boulangerie"})
    assert r.status_code == 422 and "2 organisations correspondent" in _t(r)
    choices = re.findall(r'name="organisation_id" value="([^"]+)"> ([^<(]+)', _t(r))
    assert {name.strip() for _, name in choices} == {
        "Boulangerie du Canet",
        "Boulangerie des Aygalades",
    }
    assert "entreprise membre, SIRET" in _t(r)
    # The person picks one: invited into that organisation.
    picked = {**body, "organisation_id_texte": "boulangerie", "organisation_id": str(other.id)}
    r = await staff.post("/utilisateurs", data={**picked, "csrf": csrf_of(r.text)})
    assert r.status_code == 303, _t(r)[:3000]
    row = await db.fetchrow("SELECT organisation_id, role FROM users WHERE name = 'Inès Garnier'")
    assert (row["organisation_id"], row["role"]) == (other.id, "member")

    # One match is the organisation at once.
    r = await staff.post(
        "/utilisateurs",
        data={
            **body,
            "name": "Hugo Ferrand",
            "email": "hugo@example.fr",
            "organisation_id_texte": "agence",
            "role": "agency",
        },
    )
    assert r.status_code == 303, _t(r)[:3000]
    row = await db.fetchrow("SELECT organisation_id FROM users WHERE email = 'hugo@example.fr'")
    assert row["organisation_id"] == actors["agency"].organisation_id
