"""Liveness of the whole chain (this process, Postgres and Temporal) and metrics."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api.deps import AppSettings, Pool, TemporalClient

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


def _scrape_url(address: str) -> str:
    host, _, port = address.rpartition(":")
    if host in ("", "0.0.0.0", "[::]"):  # noqa: S104 - bound on all interfaces: ask loopback
        host = "127.0.0.1"
    return f"http://{host}:{port}/metrics"


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(settings: AppSettings):
    """Prometheus text format: this process's Temporal runtime (worker and client metrics
    when the worker runs here, as in `relais dev`) and Relais' own counters."""
    if not settings.metrics_address:
        return JSONResponse(
            {"detail": "Métriques désactivées : définissez RELAIS_METRICS_ADDRESS."}, 404
        )
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            r = await http.get(_scrape_url(settings.metrics_address))
    except httpx.HTTPError:
        return JSONResponse({"detail": "Exportateur de métriques injoignable."}, 503)
    return PlainTextResponse(r.text, media_type="text/plain; version=0.0.4; charset=utf-8")
