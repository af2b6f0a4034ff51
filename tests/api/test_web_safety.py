"""What the pages and the docs send to a browser: links that stay on the site, no script
or style from another host."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import pytest

from api.deps import TOKEN_COOKIE

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
    member = actors["member"]
    client.cookies.set(TOKEN_COOKIE, member.token)
    try:
        # The body as a browser would send it: the trick percent-encoded once more.
        r = await client.post(
            f"/mes-taches/{uuid.uuid4()}",  # no such task: the error page with « Retour »
            content=f"request_id=r1&back={quote(back, safe='')}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    finally:
        client.cookies.clear()
    assert r.status_code == 404, r.text
    links = re.findall(r'<a href="([^"]*)">Retour</a>', r.text)
    assert links == ["/mes-taches"]
