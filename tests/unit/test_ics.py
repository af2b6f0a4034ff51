"""iCalendar files (RFC 5545): folded at 75 octets without splitting a character, text
escaped, times in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.ics import Event, calendar, escape, fold


def _unfold(text: str) -> str:
    return text.replace("\r\n ", "")


@settings(deadline=None, max_examples=300)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=400))
def test_a_line_is_folded_at_75_octets_and_unfolds_to_itself(text):
    line = "SUMMARY:" + text
    folded = fold(line)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert _unfold(folded) == line


def test_text_is_escaped_and_times_are_utc():
    paris = timezone(timedelta(hours=1))
    event = Event(
        uid="abc@relais",
        stamp=datetime(2027, 1, 4, 8, 30, tzinfo=UTC),
        starts_at=datetime(2027, 1, 5, 9, 0, tzinfo=paris),
        ends_at=datetime(2027, 1, 5, 12, 0, tzinfo=paris),
        summary="Réservation : salle; étage 2, porte \\ B",
        description="Deux lignes\nici",
    )
    text = calendar([event])
    assert text.endswith("END:VCALENDAR\r\n") and "\n" not in text.replace("\r\n", "")
    assert "DTSTART:20270105T080000Z\r\n" in text and "DTEND:20270105T110000Z\r\n" in text
    assert "DTSTAMP:20270104T083000Z\r\n" in text
    assert "SUMMARY:Réservation : salle\\; étage 2\\, porte \\\\ B\r\n" in _unfold(text)
    assert "DESCRIPTION:Deux lignes\\nici\r\n" in text
    assert escape("a,b;c") == "a\\,b\\;c"
