"""Shapes shared by every process."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

# A business id or request id: printable, bounded, safe in a workflow id.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,100}$"


class Page(BaseModel, Generic[T]):
    """One page of a list, with what a client needs to fetch the next one."""

    items: list[T]
    total: int = Field(ge=0)
    limit: int
    offset: int
