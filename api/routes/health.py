"""Liveness of the whole chain: this process, Postgres and Temporal."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api.deps import Pool, TemporalClient

router = APIRouter(tags=["santé"])


async def _postgres(pool) -> bool:
    try:
        async with asyncio.timeout(2):
            return await pool.fetchval("SELECT 1") == 1
    except Exception:
        return False


async def _temporal(client) -> bool:
    try:
        async with asyncio.timeout(2):
            await client.workflow_service.get_system_info(GetSystemInfoRequest())
            return True
    except Exception:
        return False


@router.get("/health")
async def health(pool: Pool, client: TemporalClient) -> JSONResponse:
    pg, tp = await asyncio.gather(_postgres(pool), _temporal(client))
    body = {
        "status": "ok" if pg and tp else "degraded",
        "postgres": "up" if pg else "down",
        "temporal": "up" if tp else "down",
    }
    return JSONResponse(body, status_code=200 if pg and tp else 503)
