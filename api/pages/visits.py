"""Company visits: an adviser's visit entry (works on a phone), its action projects
launched or handed to the network's staff."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
