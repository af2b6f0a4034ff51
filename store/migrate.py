"""Ordered `.sql` migrations, applied once each, under an advisory lock so that two
processes starting together (API and worker, two replicas) never race."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import asyncpg
import structlog

log = structlog.get_logger(__name__)

LOCK_KEY = 0x52454C414953  # "RELAIS"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
APPLIED = "SELECT version FROM schema_migrations"
TABLE_EXISTS = "SELECT to_regclass('schema_migrations') IS NOT NULL"
RECORD = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    found = []
    for entry in resources.files("store.migrations").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {versions}")
    return found


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply pending migrations; returns the versions applied by this call."""
    applied_now: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(CREATE_TABLE)
        done = {r["version"] for r in await conn.fetch(APPLIED)}
        for mig in available():
            if mig.version in done:
                continue
            async with conn.transaction():
                await conn.execute(mig.sql)
                await conn.execute(RECORD, mig.version, mig.name)
            log.info("migration applied", version=mig.version, name=mig.name)
            applied_now.append(mig.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    return applied_now


async def pending(conn: asyncpg.Connection) -> list[int]:
    """The versions this code knows that the database has not applied (all of them on an
    empty database): none means the schema is at head."""
    exists = await conn.fetchval(TABLE_EXISTS)
    done = {r["version"] for r in await conn.fetch(APPLIED)} if exists else set()
    return [m.version for m in available() if m.version not in done]


async def migrate_dsn(dsn: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
