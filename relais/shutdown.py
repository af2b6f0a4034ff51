"""A stop asked for is a stop done, in bounded time.

The worker gives running activities `ACTIVITY_GRACE` to finish, then cancels them; the API
gives requests in flight `REQUEST_GRACE`; the pool's connections are then closed, or
terminated. If something still holds the process (an activity that ignores its
cancellation, a thread stuck in a call), `HardStop` ends it `HARD_STOP_S` after the stop
was asked, after its last words (kill the Temporal dev server, stop Postgres). A second
Ctrl-C does the same at once."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from datetime import timedelta

import asyncpg
import structlog

log = structlog.get_logger("relais.shutdown")

ACTIVITY_GRACE = timedelta(seconds=10)
REQUEST_GRACE_S = 5
POOL_CLOSE_S = 3
HARD_STOP_S = 25


class HardStop:
    """Armed when a stop is asked: if the process is still there `seconds` later, run
    `last_words` and exit with status 1. A daemon thread, so a blocked event loop cannot
    hold it back."""

    def __init__(self, seconds: float = HARD_STOP_S, last_words: Callable[[], None] | None = None):
        self.seconds = seconds
        self.last_words = last_words
        self._armed = threading.Event()
        self._forced = threading.Lock()

    def arm(self) -> None:
        if self._armed.is_set():
            self.force("stop asked twice")
        self._armed.set()
        threading.Thread(target=self._wait, name="hard-stop", daemon=True).start()

    def _wait(self) -> None:
        threading.Event().wait(self.seconds)
        self.force(f"not stopped {self.seconds:.0f} s after the stop was asked")

    def force(self, why: str) -> None:
        if not self._forced.acquire(blocking=False):
            return
        try:
            log.warning("forcing the stop", reason=why)
            if self.last_words is not None:
                self.last_words()
        except Exception:  # the exit below matters more than anything said before it
            log.exception("last words failed")
        finally:
            sys.stderr.flush()
            os._exit(1)


async def close_pool(pool: asyncpg.Pool, within_s: float = POOL_CLOSE_S) -> None:
    """Close the pool, waiting for its connections at most `within_s`; then terminate them
    (a connection still held by a stuck task would make `close()` wait for ever)."""
    try:
        await asyncio.wait_for(pool.close(), within_s)
    except TimeoutError:
        log.warning("pool connections still held; terminating them")
        pool.terminate()
