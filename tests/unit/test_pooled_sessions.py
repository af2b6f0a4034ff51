"""A pooled connection goes back to its pool without a reset query (store.pool): nothing
Relais runs on one may leave session state behind for the next request or activity."""

from __future__ import annotations

import re
from pathlib import Path

from store.pool import PooledConnection

ROOT = Path(__file__).parent.parent.parent
CODE = ("api", "store", "activities", "relais", "worker", "workflows", "domain")
# What would outlive a transaction on a connection: a session setting, a listener, a
# session advisory lock, a cursor kept open, a temporary table, a prepared statement.
SESSION_STATE = re.compile(
    r"""(?ix)
    \bSET\s+(SESSION\s+)?(ROLE\s+\w|SESSION\s+AUTHORIZATION|(search_path|time\s+zone|timezone
        |[a-z_]+_timeout|application_name|work_mem|datestyle|[a-z_]+\.[a-z_]+)\b)
    | \bset_config\s*\(
    | \bLISTEN\s
    | \bpg_advisory_lock(_shared)?\s*\(
    | \bpg_try_advisory_lock(_shared)?\s*\(
    | \bWITH\s+HOLD\b
    | \bCREATE\s+(TEMP|TEMPORARY)\b
    | \bPREPARE\s+\w+\s+AS\b
    | \badd_listener\s*\(
    """
)
# Migrations take a session advisory lock, on a connection of their own (store.migrate).
ALLOWED = {Path("store/migrate.py")}


def test_no_code_leaves_session_state_on_a_pooled_connection():
    found = []
    for top in CODE:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix not in (".py", ".sql") or path.relative_to(ROOT) in ALLOWED:
                continue
            text = path.read_text("utf-8")
            if path.name == "pool.py" and path.parent.name == "store":
                text = text.replace(PooledConnection.__doc__ or "", "")
            found += [
                f"{path.relative_to(ROOT)}: {m.group(0)}" for m in SESSION_STATE.finditer(text)
            ]
    assert not found, found


def test_the_pattern_finds_session_state():
    for sql in (
        "SET statement_timeout = 0",
        "SET SESSION search_path TO x",
        "SET ROLE reader",
        "SELECT set_config('a.b', '1', false)",
        "LISTEN mail",
        "SELECT pg_advisory_lock(1)",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "CREATE TEMP TABLE t (x int)",
    ):
        assert SESSION_STATE.search(sql), sql
    for sql in (
        "UPDATE tasks SET closed_at = now()",
        "DO UPDATE SET role = EXCLUDED.role",
        "SELECT pg_advisory_xact_lock(1)",
    ):
        assert not SESSION_STATE.search(sql), sql


async def test_a_connection_released_mid_transaction_is_rolled_back(pool):
    async with pool.acquire() as c:
        await c.execute("CREATE TABLE IF NOT EXISTS pooled_probe (x int)")
        await c.execute("TRUNCATE pooled_probe")
    async with pool.acquire() as c:
        assert isinstance(c._con, PooledConnection)
        await c.execute("BEGIN")
        await c.execute("INSERT INTO pooled_probe VALUES (1)")
    async with pool.acquire() as c:
        assert not c.is_in_transaction()
        assert await c.fetchval("SELECT count(*) FROM pooled_probe") == 0
        await c.execute("DROP TABLE pooled_probe")
