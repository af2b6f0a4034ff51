"""Health of the whole chain (this process, Postgres, Temporal, the schema) and metrics.

`/health/live`: the process answers (no I/O; a container restarts when it stops).
`/health/ready`: Postgres and Temporal answer and every migration this code knows is
applied (a load balancer sends traffic only then). `/health` is kept as it was."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api.deps import AppSettings, Pool, TemporalClient
from store.migrate import pending

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


async def _pending_migrations(pool) -> list[int] | None:
    try:
        async with asyncio.timeout(2), pool.acquire() as c:
            return await pending(c)
    except Exception:
        return None


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/health/ready")
async def ready(pool: Pool, client: TemporalClient) -> JSONResponse:
    missing, tp = await asyncio.gather(_pending_migrations(pool), _temporal(client))
    pg = missing is not None
    at_head = pg and not missing
    ok = at_head and tp
    body = {
        "status": "ready" if ok else "not_ready",
        "postgres": "up" if pg else "down",
        "temporal": "up" if tp else "down",
        "migrations": "unknown" if not pg else "at_head" if at_head else "pending",
        "pending_migrations": missing or [],
    }
    return JSONResponse(body, status_code=200 if ok else 503)


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
