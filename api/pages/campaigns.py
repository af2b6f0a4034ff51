"""Recruitment campaigns for the network's staff: launch, the campaign page (positions,
board of referrals, screening, per-agency figures, report), cancel, erasure."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
