"""Shapes shared by every process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from annotated_types import GroupedMetadata
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

T = TypeVar("T")


def no_control_chars(value: str) -> str:
    # A NUL byte cannot be stored in Postgres text; other control characters are typos.
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        raise ValueError("caractères de contrôle interdits")
    return value


@dataclass(frozen=True)
class FreeText(GroupedMetadata):
    """A person's free text: trimmed, bounded, without control characters. Written
    `Annotated[str, FreeText(2, 200)]`, a type the checker reads (a function returning an
    `Annotated` is not); pydantic unpacks it into the constraints and the validator."""

    min_length: int = 1
    max_length: int = 200

    def __iter__(self) -> Iterator[object]:
        yield from StringConstraints(
            strip_whitespace=True, min_length=self.min_length, max_length=self.max_length
        )
        yield AfterValidator(no_control_chars)


# A business id or request id: printable, bounded, safe in a workflow id.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,100}$"


class Page(BaseModel, Generic[T]):
    """One page of a list, with what a client needs to fetch the next one."""

    items: list[T]
    total: int = Field(ge=0)
    limit: int
    offset: int
