"""The daily digest of overdue tasks, run by a schedule."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # What the client-side starters at the end of this module use (never in a workflow).
    from temporalio.client import (
        Client,
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleSpec,
    )

    from activities.people import PeopleActivities
    from domain.people import DigestInput, DigestResult, DigestRun
    from workflows.common import run_activity

DIGEST_SCHEDULE_ID = "relais-daily-digest"


@workflow.defn
class DailyDigestWorkflow:
    """Once a day (schedule `relais-daily-digest`, at `digest_hour` local time): each person
    who chose the daily digest on « Mon compte » and has overdue tasks gets one mail listing
    them; then expired sessions, sign-in links and rate-limit counters are forgotten.

    States: `digesting` → `purging` → done. Nobody acts on it; a second run the same day
    mails nobody twice (one dedup key per person and day).
    """

    @workflow.run
    async def run(self, input: DigestInput) -> DigestResult:
        day = input.day or workflow.now().date()
        result: DigestResult = await run_activity(PeopleActivities.send_digests, DigestRun(day=day))
        await run_activity(PeopleActivities.purge_expired, DigestRun(day=day))
        return result


# --- starting it (client side: the API's commands, the demo, the tests) ---------------


async def ensure_digest_schedule(
    client: Client, task_queue: str, hour: int, time_zone: str
) -> None:
    """The daily digest of overdue tasks, at `hour` in `time_zone` (kept if it exists)."""
    try:
        await client.create_schedule(
            DIGEST_SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    DailyDigestWorkflow.run,
                    DigestInput(),
                    id="daily-digest",
                    task_queue=task_queue,
                ),
                spec=ScheduleSpec(cron_expressions=[f"0 {hour} * * *"], time_zone_name=time_zone),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        pass
