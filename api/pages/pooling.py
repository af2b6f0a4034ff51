"""Pooled services: the catalogue, a member's requests, quotes and invoices, the pool page,
the provider's orders."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
