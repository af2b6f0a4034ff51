"""The size of a request body, limited before anything reads it: before JSON or form parsing,
before authentication. A pure ASGI middleware, outermost in the app, so that no route, no
dependency and no body parser ever holds more than the limit of one request in memory."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A campaign with 200 positions, a referral with a 20,000-character CV, a visit with its 30
# projects: all well under this. Nothing in Relais uploads a file today.
DEFAULT_LIMIT = 256 * 1024
# Paths meant for an upload get more, by prefix, e.g. {"/api/documents/": 20 * 1024 * 1024}.
ALLOWANCES: Mapping[str, int] = {}

TOO_LARGE = "Requête trop volumineuse : {limit} Ko au plus. Rien n'a été enregistré."


def limit_for(path: str, default: int, allowances: Mapping[str, int]) -> int:
    matches = [n for prefix, n in allowances.items() if path.startswith(prefix)]
    return max(matches) if matches else default


class BodyLimit:
    """Refuses with 413 a body whose Content-Length passes the path's limit, before reading
    a byte of it; counts the bytes of any other body as they stream in and refuses at the
    first chunk past the limit. The answer is a French JSON body for the API, a French page
    for the dashboard, and the connection is closed (the rest of the body is never read)."""

    def __init__(
        self,
        app: ASGIApp,
        default: int = DEFAULT_LIMIT,
        allowances: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.default = default
        self.allowances = ALLOWANCES if allowances is None else allowances

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"], self.default, self.allowances)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, limit)
            return

        # Past the limit, the app is told the client went away (it stops reading, whatever
        # parser it was in), its own answer to that is dropped, and ours is sent instead.
        received = 0
        exceeded = started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse(scope, send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses such a request before it reaches us
    return None


def _wants_html(scope: Scope) -> bool:
    if scope["path"].startswith("/api/"):
        return False
    accept = b"".join(v for k, v in scope["headers"] if k == b"accept")
    content_type = b"".join(v for k, v in scope["headers"] if k == b"content-type")
    return b"text/html" in accept or content_type.startswith(
        (b"application/x-www-form-urlencoded", b"multipart/form-data")
    )


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    sentence = TOO_LARGE.format(limit=limit // 1024)
    if _wants_html(scope):
        body = (
            '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
            "<title>Requête trop volumineuse</title></head><body>"
            f'<p>{sentence}</p><p><a href="/tableau-de-bord">Retour</a></p></body></html>'
        ).encode()
        content_type = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"detail": sentence}, ensure_ascii=False).encode()
        content_type = b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
