"""The daily digest of overdue tasks, run by a schedule."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
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
