"""What the pages and the docs send to a browser: links that stay on the site, no script
or style from another host."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import pytest

from domain.auth import Role
from domain.organisations import OrganisationKind
from tests.factories import make_org, make_user, session_for

TRICKS = [
    "/%09/evil.example/x",  # sent as such in the form: the page gets "/\t/evil.example/x"
    "//evil.example/x",
    "/\\evil.example/x",
    "/%5Cevil.example/x",
    "/%2F%2Fevil.example/x",
    "%2F%2Fevil.example",
    "https://evil.example/x",
    "/\r\n/evil.example",
]


@pytest.mark.parametrize("back", TRICKS)
async def test_the_retour_link_never_leaves_the_site(client, actors, back):
    session = actors["member"].session
    assert session is not None
    # The body as a browser would send it: the trick percent-encoded once more.
    r = await client.post(
        f"/mes-taches/{uuid.uuid4()}",  # no such task: the error page with « Retour »
        content=f"csrf={session.csrf}&request_id=r1&back={quote(back, safe='')}",
        headers={"Content-Type": "application/x-www-form-urlencoded", **session.headers},
    )
    assert r.status_code == 404, r.text
    links = re.findall(r'<a href="([^"]*)">Retour</a>', r.text)
    assert links == ["/mes-taches"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_api_docs_load_nothing_from_another_host(client, page):
    r = await client.get(page)
    assert r.status_code == 200
    assert not re.findall(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", r.text), r.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//")
        served = await client.get(asset)
        assert served.status_code == 200 and len(served.content) > 100, asset
    if page == "/docs":
        assert '"validatorUrl": null' in r.text  # no spec sent to validator.swagger.io


async def test_a_refusal_a_page_lets_through_is_a_french_page_not_json(client, actors):
    """A page's own input checked by the framework (a list's offset) or a domain error no
    page caught answers the person's browser in French on a page, not with the JSON meant
    for programs; the JSON API still answers JSON."""
    session = actors["staff"].session
    assert session is not None
    headers = {"Accept": "text/html", **session.headers}
    r = await client.get("/campagnes?offset=beaucoup", headers=headers)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "<h1>" in r.text and '"detail"' not in r.text
    r = await client.get("/api/campaigns?offset=beaucoup", headers=actors["staff"].headers)
    assert r.status_code == 422 and r.json()["detail"]


async def test_the_orders_menu_is_for_providers_only(client, actors, db):
    """« Commandes » is a provider's page: a chamber's adviser (a partner too) does not see
    it in the menu; the provider does."""
    provider = await make_org(db, OrganisationKind.PROVIDER, name="Nettoyage du Nord")
    user_id, _ = await make_user(db, provider.id, Role.PARTNER)
    session = await session_for(db, user_id)
    r = await client.get("/tableau-de-bord", headers=session.headers)
    assert r.status_code == 200 and 'href="/commandes"' in r.text
    adviser = actors["partner"].session
    assert adviser is not None
    r = await client.get("/tableau-de-bord", headers=adviser.headers)
    assert r.status_code == 200 and 'href="/commandes"' not in r.text


async def test_a_program_with_its_token_gets_json_refusals_from_a_printable(client, actors):
    """A printable page's CSV fetched by a script with its token: a refusal is JSON, as the
    API's; the same refusal in a browser is a page."""
    url = f"/campagnes/{uuid.uuid4()}/bilan.csv"
    r = await client.get(url, headers=actors["staff"].headers)
    assert r.status_code == 404 and r.json()["detail"]
    session = actors["staff"].session
    assert session is not None
    r = await client.get(url, headers={"Accept": "text/html", **session.headers})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
