from __future__ import annotations

import json
from typing import TYPE_CHECKING, TypeAlias

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

# What a repository takes: a connection, or the proxy `pool.acquire()` hands out.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class PooledConnection(asyncpg.Connection):
    """A pooled connection goes back to the pool without asyncpg's reset query (advisory
    unlock, CLOSE ALL, UNLISTEN, RESET ALL: one more round trip at the end of every API
    request and every activity). Relais keeps no session state on a pooled connection: no
    SET (only SET LOCAL), LISTEN, cursor outside a transaction or session advisory lock (its
    locks are pg_advisory_xact_lock; migrations lock on a connection of their own) —
    tests/unit/test_pooled_sessions.py keeps it so. asyncpg still rolls back a transaction
    left open before the connection serves again."""

    def get_reset_query(self) -> str:
        return ""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        command_timeout=30,
        connection_class=PooledConnection,
    )
