"""Bookings of the network's shared resources: a week calendar, book a slot, my bookings,
cancel, the waitlist, an .ics file."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
