"""Shared set-up for benchmarks: a throw-away Postgres and dev server, and a result table."""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pgserver
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from bench.baseline import (
    BASELINE_QUEUE,
    BaselineWorkflow,
    PoolBaselineWorkflow,
    ReportBaselineWorkflow,
    noop,
)
from relais.binaries import temporal_cli
from relais.reaper import guard
from relais.settings import Settings
from relais.temporal import data_converter
from store.migrate import migrate_dsn
from store.pool import create_pool
from worker.main import build_worker
from workflows.common import SEARCH_ATTRIBUTES


@dataclass
class Stack:
    settings: Settings
    pool: asyncpg.Pool
    env: WorkflowEnvironment
    server_uri: str = ""  # the Postgres server's, without a database: to create more


async def new_database(s: Stack, prefix: str) -> str:
    """Another empty, migrated database on the stack's Postgres server; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(s.server_uri)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, query = s.server_uri.partition("?")
    url = f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
    await migrate_dsn(url)
    return url


@asynccontextmanager
async def stack() -> AsyncIterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as tmp:
        pg = pgserver.get_server(tmp, cleanup_mode="stop")
        watcher = guard(Path(tmp))  # stops it if the benchmark is killed
        name = f"bench_{uuid.uuid4().hex[:6]}"
        admin = await asyncpg.connect(pg.get_uri())
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = pg.get_uri(name)
        await migrate_dsn(url)
        # The rate limits stay out of the way of a load generator (one agency, thousands of
        # referrals an hour).
        settings = Settings(
            dev_mode=True,
            database_url=url,
            task_queue="bench",
            rate_referrals_per_hour=10**9,
            rate_reports_per_10min=10**9,
            rate_snapshots_per_10min=10**9,
        )
        # The dev server as `relais dev` runs it: a SQLite file in WAL mode.
        env = await WorkflowEnvironment.start_local(
            data_converter=data_converter(settings),
            dev_server_existing_path=str(temporal_cli()),
            dev_server_database_filename=f"{tmp}/temporal.db",
            dev_server_extra_args=[
                "--sqlite-pragma",
                "journal_mode=wal",
                "--sqlite-pragma",
                "synchronous=normal",
            ],
            search_attributes=SEARCH_ATTRIBUTES,
        )
        settings = settings.model_copy(
            update={"temporal_address": env.client.service_client.config.target_host}
        )
        pool = await create_pool(url, min_size=2, max_size=20)
        try:
            yield Stack(settings, pool, env, pg.get_uri())
        finally:
            await pool.close()
            await env.shutdown()
            pg.cleanup()
            watcher.terminate()


@asynccontextmanager
async def api_only(s: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The API alone (in process, through its lifespan): for reads, no worker needed."""
    app = create_app(s.settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60
        ) as http,
    ):
        yield http


@asynccontextmanager
async def serving(s: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The API (in process, through its lifespan), Relais' worker and the baseline's worker,
    all on the stack's server: what every benchmark measures against."""
    app = create_app(s.settings)
    async with (
        app.router.lifespan_context(app),
        build_worker(s.env.client, s.pool, s.settings),
        Worker(
            s.env.client,
            task_queue=BASELINE_QUEUE,
            workflows=[BaselineWorkflow, PoolBaselineWorkflow, ReportBaselineWorkflow],
            activities=[noop],
        ),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60
        ) as http,
    ):
        yield http


@dataclass
class Figure:
    """One measured figure against its baseline. Printed (and flushed) as soon as it is
    made, so that a long run killed midway still shows every figure it measured."""

    name: str
    unit: str
    value: float
    baseline_name: str
    baseline: float

    def __post_init__(self) -> None:
        print(f"{_row(self)}\n  ({self.unit}; baseline: {self.baseline_name})", flush=True)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")


async def timed_rounds(
    rounds: int, subject: Callable[[], Awaitable[int]], baseline: Callable[[], Awaitable[int]]
) -> tuple[float, float, list[float]]:
    """Alternate subject and baseline, `rounds` times each; medians of items per second."""
    subject_rates, base_rates = [], []
    for _ in range(rounds):
        for fn, rates in ((baseline, base_rates), (subject, subject_rates)):
            t0 = time.perf_counter()
            n = await fn()
            rates.append(n / (time.perf_counter() - t0))
    ratios = [s / b for s, b in zip(subject_rates, base_rates, strict=True)]
    return statistics.median(subject_rates), statistics.median(base_rates), ratios


async def alternating_ms(
    calls: int, subject: Callable[[], Awaitable[None]], baseline: Callable[[], Awaitable[None]]
) -> tuple[list[float], list[float]]:
    """`calls` alternating calls of baseline then subject; milliseconds each."""
    s, b = [], []
    for _ in range(calls):
        for fn, out in ((baseline, b), (subject, s)):
            t0 = time.perf_counter()
            await fn()
            out.append(1000 * (time.perf_counter() - t0))
    return s, b


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _row(f: Figure) -> str:
    return f"{f.name:<44} {f.value:>10.1f} {f.baseline:>10.1f} {f.ratio:>7.2f}"


def table(figures: list[Figure]) -> str:
    head = f"{'figure':<44} {'value':>10} {'baseline':>10} {'ratio':>7}"
    rows = [head, "-" * len(head)]
    for f in figures:
        rows.append(_row(f))
        rows.append(f"  ({f.unit}; baseline: {f.baseline_name})")
    return "\n".join(rows)
