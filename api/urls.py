"""Links built from what a client sent: only paths of this site."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

# What a link back may be: a path and a query in plain ASCII. No scheme, no host, no
# backslash (browsers read it as a slash), no whitespace or control character (browsers
# drop tabs and line breaks, so "/\t/evil.example" would become "//evil.example").
_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def same_site_path(value: str | None, default: str) -> str:
    """`value` when it is a path of this site (`/processus/…?page=2`), else `default`.
    Checked again once percent-decoded, a few times over: `/%2F%2Fevil.example`,
    `/%5Cevil.example`, `/%09/evil.example` lead off-site however a browser or a proxy
    ends up reading them."""
    if not value or not _PATH.fullmatch(value):
        return default
    candidate = value
    for _ in range(4):
        if candidate.startswith("//") or "\\" in candidate or _CONTROL.search(candidate):
            return default
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return default
        decoded = unquote(candidate)
        if decoded == candidate:
            return value
        candidate = decoded
    return default
