"""Composition root of the worker: Settings → pool → client → activities → worker."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.booking import BookingActivities
from activities.convention import ConventionActivities
from activities.mail import MailActivities
from activities.onboarding import OnboardingActivities
from activities.people import PeopleActivities
from activities.pooling import PoolingActivities
from activities.processes import ProcessActivities
from activities.recruitment import RecruitmentActivities
from domain.processes import OutboxRelayInput
from relais.logging import configure_logging
from relais.mail import MailTransport, SmtpTransport
from relais.metrics import install_runtime
from relais.settings import Settings
from relais.shutdown import ACTIVITY_GRACE, HardStop, close_pool
from relais.temporal import connect
from store.pool import create_pool
from worker.health import beat
from workflows.booking import ReservationWorkflow
from workflows.convention import ConventionWorkflow
from workflows.onboarding import MemberOnboardingWorkflow
from workflows.outbox import OutboxRelayWorkflow, ensure_outbox_relay
from workflows.people import DailyDigestWorkflow, ensure_digest_schedule
from workflows.pooling import ServicePoolWorkflow
from workflows.recruitment import (
    CandidateErasureWorkflow,
    RecruitmentCampaignWorkflow,
    RecruitmentReferralWorkflow,
    ensure_erasure_schedule,
)

log = structlog.get_logger(__name__)

WORKFLOWS: Sequence[type] = (
    MemberOnboardingWorkflow,
    RecruitmentCampaignWorkflow,
    RecruitmentReferralWorkflow,
    CandidateErasureWorkflow,
    ServicePoolWorkflow,
    ReservationWorkflow,
    ConventionWorkflow,
    OutboxRelayWorkflow,
    DailyDigestWorkflow,
)


def activities_for(
    pool: asyncpg.Pool, settings: Settings, client: Client, mail: MailTransport | None = None
) -> list[Any]:
    onboarding = OnboardingActivities(pool)
    sender = MailActivities(pool, settings, mail or SmtpTransport(settings))
    processes = ProcessActivities(pool, settings)
    recruitment = RecruitmentActivities(pool, settings, client)
    pooling = PoolingActivities(pool, settings)
    booking = BookingActivities(pool)
    convention = ConventionActivities(pool)
    people = PeopleActivities(pool, settings)
    return [
        sender.send_due,
        convention.record_phase,
        convention.set_step,
        convention.sign,
        convention.amend,
        convention.add_expense,
        convention.take_snapshot,
        convention.save_evaluation,
        pooling.create_pool,
        pooling.record_request,
        pooling.sync_pool,
        pooling.place_order,
        pooling.set_order,
        pooling.write_invoices,
        booking.reserve,
        booking.cancel_reservation,
        booking.end_reservation,
        recruitment.create_campaign,
        recruitment.relay_offer,
        recruitment.set_campaign_status,
        recruitment.count_in_interview,
        recruitment.notify_open_referrals,
        recruitment.send_report,
        recruitment.register_referral,
        recruitment.set_referral_step,
        recruitment.record_hire,
        recruitment.erase_candidates,
        onboarding.check_member,
        onboarding.record_membership,
        onboarding.activate_membership,
        onboarding.close_membership,
        processes.project_status,
        processes.open_task,
        processes.close_task,
        processes.enqueue_mail,
        people.send_digests,
        people.purge_expired,
    ]


def relay_input(settings: Settings) -> OutboxRelayInput:
    return OutboxRelayInput(poll_seconds=settings.mail_poll_seconds)


def workflow_runner() -> SandboxedWorkflowRunner:
    # pydantic's EmailStr validates with email_validator (and idna) inside the sandbox.
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna")
    )


def build_worker(
    client: Client, pool: asyncpg.Pool, settings: Settings, mail: MailTransport | None = None
) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(pool, settings, client, mail),
        workflow_runner=workflow_runner(),
        graceful_shutdown_timeout=ACTIVITY_GRACE,
    )


async def run_worker(settings: Settings) -> None:
    """`relais worker`: runs until SIGINT/SIGTERM, then drains and closes cleanly."""
    configure_logging(json=settings.json_logs, level=settings.log_level)
    install_runtime(settings)
    pool = await create_pool(
        settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    client = await connect(settings)
    worker = build_worker(client, pool, settings)
    await ensure_erasure_schedule(client, settings.task_queue, settings.candidate_retention_months)
    await ensure_outbox_relay(client, settings.task_queue, relay_input(settings))
    await ensure_digest_schedule(
        client, settings.task_queue, settings.digest_hour, settings.time_zone
    )
    # Activities get ACTIVITY_GRACE to finish, then are cancelled; whatever still holds the
    # process HARD_STOP_S after the signal (or at a second one) ends with it.
    hard_stop = HardStop()
    stop = asyncio.Event()

    def on_signal() -> None:
        hard_stop.arm()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    log.info("worker started", task_queue=settings.task_queue)
    heartbeat = asyncio.create_task(beat(pool, client, settings.worker_health_file))

    async def serve() -> None:
        async with worker:
            await stop.wait()
            log.info("worker stopping")

    # A local activity stuck in its retries keeps the worker's own drain going: after the
    # grace and a little more, stop waiting for it.
    running = asyncio.create_task(serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
    try:
        if running.done():  # the worker failed on its own: its error ends the process
            stopping.cancel()
            running.result()
        _, late = await asyncio.wait([running], timeout=ACTIVITY_GRACE.total_seconds() + 3)
        if late:
            log.warning("activities still running at stop; cancelled")
            running.cancel()
            await asyncio.wait([running], timeout=2)
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        await close_pool(pool)
