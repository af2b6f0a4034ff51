"""The body each request id was first used with (a keyed hash of it): a retry has the same
one, a reuse of the id for another request does not."""

from __future__ import annotations

from store.pool import Conn

REMEMBER = """
INSERT INTO request_fingerprints (scope, request_id, digest) VALUES ($1, $2, $3)
ON CONFLICT (scope, request_id) DO NOTHING"""
FIRST = "SELECT digest FROM request_fingerprints WHERE scope = $1 AND request_id = $2"
FORGET = """
DELETE FROM request_fingerprints WHERE scope = $1 AND request_id = $2 AND digest = $3"""


class RequestRepository:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def first(self, scope: str, request_id: str) -> bytes | None:
        digest: bytes | None = await self.conn.fetchval(FIRST, scope, request_id)
        return digest

    async def remember(self, scope: str, request_id: str, digest: bytes) -> bytes:
        """Keep `digest` as the first body of this request id, unless one is kept already;
        returns the one kept."""
        await self.conn.execute(REMEMBER, scope, request_id, digest)
        kept = await self.first(scope, request_id)
        return kept if kept is not None else digest

    async def forget(self, scope: str, request_id: str, digest: bytes) -> None:
        """The request refused: its id may serve another body."""
        await self.conn.execute(FORGET, scope, request_id, digest)
