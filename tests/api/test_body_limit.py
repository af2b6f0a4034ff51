"""Request bodies are limited before anything reads them: before parsing, before
authentication. What is measured here is the bytes the app pulled from the server (the ASGI
`receive` calls), counted by the body generator itself: a 100 MB body is refused with 413
after at most the limit and one chunk, and at once when its Content-Length says so.
(tests/system/test_api_fuzz.py measures the process's memory under the same bodies.)"""

from __future__ import annotations

import pytest

from api.limits import DEFAULT_LIMIT

MB = 1024 * 1024
CHUNK = 64 * 1024


class Body:
    """100 MB produced lazily, counting what the app read of it."""

    def __init__(self, head: bytes, size: int = 100 * MB, tail: bytes = b"") -> None:
        self.head, self.size, self.tail = head, size, tail
        self.read = 0

    async def __aiter__(self):
        yield self.head
        self.read += len(self.head)
        left = self.size - len(self.head) - len(self.tail)
        while left > 0:
            n = min(CHUNK, left)
            self.read += n
            left -= n
            yield b"a" * n
        self.read += len(self.tail)
        yield self.tail


def _json_body() -> Body:
    return Body(b'{"kind": "member", "name": "', tail=b'"}')


def _multipart_body() -> tuple[Body, str]:
    boundary = "relaisboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="token"; filename="t.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return Body(head, tail=f"\r\n--{boundary}--\r\n".encode()), boundary


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_100_mb_json_post_without_a_token_is_refused_unread(client, declared):
    body = _json_body()
    headers = {"Content-Type": "application/json"}
    if declared:
        headers["Content-Length"] = str(body.size)
    r = await client.post("/api/organisations", content=body, headers=headers)
    assert r.status_code == 413, r.text[:200]
    assert r.json() == {
        "detail": "Requête trop volumineuse : 256 Ko au plus. Rien n'a été enregistré."
    }
    assert r.headers["connection"] == "close"
    if declared:
        assert body.read == 0
    else:
        assert body.read <= DEFAULT_LIMIT + CHUNK + len(body.head)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_100_mb_multipart_post_to_the_sign_in_page_is_refused_unread(client, declared):
    body, boundary = _multipart_body()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Accept": "text/html"}
    if declared:
        headers["Content-Length"] = str(body.size)
    r = await client.post("/connexion", content=body, headers=headers)
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert "Requête trop volumineuse" in r.text
    assert body.read == 0 if declared else body.read <= DEFAULT_LIMIT + CHUNK + len(body.head)


async def test_bodies_under_the_limit_go_through(client, actors):
    from tests.api.test_organisations import NEW
    from tests.factories import siret

    big_but_fine = {**NEW, "siret": siret(), "commune": "Marseille"}
    r = await client.post("/api/organisations", json=big_but_fine, headers=actors["staff"].headers)
    assert r.status_code == 201
    # 200 KB of JSON whitespace around a valid body: parsed, then refused for its content.
    padded = b" " * (200 * 1024) + b'{"kind": "bank"}'
    r = await client.post(
        "/api/organisations",
        content=padded,
        headers={**actors["staff"].headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
