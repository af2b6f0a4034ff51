"""What keeps a browser's session safe: the cookies, the CSRF token of every form, and two
pure ASGI middlewares — one refusing forged form posts, one putting the security headers on
every answer.

CSRF: every unsafe request (POST, PUT, PATCH, DELETE) that a browser could forge — it
carries one of our cookies, or a form body — must come from our own origin (Sec-Fetch-Site,
Origin or Referer, whichever the browser sent) and carry the token of its form (`csrf`
field, or the `X-CSRF-Token` header). The token is derived from the session's secret (or,
before signing in, from a random cookie of its own: the sign-in forms are protected too),
so a page of another site can neither read nor guess it. A request carrying an
`Authorization` header is a program's (a browser never adds one to a forged form): it is
authenticated by that token alone and the JSON API never reads a cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import Request, Response
from markupsafe import Markup, escape
from starlette.datastructures import Headers, MutableHeaders

from relais.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
# State keys a page sets on `request.state` for the middleware.
STATE_CSRF = "csrf_token"
STATE_NEW_PRESESSION = "new_presession"

REFUSED = (
    "Formulaire refusé : il a expiré ou ne vient pas de Relais. Rechargez la page et recommencez."
)


# --- cookies -------------------------------------------------------------------------


def session_cookie(settings: Settings) -> str:
    # `__Host-`: sent only over https, to this host exactly, for the whole site — no other
    # subdomain can set or shadow it.
    return "__Host-relais_session" if settings.secure_cookies else "relais_session"


def presession_cookie(settings: Settings) -> str:
    return "__Host-relais_csrf" if settings.secure_cookies else "relais_csrf"


def set_session_cookie(response: Response, settings: Settings, secret: str) -> None:
    response.set_cookie(
        session_cookie(settings),
        secret,
        max_age=int(settings.session_lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        session_cookie(settings),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


def _presession_header(settings: Settings, value: str) -> str:
    flags = "Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if settings.secure_cookies else "")
    return f"{presession_cookie(settings)}={value}; {flags}"


# --- the token -----------------------------------------------------------------------


def csrf_token(secret: str) -> str:
    """The forms' token for a session (or pre-session) secret: unguessable without it, and
    not the hash the database keeps."""
    digest = hashlib.sha256(b"relais csrf\x00" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def page_csrf(request: Request) -> str:
    """The token for this page's forms: the session's, set by the page's dependency, or a
    pre-session one (its cookie set with the answer when the browser has none yet)."""
    state = request.state
    token = getattr(state, STATE_CSRF, None)
    if token:
        return str(token)
    settings: Settings = request.app.state.settings
    secret = request.cookies.get(presession_cookie(settings)) or getattr(
        state, STATE_NEW_PRESESSION, None
    )
    if not secret:
        secret = secrets.token_urlsafe(32)
        setattr(state, STATE_NEW_PRESESSION, secret)
    token = csrf_token(secret)
    setattr(state, STATE_CSRF, token)
    return token


def csrf_field(request: Request) -> Markup:
    """`{{ csrf_field(request) }}` — the one line every state-changing form carries."""
    value = escape(page_csrf(request))
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{value}">')  # noqa: S704


# --- the middlewares -----------------------------------------------------------------


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _cookies(headers: Headers) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for raw in headers.getlist("cookie"):
        try:
            jar.load(raw)
        except Exception:  # noqa: S112 - a malformed cookie header is someone else's
            continue
    return {k: m.value for k, m in jar.items()}


async def _refuse(scope: Scope, send: Send) -> None:
    path = scope.get("path", "")
    if path.startswith("/api/"):
        body = ('{"detail": "' + REFUSED + '"}').encode()
        ctype = b"application/json"
    else:
        body = (
            '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<title>Formulaire refusé · Relais</title><link rel="stylesheet" '
            'href="/static/relais.css"></head><body><main><section class="card narrow">'
            f'<h1>Formulaire refusé</h1><p class="error" role="alert">{REFUSED}</p>'
            '<p><a href="/tableau-de-bord">Retour au tableau de bord</a></p>'
            "</section></main></body></html>"
        ).encode()
        ctype = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def codec_origin(settings: Settings, origin: str | None) -> bool:
    """Whether `origin` is one of the Temporal UI's, allowed to call the codec endpoint from
    the browser with the operator's session (RELAIS_CODEC_CORS_ORIGINS)."""
    allowed = {o.strip().rstrip("/").lower() for o in settings.codec_cors_origins.split(",")}
    return bool(origin) and origin is not None and origin.rstrip("/").lower() in allowed - {""}


class CsrfGuard:
    """Refuses forged form posts (see the module's docstring), before any route runs, and
    sets the pre-session cookie a page asked for."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.own = _origin(settings.base_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        headers = Headers(scope=scope)
        if (
            scope["method"] in UNSAFE
            and "authorization" not in headers
            and not self._codec_from_the_ui(scope, headers)
        ):
            cookies = _cookies(headers)
            ours = [
                cookies[name]
                for name in (session_cookie(self.settings), presession_cookie(self.settings))
                if cookies.get(name)
            ]
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ours or ctype in FORM_TYPES:
                body = await _read_body(receive)
                if not (
                    self._same_origin(scope, headers) and _token_matches(headers, ctype, body, ours)
                ):
                    await _refuse(scope, send)
                    return
                receive = _replay(body, receive)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and state.get(STATE_NEW_PRESESSION):
                out = MutableHeaders(scope=message)
                out.append(
                    "set-cookie", _presession_header(self.settings, state[STATE_NEW_PRESESSION])
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _codec_from_the_ui(self, scope: Scope, headers: Headers) -> bool:
        """The Temporal UI's call to the codec endpoint, from its own origin: a JSON body no
        form can send, behind a CORS preflight only that origin passes."""
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        return (
            str(scope.get("path", "")).startswith("/codec/")
            and ctype == "application/json"
            and codec_origin(self.settings, headers.get("origin"))
        )

    def _same_origin(self, scope: Scope, headers: Headers) -> bool:
        site = headers.get("sec-fetch-site")
        if site is not None:
            return site in ("same-origin", "none")
        allowed = {o for o in (self.own, self._request_origin(scope, headers)) if o}
        origin = headers.get("origin")
        if origin is not None:
            return origin.lower() in allowed
        referer = headers.get("referer")
        if referer is not None:
            return _origin(referer) in allowed
        return True  # a program, or a browser sending neither: the token decides

    @staticmethod
    def _request_origin(scope: Scope, headers: Headers) -> str | None:
        host = headers.get("host")
        return f"{scope.get('scheme', 'http')}://{host}".lower() if host else None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


_MULTIPART_FIELD = re.compile(
    rb'name="' + CSRF_FIELD.encode() + rb'"\r\n(?:[^\r\n]*\r\n)*\r\n([A-Za-z0-9_-]{1,100})\r\n'
)


def _token_matches(headers: Headers, ctype: str, body: bytes, secrets_: list[str]) -> bool:
    sent = headers.get(CSRF_HEADER)
    if sent is None and ctype == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("latin-1"), max_num_fields=1000).get(CSRF_FIELD)
        sent = values[0] if values else None
    elif sent is None and ctype == "multipart/form-data":
        m = _MULTIPART_FIELD.search(body)
        sent = m.group(1).decode() if m else None
    if not sent or not secrets_:
        return False
    return any(hmac.compare_digest(sent, csrf_token(s)) for s in secrets_)


# Pages have no script at all; styles and images come from Relais only; no other site may
# frame a page or receive a form.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The interactive API documentation (Swagger UI, FastAPI's page) loads its bundle from its
# CDN and starts it with one inline script, allowed by its hash only.
DOCS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
DOCS_CDN = "https://cdn.jsdelivr.net"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


def docs_csp(html: bytes) -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'self'; script-src 'self' {DOCS_CDN} {hashes}; "
        f"style-src 'self' {DOCS_CDN}; img-src 'self' data: https://fastapi.tiangolo.com; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )


class SecurityHeaders:
    """On every answer: the CSP, nosniff, the referrer policy, no framing, no caching of
    anything but the static files, and HSTS outside dev mode."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hsts = not settings.dev_mode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in DOCS:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add(MutableHeaders(scope=message), path, CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _add(self, h: MutableHeaders, path: str, csp: str) -> None:
        h.setdefault("content-security-policy", csp)
        h.setdefault("x-content-type-options", "nosniff")
        h.setdefault("referrer-policy", "same-origin")
        h.setdefault("x-frame-options", "DENY")
        h.setdefault("cross-origin-opener-policy", "same-origin")
        if not path.startswith("/static/"):
            h["cache-control"] = "no-store"
        if self.hsts:
            h.setdefault("strict-transport-security", "max-age=31536000; includeSubDomains")

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A small page: held until its end, so that its inline script's hash is known.
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                assert start is not None
                body = b"".join(chunks)
                headers = MutableHeaders(scope=start)
                self._add(headers, scope.get("path", ""), docs_csp(body))
                headers["content-length"] = str(len(body))
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, hold)
