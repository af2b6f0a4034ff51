"""Migrations apply once, in order, even when two processes start together."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from store.migrate import available, migrate_dsn


def test_migrations_are_numbered_in_order():
    versions = [m.version for m in available()]
    assert versions == sorted(versions) and versions[0] == 1


async def test_concurrent_migrations_apply_each_file_once(pg_server):
    name = f"relais_mig_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_server.get_uri())
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = pg_server.get_uri(name)

    results = await asyncio.gather(*(migrate_dsn(url) for _ in range(4)))
    applied = sorted(v for r in results for v in r)
    assert applied == [m.version for m in available()]
    assert await migrate_dsn(url) == []
    conn = await asyncpg.connect(url)
    assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(available())
    await conn.close()


async def test_audit_trail_is_append_only(db):
    await db.execute(
        "INSERT INTO audit_events (actor, action, entity_type, entity_id) VALUES ('t','a','e','1')"
    )
    try:
        await db.execute("UPDATE audit_events SET actor = 'x'")
    except asyncpg.RaiseError as err:
        assert "append-only" in str(err)
    else:
        raise AssertionError("audit_events accepted an UPDATE")
