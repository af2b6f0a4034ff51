"""Recruitment for agencies and employers: an agency's referral form and its candidates;
an employer's shortlist, interest, identity once consent is given, decision."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
