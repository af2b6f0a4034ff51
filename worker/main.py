"""Composition root of the worker: Settings → pool → client → activities → worker."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.onboarding import OnboardingActivities
from activities.processes import ProcessActivities
from relais.logging import configure_logging
from relais.settings import Settings
from relais.temporal import connect
from store.pool import create_pool
from workflows.onboarding import MemberOnboardingWorkflow

log = structlog.get_logger(__name__)

WORKFLOWS: Sequence[type] = (MemberOnboardingWorkflow,)


def activities_for(pool: asyncpg.Pool) -> list[Any]:
    onboarding = OnboardingActivities(pool)
    processes = ProcessActivities(pool)
    return [
        onboarding.check_member,
        onboarding.record_membership,
        onboarding.activate_membership,
        onboarding.close_membership,
        processes.project_status,
        processes.open_task,
        processes.close_task,
        processes.enqueue_mail,
        processes.audit,
    ]


def build_worker(client: Client, pool: asyncpg.Pool, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(pool),
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def run_worker(settings: Settings) -> None:
    """`relais worker`: runs until SIGINT/SIGTERM, then drains and closes cleanly."""
    configure_logging(json=settings.json_logs, level=settings.log_level)
    pool = await create_pool(
        settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    client = await connect(settings)
    worker = build_worker(client, pool, settings.task_queue)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker started", task_queue=settings.task_queue)
    async with worker:
        await stop.wait()
        log.info("worker stopping")
    await pool.close()
