"""What every page's form does with its input: through the command's own model (its French
refusals field by field), a refusal as the form shows it, the redirect after a success."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode
from uuid import uuid4

from fastapi import status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError

from api.errors import describe
from api.validation import field_errors
from domain.common import Page
from domain.errors import Invalid

M = TypeVar("M", bound=BaseModel)


def model_of(cls: type[M], data: dict[str, Any]) -> M:
    """A form's fields through the command's own model: its refusals, field by field."""
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise Invalid.of(field_errors(err.errors())) from None


def refused(err: Exception) -> tuple[dict[str, str], str, int]:
    """A refusal as the form shows it: each field's French error (by the form field's name),
    the sentence for the rest, the status."""
    refusal = describe(err)
    if refusal is None:
        raise err
    fields: dict[str, str] = {}
    for e in refusal.errors:
        fields.setdefault(e.field or "formulaire", e.message)
    return fields, refusal.detail, refusal.status_code


def filled(form: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """The form's fields as typed, trimmed; empty ones left out."""
    out = {}
    for name in names:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    return out


def done(url: str, what: str, anchor: str = "") -> RedirectResponse:
    """After an act: back to the page that shows it, saying what was done."""
    sep = "&" if "?" in url else "?"
    return RedirectResponse(
        f"{url}{sep}{urlencode({'fait': what})}{anchor}", status.HTTP_303_SEE_OTHER
    )


def new_request_id() -> str:
    """A form's request id: the same form sent twice is one act."""
    return f"web-{uuid4().hex[:12]}"


async def page_of(
    read: Callable[[int], Awaitable[Page[Any]]], size: int, number: int
) -> tuple[Page[Any], int, int]:
    """Page `number` (from 1) of a list read `size` rows at a time by `read(offset)`, with
    the page number shown and the last one; past the end (a link kept from when there were
    more), the last page."""
    number = max(1, number)
    found = await read((number - 1) * size)
    last = max(1, -(-found.total // size))
    if number > last:
        number = last
        found = await read((last - 1) * size)
    return found, number, last
