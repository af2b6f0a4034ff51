"""A resource's week as the booking pages show it: the slots of its grid (Paris hours) with
what each is to the caller — free, busy, mine, waiting, begun or not open yet — and times and
days in French words."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from babel.dates import format_date

from api.pages.formats import LOCALE
from api.pages.forms import new_request_id
from domain.auth import Principal
from domain.booking import (
    ReservationPublic,
    ReservationStatus,
    ResourceKind,
    ResourcePublic,
    ResourceWeek,
    iso_week,
    week_of,
)
from domain.formats import PARIS
from domain.labels import RESERVATION_STATUS_LABELS

# The slots a week offers, by kind of resource (Paris hours): a room by two hours, a vehicle
# or equipment by half-day. Any other hours are booked through « Un autre horaire ».
GRID: dict[str, list[tuple[int, int]]] = {
    ResourceKind.ROOM: [(8, 10), (10, 12), (12, 14), (14, 16), (16, 18), (18, 20)],
    ResourceKind.VEHICLE: [(8, 13), (13, 19)],
    ResourceKind.EQUIPMENT: [(8, 13), (13, 19)],
}


# --- how a slot reads ---------------------------------------------------------------------


def clock(instant: datetime) -> str:
    """« 8 h », « 14 h 30 » on the Paris clock."""
    local = instant.astimezone(PARIS)
    return f"{local.hour} h" if local.minute == 0 else f"{local.hour} h {local.minute:02d}"


def day_name(d: date | datetime) -> str:
    """« lundi 5 janvier »."""
    if isinstance(d, datetime):
        d = d.astimezone(PARIS).date()
    return format_date(d, "EEEE d MMMM", locale=LOCALE)


def slot_text(starts_at: datetime, ends_at: datetime) -> str:
    """« lundi 5 janvier 2027, de 8 h à 10 h » (the end's day too when it is another)."""
    a, b = starts_at.astimezone(PARIS), ends_at.astimezone(PARIS)
    first = format_date(a.date(), "EEEE d MMMM y", locale=LOCALE)
    if a.date() == b.date() or (b - a <= timedelta(days=1) and b.time() == time(0)):
        return f"{first}, de {clock(a)} à {clock(b)}"
    last = format_date(b.date(), "EEEE d MMMM y", locale=LOCALE)
    return f"du {first} {clock(a)} au {last} {clock(b)}"


def reservation_status(r: ReservationPublic) -> str:
    label = RESERVATION_STATUS_LABELS[r.status]
    if r.status == ReservationStatus.WAITLISTED and r.waitlist_position:
        return f"{label} (n° {r.waitlist_position})"
    return label


def rules(resource: ResourcePublic) -> str:
    return (
        f"Réservable au plus {resource.horizon_days} jours à l'avance ; au plus "
        f"{resource.max_future_bookings} réservation(s) à venir par entreprise."
    )


# --- a week as a calendar -----------------------------------------------------------------


@dataclass
class Cell:
    """A slot of the week's grid, as the caller sees it: `free` (a button books it),
    `busy` (another's; its waitlist is offered until the slot begins), `mine`, `waiting`
    (mine in line), `past` (begun already) or `closed` (beyond the horizon). `request_id`:
    set where the caller may ask for it."""

    starts_at: datetime
    ends_at: datetime
    state: str
    holder: ReservationPublic | None = None
    request_id: str = ""

    @property
    def hours(self) -> str:
        return f"{clock(self.starts_at)} – {clock(self.ends_at)}"

    @property
    def says(self) -> str:
        return f"{day_name(self.starts_at)}, de {clock(self.starts_at)} à {clock(self.ends_at)}"


@dataclass
class Day:
    name: str
    cells: list[Cell] = field(default_factory=list)
    others: list[ReservationPublic] = field(default_factory=list)  # off the grid's hours


def _overlaps(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> bool:
    return a0 < b1 and b0 < a1


def calendar(w: ResourceWeek, p: Principal, may_book: bool) -> list[Day]:
    """The week's seven days (Paris), each with its grid of slots; the confirmed
    reservations decide what is busy, the caller's waiting ones show their place in line.
    Free, past and closed follow the command's own rules (in the future, within the
    horizon)."""
    monday = w.starts_at.astimezone(PARIS).date()
    busy = [s.reservation for s in w.slots if s.status == "busy" and s.reservation]
    mine_waiting = [r for r in w.waiting if r.member_id == p.organisation_id]
    days: list[Day] = []
    for n in range(7):
        d = monday + timedelta(days=n)
        day = Day(day_name(d))
        grid = GRID.get(w.resource.kind, GRID[ResourceKind.ROOM])
        for h0, h1 in grid:
            a = datetime.combine(d, time(h0), PARIS).astimezone(UTC)
            b = datetime.combine(d, time(h1), PARIS).astimezone(UTC)
            holder = next((r for r in busy if _overlaps(a, b, r.starts_at, r.ends_at)), None)
            waiting = next(
                (r for r in mine_waiting if _overlaps(a, b, r.starts_at, r.ends_at)), None
            )
            if holder is not None and holder.member_id == p.organisation_id:
                cell = Cell(a, b, "mine", holder)
            elif waiting is not None:
                cell = Cell(a, b, "waiting", waiting)
            elif holder is not None:
                cell = Cell(a, b, "busy", holder)
            elif a <= w.bookable_from:
                cell = Cell(a, b, "past")
            elif a > w.bookable_until:
                cell = Cell(a, b, "closed")
            else:
                cell = Cell(a, b, "free")
            open_now = w.bookable_from < a <= w.bookable_until  # what the command takes
            if cell.state in ("free", "busy") and may_book and open_now:
                cell.request_id = new_request_id()  # a double submit is one act
            day.cells.append(cell)
        first = datetime.combine(d, time(grid[0][0]), PARIS).astimezone(UTC)
        last = datetime.combine(d, time(grid[-1][1]), PARIS).astimezone(UTC)
        start = datetime.combine(d, time(0), PARIS).astimezone(UTC)
        end = datetime.combine(d + timedelta(days=1), time(0), PARIS).astimezone(UTC)
        day.others = [
            r
            for r in busy
            if _overlaps(start, end, r.starts_at, r.ends_at)
            and not _overlaps(first, last, r.starts_at, r.ends_at)
        ]
        days.append(day)
    return days


def shift(week: str, weeks: int) -> str:
    start, _ = iso_week(week)
    return week_of(start + timedelta(days=7 * weeks, hours=12))
