"""`kill -9` of the worker while pools and a recruitment campaign write to Postgres: every
process still completes, and nothing is recorded or mailed twice. The worker runs as `relais
worker` in its own process, against the real dev server and Postgres; it is killed twice in
each test, at different steps."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.service import RPCError

from domain.auth import Role
from domain.organisations import OrganisationKind
from domain.pooling import (
    JoinRequest,
    MemberAction,
    PoolingRule,
    PoolState,
    PoolStatus,
    ProviderAction,
    ServiceCost,
    ServiceCreate,
    ServiceUnit,
    SplitRule,
    pool_for,
)
from domain.recruitment import (
    CampaignCreate,
    CampaignStatus,
    PositionCreate,
    ReferralAction,
    ReferralCreate,
    ReferralState,
    ReferralStep,
    campaign_workflow_id,
    referral_workflow_id,
)
from store.crypto import Sealer
from store.pooling import PoolingRepository
from store.recruitment import sealed_referral
from tests.factories import launch_campaign, make_org, make_user, recruitment_parties
from workflows.clients import update_with_retry
from workflows.pooling import ServicePoolWorkflow, join_pool
from workflows.recruitment import RecruitmentCampaignWorkflow, RecruitmentReferralWorkflow, refer

pytestmark = pytest.mark.system

RELAIS = Path(sys.executable).parent / "relais"
POOLS = 5
MEMBERS = 8


class WorkerProcess:
    def __init__(self, settings, address: str, log: Path) -> None:
        self.env = {
            **os.environ,
            "RELAIS_DEV_MODE": "true",
            "RELAIS_DATABASE_URL": settings.database_url,
            "RELAIS_TEMPORAL_ADDRESS": address,
            "RELAIS_TASK_QUEUE": settings.task_queue,
            "RELAIS_LOG_LEVEL": "WARNING",
        }
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(RELAIS), "worker"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def kill9(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-2000:]
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)


async def _state(handle) -> PoolState:
    """The pool's state, asked again when a query is cut by the failover: sent just after a
    kill, it can wait on the dead worker's sticky queue until the server's timeout (the API's
    own reads of a pool fall back to the database then)."""
    for _ in range(10):
        try:
            return await handle.query(ServicePoolWorkflow.state)
        except RPCError:
            await asyncio.sleep(0.5)
    raise AssertionError(f"{handle.id} answered no query")


async def _until(handle, status: PoolStatus) -> None:
    for _ in range(600):
        if (await _state(handle)).status == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{handle.id} never reached {status}")


async def test_worker_killed_twice_mid_pools_loses_and_duplicates_nothing(
    db, settings, dev_env, tmp_path
):
    network = await make_org(db, OrganisationKind.ASSOCIATION, name="Réseau Nord")
    provider = await make_org(db, OrganisationKind.PROVIDER, name="Cabinet du Port")
    members = []
    for i in range(MEMBERS):
        org = await make_org(db, name=f"Atelier {i}")
        members.append((org, (await make_user(db, org.id, Role.MEMBER))[0]))
    services = []
    async with db.acquire() as c:
        for p in range(POOLS):
            services.append(
                await PoolingRepository(c).create_service(
                    network.id,
                    ServiceCreate(
                        code=f"svc-{p}-{uuid.uuid4().hex[:6]}",
                        name=f"Service {p}",
                        unit=ServiceUnit.DAY,
                        pooling=PoolingRule(min_participants=MEMBERS),
                        window_days=90,
                        cost=ServiceCost(fixed_cents=100_001, per_unit_cents=3_333),
                        split_rule=SplitRule.HEADCOUNT_WEIGHTED,
                        acceptance_days=7,
                        provider_id=provider.id,
                    ),
                )
            )
    now = await dev_env.get_current_time()
    needed_by = (now + timedelta(days=40)).date()
    client = dev_env.client
    address = client.service_client.config.target_host
    worker = WorkerProcess(settings, address, tmp_path / "worker.log")
    worker.start()
    try:
        joins = [
            asyncio.create_task(
                join_pool(
                    client,
                    settings.task_queue,
                    pool_for(service, needed_by),
                    JoinRequest(
                        request_id=uuid.uuid5(org.id, service.code),
                        idempotency_key=service.code,
                        member_id=org.id,
                        quantity=1 + i % 3,
                        needed_by=needed_by,
                        created_by=user,
                    ),
                )
            )
            for service in services
            for i, (org, user) in enumerate(members)
        ]
        await asyncio.sleep(1.5)  # the worker is recording requests
        worker.kill9()
        worker.start()  # a new worker takes over the same task queue
        results = await asyncio.gather(*joins)
        assert all(r.refusal is None for r in results)

        handles = [
            client.get_workflow_handle_for(ServicePoolWorkflow.run, pool_for(s, needed_by).pool_id)
            for s in services
        ]
        for h in handles:
            await _until(h, PoolStatus.QUOTING)

        async def accept(h, org) -> None:
            state = await _state(h)
            p = next(p for p in state.participants if p.member_id == org.id)
            await update_with_retry(
                h,
                ServicePoolWorkflow.act,
                MemberAction(
                    kind="accept",
                    request_id=p.request_id,
                    organisation_id=org.id,
                    role=Role.MEMBER,
                    quote_cents=p.quote_cents,
                ),
            )

        accepts = [asyncio.create_task(accept(h, org)) for h in handles for org, _ in members]
        await asyncio.sleep(1.0)  # the worker is writing accepts and placing orders
        worker.kill9()
        worker.start()
        await asyncio.gather(*accepts)
        for h in handles:
            await _until(h, PoolStatus.ORDERED)
            for kind in ("confirm", "delivered"):
                await h.execute_update(
                    ServicePoolWorkflow.provider,
                    ProviderAction(kind=kind, organisation_id=provider.id, role=Role.PARTNER),
                )
            state = await _state(h)
            for p in state.participants:
                await h.execute_update(
                    ServicePoolWorkflow.act,
                    MemberAction(
                        kind="rate",
                        request_id=p.request_id,
                        organisation_id=p.member_id,
                        role=Role.MEMBER,
                        stars=4,
                    ),
                )
        finals = [await h.result() for h in handles]
    finally:
        worker.stop()

    assert {f.status for f in finals} == {PoolStatus.COMPLETED}
    n = POOLS * MEMBERS
    assert await db.fetchval("SELECT count(*) FROM service_requests") == n
    assert await db.fetchval("SELECT count(*) FROM service_requests WHERE status = 'invoiced'") == n
    per_pool = await db.fetch(
        "SELECT p.total_cents, sum(i.amount_cents) AS billed, count(*) AS lines "
        "FROM invoice_lines i JOIN pools p ON p.id = i.pool_id GROUP BY p.id"
    )
    assert len(per_pool) == POOLS
    assert all(r["billed"] == r["total_cents"] and r["lines"] == MEMBERS for r in per_pool)
    assert await db.fetchval("SELECT count(*) FROM service_orders") == POOLS
    mails = dict(
        await db.fetch("SELECT split_part(subject, ' ', 1), count(*) FROM outbox GROUP BY 1")
    )
    assert mails["Devis"] == n and mails["Facture"] == n and mails["Commande"] == n + POOLS
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE closed_at IS NULL") == 0


HIRES, REJECTED, SPARE = 10, 2, 8  # interviewed and hired, interviewed and rejected, never screened
DUPLICATES = 2  # referrals of a person another agency referred first


async def _referral_result(handle) -> ReferralState:
    for _ in range(300):
        try:
            return await handle.result()
        except RPCError:  # the result's long poll cut by the failover: ask again
            await asyncio.sleep(0.1)
    raise AssertionError(f"{handle.id} never ended")


async def test_worker_killed_twice_mid_campaign_loses_and_duplicates_nothing(
    db, settings, dev_env, tmp_path
):
    """The seed's campaign in small: two agencies refer candidates while the worker dies,
    then screening, interviews, consents and decisions run while it dies again; every hire
    is recorded once, every mail sent once, the campaign ends filled."""
    p = await recruitment_parties(db)
    agencies = p.agencies
    client = dev_env.client
    spec = CampaignCreate(
        request_id="c-kill",
        employer_id=p.employer.id,
        title="Préparateurs de commandes",
        positions=[
            PositionCreate(title="Préparateur", count=HIRES, contract="cdi", place_postcode="13014")
        ],
        territory_postcodes=["13014", "13015"],
        agency_ids=[a.id for a in agencies],
        deadline=await dev_env.get_current_time() + timedelta(days=30),
    )
    worker = WorkerProcess(settings, client.service_client.config.target_host, tmp_path / "w.log")
    worker.start()
    try:
        input, _ = await launch_campaign(client, settings.task_queue, p.network.id, p.staff, spec)
        campaign_id, [position_id] = input.campaign_id, input.position_ids
        sealer = Sealer(settings.data_keys)
        people = HIRES + REJECTED + SPARE
        bodies = [
            (
                n % 2,
                ReferralCreate(
                    request_id=f"r{n}",
                    first_name="Camille",
                    last_name=f"N{n}",
                    # the last ones name, at the other agency, someone referred first
                    email=f"candidat{n - people + 1 if n >= people else n}@example.fr",
                    postcode="13015",
                    skills=["CACES"],
                    experience_years=3,
                ),
            )
            for n in range(people + DUPLICATES)
        ]

        async def one(a: int, body: ReferralCreate):
            await asyncio.sleep(0.05 * int(body.request_id[1:]))  # the firsts come first
            agency = agencies[a]
            referral_id = uuid.uuid5(campaign_id, f"{agency.id}:{body.request_id}")
            sealed = sealed_referral(sealer, referral_id, campaign_id, agency.id, body)
            reg = await refer(client, settings.task_queue, sealed)
            wid = referral_workflow_id(campaign_id, agency.id, body.request_id)
            return a, reg, client.get_workflow_handle_for(RecruitmentReferralWorkflow.run, wid)

        referrals = [asyncio.create_task(one(a, body)) for a, body in bodies]
        await asyncio.sleep(0.6)  # the worker is recording referrals
        assert not all(t.done() for t in referrals)
        worker.kill9()
        worker.start()
        referred = await asyncio.gather(*referrals)
        steps = [reg.step for _, reg, _ in referred]
        assert steps.count(ReferralStep.DUPLICATE) == DUPLICATES
        assert steps.count(ReferralStep.SCREENING) == people

        def act(kind: str, a: int, n: int, **kw) -> ReferralAction:
            user, org, role = {
                "screen": (p.staff, p.network.id, Role.STAFF),
                "consent": (p.agency_users[a], agencies[a].id, Role.AGENCY),
            }.get(kind, (p.member, p.employer.id, Role.MEMBER))
            return ReferralAction(
                kind=kind,
                request_id=f"{kind}-{n}",
                user_id=user,
                organisation_id=org,
                role=role,
                **kw,
            )

        async def interview(n: int, a: int, handle) -> None:
            for action in (
                act("screen", a, n, retained=True, reason="profil adapté"),
                act("request_interview", a, n),
                act("consent", a, n, given=True),
            ):
                await update_with_retry(handle, RecruitmentReferralWorkflow.act, action)

        # Which of a person's two referrals came first depends on the kill: whichever did
        # is the one to screen.
        open_ones = [(a, h) for a, reg, h in referred if reg.step == ReferralStep.SCREENING]
        interviewed = [(n, a, h) for n, (a, h) in enumerate(open_ones[: HIRES + REJECTED])]
        steps_done = [asyncio.create_task(interview(n, a, h)) for n, a, h in interviewed]
        screened = "SELECT count(*) FROM referrals WHERE status NOT IN ('screening', 'duplicate')"
        # Kill as the first candidate leaves screening. After the first kill, a referral's next
        # task can wait for the dead worker's sticky queue to time out (10 s) before the new
        # worker takes it: the wait allows 60 s (a clean-clone run fell short of 10 s).
        for _ in range(3000):
            if await db.fetchval(screened):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("no candidate was screened\n" + worker.log.read_text()[-2000:])
        assert not all(t.done() for t in steps_done)
        worker.kill9()
        worker.start()
        await asyncio.gather(*steps_done)
        for n, a, h in interviewed[HIRES:]:
            await update_with_retry(
                h,
                RecruitmentReferralWorkflow.act,
                act("decide", a, n, hired=False, reason="junior"),
            )
        await asyncio.gather(
            *(
                update_with_retry(
                    h,
                    RecruitmentReferralWorkflow.act,
                    act("decide", a, n, hired=True, reason="motivé", position_id=position_id),
                )
                for n, a, h in interviewed[:HIRES]
            )
        )
        campaign = client.get_workflow_handle_for(
            RecruitmentCampaignWorkflow.run, campaign_workflow_id(campaign_id)
        )
        final = await campaign.result()
        ends = [(await _referral_result(h)).step for _, _, h in referred]
    finally:
        worker.stop()

    assert final.status == CampaignStatus.FILLED
    assert ends.count(ReferralStep.HIRED) == HIRES
    assert ends.count(ReferralStep.REJECTED) == REJECTED
    counts = dict(await db.fetch("SELECT status, count(*) FROM referrals GROUP BY status"))
    assert counts == {
        "hired": HIRES,
        "rejected": REJECTED,
        "duplicate": DUPLICATES,
        "not_retained": SPARE,
    }
    hired = "SELECT count(*) FROM referrals WHERE hired_position_id = $1"
    assert await db.fetchval(hired, position_id) == HIRES
    assert await db.fetchval("SELECT filled FROM campaign_positions") == HIRES
    assert await db.fetchval("SELECT status FROM campaigns") == "filled"
    mails = dict(
        await db.fetch("SELECT split_part(subject, ' —', 1), count(*) FROM outbox GROUP BY 1")
    )
    assert mails["Candidat embauché"] == HIRES
    assert mails["Candidature refusée"] == REJECTED
    assert mails["Candidature en doublon"] == DUPLICATES
    assert sum(v for k, v in mails.items() if k.startswith("Offre relayée")) == len(agencies)
    assert sum(v for k, v in mails.items() if k.startswith("Bilan de la campagne")) == 1
    dupes = await db.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM outbox GROUP BY recipient, subject, body "
        "HAVING count(*) > 1) d"
    )
    assert dupes == 0
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE closed_at IS NULL") == 0
