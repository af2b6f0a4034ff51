"""Real parts for every test: Postgres from pgserver, Temporal servers from pip packages."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pgserver
import psutil
import pytest
from temporalio.testing import WorkflowEnvironment

from relais.binaries import temporal_cli, temporal_test_server
from relais.logging import configure_logging
from relais.reaper import guard
from relais.settings import Settings
from relais.temporal import data_converter
from store.migrate import migrate_dsn
from store.pool import create_pool
from tests.leftovers import SERVERS, describe, servers_under
from workflows.common import SEARCH_ATTRIBUTES

TABLES = (
    "audit_events, outbox, tasks, processes, memberships, api_tokens, users, organisations, "
    "relais_meta, rate_limits"
)

configure_logging(json=False, level="WARNING")


@pytest.fixture(scope="session", autouse=True)
def no_server_left(tmp_path_factory):
    """Set up first, torn down last: once every fixture has stopped what it started, no
    Postgres or Temporal server of this session may still run — neither one whose data is
    under the session's temporary folder (a `relais dev`, a fault test's cluster) nor a
    child of this process. Any found is stopped, and the session fails."""
    yield
    basetemp = tmp_path_factory.getbasetemp()
    deadline = time.monotonic() + 10  # a server told to stop may take a moment
    while (left := _servers_left(basetemp)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    assert not left, "servers left running by the tests:\n" + describe(left)


def _servers_left(basetemp) -> list[psutil.Process]:
    children = [
        c
        for c in psutil.Process().children(recursive=True)
        if c.is_running() and c.status() != psutil.STATUS_ZOMBIE and c.name().startswith(SERVERS)
    ]
    return [p for p in servers_under(basetemp) if p.status() != psutil.STATUS_ZOMBIE] + children


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    pgdata = tmp_path_factory.mktemp("pg")
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    watcher = guard(pgdata)  # stops it if this session is killed
    yield server
    server.cleanup()
    watcher.terminate()


@pytest.fixture(scope="session")
async def database_url(pg_server) -> str:
    name = f"relais_test_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_server.get_uri())
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = pg_server.get_uri(name)
    await migrate_dsn(url)
    return url


@pytest.fixture(scope="session")
async def pool(database_url) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(database_url, min_size=1, max_size=10)
    yield p
    await p.close()


@pytest.fixture
async def db(pool) -> asyncpg.Pool:
    """The pool, on empty tables: each test starts from nothing."""
    await pool.execute(f"TRUNCATE {TABLES} CASCADE")
    return pool


@pytest.fixture
def settings(database_url) -> Settings:
    # A fresh task queue per test keeps workers of different tests apart.
    return Settings(
        dev_mode=True, database_url=database_url, task_queue=f"test-{uuid.uuid4().hex[:8]}"
    )


@pytest.fixture
async def ts_env(settings) -> AsyncIterator[WorkflowEnvironment]:
    """Time-skipping server, one per test (a long-lived one can stop skipping time)."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(settings),
        test_server_existing_path=str(temporal_test_server()),
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server, in memory, with Relais' search attributes."""
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(Settings(dev_mode=True, database_url="unused")),
        dev_server_existing_path=str(temporal_cli()),
        search_attributes=SEARCH_ATTRIBUTES,
    )
    yield env
    await env.shutdown()
