"""iCalendar (RFC 5545) files, pure: events written with UTC times, text escaped (§3.3.11)
and content lines folded at 75 octets (§3.1), lines ended by CRLF."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

PRODID = "-//Relais//Réservations//FR"


class Event(BaseModel):
    uid: str
    stamp: datetime  # when the event's data was made (DTSTAMP)
    starts_at: datetime
    ends_at: datetime
    summary: str
    location: str = ""
    description: str = ""


def utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """Split a content line into lines of at most 75 octets, each continuation starting
    with a space; never inside a UTF-8 character."""
    out: list[bytes] = []
    current = b""
    for ch in line:
        encoded = ch.encode()
        limit = 75 if not out else 74  # a continuation's leading space counts
        if len(current) + len(encoded) > limit:
            out.append(current)
            current = b""
        current += encoded
    out.append(current)
    return "\r\n ".join(part.decode() for part in out)


def calendar(events: list[Event]) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]
    lines.append("METHOD:PUBLISH")
    for e in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{escape(e.uid)}",
            f"DTSTAMP:{utc(e.stamp)}",
            f"DTSTART:{utc(e.starts_at)}",
            f"DTEND:{utc(e.ends_at)}",
            f"SUMMARY:{escape(e.summary)}",
        ]
        if e.location:
            lines.append(f"LOCATION:{escape(e.location)}")
        if e.description:
            lines.append(f"DESCRIPTION:{escape(e.description)}")
        lines += ["STATUS:CONFIRMED", "TRANSP:OPAQUE", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
