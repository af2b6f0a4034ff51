"""The worker's health, for its container's healthcheck: while Postgres and Temporal answer,
the worker writes the time into a file every few seconds; `relais health --worker` reads
it. A wedged event loop, a lost database or a lost Temporal all stop the writes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import asyncpg
import structlog
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

log = structlog.get_logger(__name__)

INTERVAL_S = 5.0
STALE_AFTER_S = 30.0


async def _reachable(pool: asyncpg.Pool, client: Client) -> str | None:
    try:
        async with asyncio.timeout(3):
            await pool.fetchval("SELECT 1")
    except Exception as err:
        return f"postgres: {type(err).__name__}"
    try:
        async with asyncio.timeout(3):
            await client.workflow_service.get_system_info(GetSystemInfoRequest())
    except Exception as err:
        return f"temporal: {type(err).__name__}"
    return None


def _write(path: Path) -> None:
    # A few bytes on a local file: not worth a thread. Written aside, then renamed: a reader
    # never sees half a line.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(f"{time.time():.0f} {os.getpid()}\n")
    tmp.replace(path)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def beat(pool: asyncpg.Pool, client: Client, path: Path) -> None:
    """Runs until cancelled; removes the file when it stops."""
    try:
        while True:
            problem = await _reachable(pool, client)
            if problem is None:
                try:
                    _write(path)
                except OSError as err:  # a read-only or full disk must not stop the worker
                    log.warning("worker heartbeat not written", path=str(path), error=str(err))
            else:
                log.warning("worker unhealthy", reason=problem)
            await asyncio.sleep(INTERVAL_S)
    finally:
        _remove(path)


def check_heartbeat(path: Path, stale_after: float = STALE_AFTER_S) -> str | None:
    """None when the worker beat recently, else why not (in French, for the operator)."""
    try:
        written = float(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return f"le worker n'a pas signalé sa santé ({path} absent)"
    age = time.time() - written
    if age > stale_after:
        return f"le worker ne joint plus Postgres ou Temporal depuis {age:.0f} s ({path})"
    return None
