"""Shapes shared by every process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Generic, TypeVar

from annotated_types import GroupedMetadata
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints

T = TypeVar("T")


def no_control_chars(value: str) -> str:
    # A NUL byte cannot be stored in Postgres text; other control characters are typos.
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        raise ValueError("caractères de contrôle interdits")
    return value


def _breaks_a_line(c: str) -> bool:
    # C0 (CR, LF, tab included), DEL and C1 (NEL), and the Unicode line and paragraph
    # separators, which a mail client or a spreadsheet may also take for a line break.
    return ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029"


def no_line_breaks(value: str) -> str:
    """A name or a title travels into mail subjects and spreadsheet cells: no control
    character at all, CR, LF and tab included."""
    if any(_breaks_a_line(c) for c in value):
        raise ValueError("caractères de contrôle interdits")
    return value


@dataclass(frozen=True)
class FreeText(GroupedMetadata):
    """A person's free text: trimmed, bounded, without control characters. Written
    `Annotated[str, FreeText(2, 200)]`, a type the checker reads (a function returning an
    `Annotated` is not); pydantic unpacks it into the constraints and the validator.
    `one_line` for a name or a title (it may end up in a mail header): no line break nor
    tab either."""

    min_length: int = 1
    max_length: int = 200
    one_line: bool = False

    def __iter__(self) -> Iterator[object]:
        yield from StringConstraints(
            strip_whitespace=True, min_length=self.min_length, max_length=self.max_length
        )
        yield AfterValidator(no_line_breaks if self.one_line else no_control_chars)


# Dates people send: a deadline, a slot, a phase, a visit. Beyond these years a value is a
# typo or a probe, and near year 9999 it overflows once moved to UTC (Postgres, Temporal).
MIN_YEAR, MAX_YEAR = 2000, 2100
OUT_OF_RANGE = f"date hors de la période admise (entre {MIN_YEAR} et {MAX_YEAR})"


def _date_in_range(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(OUT_OF_RANGE)
    return value


def _datetime_in_range(value: datetime) -> datetime:
    # The local year first: converting 9999-12-31T20:00-12:00 to UTC would overflow.
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(OUT_OF_RANGE)
    if value.tzinfo is not None and not MIN_YEAR <= value.astimezone(UTC).year <= MAX_YEAR:
        raise ValueError(OUT_OF_RANGE)
    return value


BoundedDate = Annotated[date, AfterValidator(_date_in_range)]
# An instant a person gives: with its time zone, within the years above.
BoundedDatetime = Annotated[AwareDatetime, AfterValidator(_datetime_in_range)]


# A business id or request id: printable, bounded, safe in a workflow id.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,100}$"


class Page(BaseModel, Generic[T]):
    """One page of a list, with what a client needs to fetch the next one."""

    items: list[T]
    total: int = Field(ge=0)
    limit: int
    offset: int
    # True when counting stopped at `total` (long lists are not counted to the end): there
    # are more than `total`, and a page says « plus de 1 000 ».
    total_is_lower_bound: bool = False
