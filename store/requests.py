"""The body each request id was first used with (a keyed hash of it): a retry has the same
one, a reuse of the id for another request does not."""

from __future__ import annotations

from store.pool import Conn

# One round trip: keep this body if the id is new; answer the kept one and whether it is ours.
REMEMBER = """
WITH ins AS (
    INSERT INTO request_fingerprints (scope, request_id, digest) VALUES ($1, $2, $3)
    ON CONFLICT (scope, request_id) DO NOTHING RETURNING digest)
SELECT digest, true AS inserted FROM ins
UNION ALL
SELECT digest, false FROM request_fingerprints
WHERE scope = $1 AND request_id = $2 AND NOT EXISTS (SELECT 1 FROM ins)"""
FIRST = "SELECT digest FROM request_fingerprints WHERE scope = $1 AND request_id = $2"
FORGET = """
DELETE FROM request_fingerprints WHERE scope = $1 AND request_id = $2 AND digest = $3"""


class RequestRepository:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def first(self, scope: str, request_id: str) -> bytes | None:
        digest: bytes | None = await self.conn.fetchval(FIRST, scope, request_id)
        return digest

    async def remember(self, scope: str, request_id: str, digest: bytes) -> tuple[bytes, bool]:
        """Keep `digest` as the first body of this request id, unless one is kept already;
        returns the one kept, and whether this call kept it."""
        row = await self.conn.fetchrow(REMEMBER, scope, request_id, digest)
        if row is None:  # kept by a request that has just forgotten it: try once more
            row = await self.conn.fetchrow(REMEMBER, scope, request_id, digest)
        if row is None:
            return digest, False
        kept: bytes = row["digest"]
        return kept, bool(row["inserted"])

    async def forget(self, scope: str, request_id: str, digest: bytes) -> None:
        """The request refused: its id may serve another body."""
        await self.conn.execute(FORGET, scope, request_id, digest)
