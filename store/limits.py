"""Rate-limit counters shared by every API replica: one upsert per hit, counted over a
sliding window (the current fixed window plus the previous one, weighted by how much of it
still overlaps), so a burst across a window's edge counts in full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from store.pool import Conn

HIT = """
WITH w AS (SELECT date_bin(make_interval(secs => $3), now(), timestamptz 'epoch') AS start),
hit AS (
    INSERT INTO rate_limits (name, key, window_start, hits)
    SELECT $1, $2, w.start, 1 FROM w
    ON CONFLICT (name, key, window_start) DO UPDATE SET hits = rate_limits.hits + 1
    RETURNING hits, window_start)
SELECT hit.hits, coalesce(prev.hits, 0) AS previous,
       extract(epoch FROM now() - hit.window_start)::float8 AS elapsed
FROM hit LEFT JOIN rate_limits prev
  ON prev.name = $1 AND prev.key = $2
 AND prev.window_start = hit.window_start - make_interval(secs => $3)"""
# Limits have windows of at most a day: older counters count for nothing.
PURGE = "DELETE FROM rate_limits WHERE window_start < now() - interval '2 days'"


@dataclass(frozen=True)
class Count:
    """Hits over the sliding window, this one included, and the seconds left in the
    current fixed window."""

    hits: float
    window_left_s: float


class LimitRepository:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def hit(self, name: str, key: bytes, window: timedelta) -> Count:
        seconds = window.total_seconds()
        row = await self.conn.fetchrow(HIT, name, key, seconds)
        if row is None:  # an upsert … RETURNING always answers its row
            raise RuntimeError("the rate limit's counter answered nothing")
        overlap = max(0.0, 1.0 - row["elapsed"] / seconds)
        return Count(row["hits"] + row["previous"] * overlap, seconds - row["elapsed"])

    async def purge(self) -> None:
        await self.conn.execute(PURGE)
