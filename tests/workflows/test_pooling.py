"""Pooled services and reservations on the time-skipping server, with the real activities and
Postgres: rule met early, a window closing with too few, declines (recomputed quotes, or a
broken rule), compensation after a provider's refusal, waitlist promotion."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.auth import Role
from domain.booking import (
    ReservationCancel,
    ReservationInput,
    ReservationStatus,
    ResourceCreate,
    ResourceKind,
    reservation_workflow_id,
)
from domain.organisations import OrganisationKind
from domain.pooling import (
    JoinRequest,
    MemberAction,
    PoolingRule,
    PoolStatus,
    ProviderAction,
    RequestStatus,
    ServiceCost,
    ServiceCreate,
    ServicePublic,
    ServiceUnit,
    SplitRule,
    pool_for,
)
from store.booking import BookingRepository
from store.pooling import PoolingRepository
from tests.factories import make_org, make_user
from tests.workflows.test_onboarding import _record
from worker.main import build_worker
from workflows.booking import ReservationWorkflow, book
from workflows.pooling import ServicePoolWorkflow, join_pool


@dataclass
class World:
    env: object
    settings: object
    db: object
    network: object
    provider: object
    staff: uuid.UUID
    members: list = field(default_factory=list)
    users: list = field(default_factory=list)
    service: ServicePublic | None = None
    needed_by: date | None = None
    tag: str = ""  # prefixes the request keys: a new one for each pool of a test

    async def catalogue(
        self, *, min_participants=3, min_quantity=0, split=SplitRule.EQUAL, max_participants=None
    ):
        async with self.db.acquire() as c:
            self.service = await PoolingRepository(c).create_service(
                self.network.id,
                ServiceCreate(
                    code=f"compta-{uuid.uuid4().hex[:6]}",
                    name="Comptable partagé",
                    unit=ServiceUnit.DAY,
                    pooling=PoolingRule(
                        min_participants=min_participants, min_quantity=min_quantity
                    ),
                    window_days=90,
                    cost=ServiceCost(fixed_cents=100_000, per_unit_cents=33_333),
                    split_rule=split,
                    acceptance_days=5,
                    provider_id=self.provider.id,
                    max_participants=max_participants,
                ),
            )
        now = await self.env.get_current_time()
        self.needed_by = (now + timedelta(days=45)).date()
        return self.service

    @property
    def pool_id(self) -> str:
        return pool_for(self.service, self.needed_by).pool_id

    def handle(self):
        return self.env.client.get_workflow_handle_for(ServicePoolWorkflow.run, self.pool_id)

    async def request(self, i: int, quantity: int = 2, key: str | None = None):
        key = key or f"{self.tag}req-{i}"
        return await join_pool(
            self.env.client,
            self.settings.task_queue,
            pool_for(self.service, self.needed_by),
            JoinRequest(
                request_id=uuid.uuid5(self.members[i].id, key),
                idempotency_key=key,
                member_id=self.members[i].id,
                quantity=quantity,
                needed_by=self.needed_by,
                created_by=self.users[i],
            ),
            indexed=False,
        )

    async def act(self, i: int, kind: str, **kw):
        request_id = uuid.uuid5(self.members[i].id, f"{self.tag}req-{i}")
        if kind == "accept" and "quote_cents" not in kw:  # the quote as the member sees it
            kw["quote_cents"] = (await self.state()).participant(request_id).quote_cents
        return await self.handle().execute_update(
            ServicePoolWorkflow.act,
            MemberAction(
                kind=kind,
                request_id=request_id,
                organisation_id=self.members[i].id,
                role=Role.MEMBER,
                **kw,
            ),
        )

    async def provider_says(self, kind: str, **kw):
        return await self.handle().execute_update(
            ServicePoolWorkflow.provider,
            ProviderAction(kind=kind, organisation_id=self.provider.id, role=Role.PARTNER, **kw),
        )

    async def state(self):
        return await self.handle().query(ServicePoolWorkflow.state)


@pytest.fixture
async def world(ts_env, db, settings):
    network = await make_org(db, OrganisationKind.ASSOCIATION, name="Réseau Nord")
    provider = await make_org(db, OrganisationKind.PROVIDER, name="Cabinet Comptable du Port")
    staff, _ = await make_user(db, network.id, Role.STAFF)
    w = World(ts_env, settings, db, network, provider, staff)
    for i in range(4):
        org = await make_org(db, name=f"Atelier {i}")
        w.members.append(org)
        w.users.append((await make_user(db, org.id, Role.MEMBER))[0])
    async with build_worker(ts_env.client, db, settings):
        yield w


async def _refused(call, message: str) -> None:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await call
    assert message in str(err.value.cause)


async def _eventually(db, sql: str) -> object:
    """The query's first non-null answer (activities still running write their rows)."""
    for _ in range(200):
        if (value := await db.fetchval(sql)) is not None:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"never answered: {sql}")


async def _wait_status(world: World, status: PoolStatus) -> None:
    for _ in range(200):
        if (await world.state()).status == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"pool never reached {status}")


async def test_rule_met_early_order_delivery_invoices_and_ratings(world, db):
    # At most three: a minimum is not a cap (issue 17), the catalogue's maximum is.
    await world.catalogue(min_participants=3, max_participants=3)
    # Concurrent first requests, one of them sent twice: one pool, three requests.
    results = await asyncio.gather(
        world.request(0), world.request(1, 3), world.request(0), world.request(2, 5)
    )
    assert {r.pool_id for r in results} == {world.pool_id}
    assert results[0] == results[2]  # the retry answers as the first time
    assert await db.fetchval("SELECT count(*) FROM pools") == 1
    assert await db.fetchval("SELECT count(*) FROM service_requests") == 3

    await _wait_status(world, PoolStatus.QUOTING)  # the rule is met before the window closes
    state = await world.state()
    total = 100_000 + 33_333 * 10
    assert state.total_cents == total
    quotes = sorted(p.quote_cents for p in state.participants)
    assert quotes == [144_443, 144_443, 144_444] and sum(quotes) == total

    await _refused(world.request(3), "le regroupement est complet (3 entreprises)")
    await _refused(world.act(0, "rate", stars=5), "l'évaluation suit la livraison")
    accepted = [await world.act(i, "accept") for i in range(3)]
    assert {p.status for p in accepted} == {RequestStatus.ACCEPTED}
    replay = await world.act(0, "accept")  # answered with the state it led to
    assert replay.accepted_cents == accepted[0].accepted_cents

    await _wait_status(world, PoolStatus.ORDERED)
    # The workflow says « ordered » as it schedules the order's activity: its row follows.
    assert await _eventually(db, "SELECT status FROM service_orders") == "placed"
    await _refused(world.provider_says("delivered"), "aucune livraison")
    await world.provider_says("confirm", reference="CMD-42")
    await _refused(world.provider_says("refuse"), "a déjà répondu (confirm)")
    state = await world.provider_says("delivered")
    assert state.status == PoolStatus.RATING
    lines = await db.fetch("SELECT amount_cents FROM invoice_lines")
    assert sum(r["amount_cents"] for r in lines) == total and len(lines) == 3
    for i, stars in enumerate((5, 4, 4)):
        await world.act(i, "rate", stars=stars, comment="Très réactif")
    final = await world.handle().result()
    assert final.status == PoolStatus.COMPLETED and final.order_reference == "CMD-42"
    await _record(world.handle(), "pool_completed")

    rows = await db.fetch("SELECT status, rating FROM service_requests")
    assert {(r["status"], r["rating"]) for r in rows} == {("invoiced", 5), ("invoiced", 4)}
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE closed_at IS NULL") == 0
    subjects = [r["subject"] for r in await db.fetch("SELECT subject FROM outbox")]
    assert sum(s.startswith("Devis") for s in subjects) == 3
    assert sum(s.startswith("Facture") for s in subjects) == 3
    assert any(s.startswith("Commande groupée") for s in subjects)


async def test_acts_sent_at_once_are_each_answered_and_stored(world, db):
    # Members' acts that arrive together are written together (batched-acts): each is
    # answered with its own request, every row and task follows, the pool goes on.
    await world.catalogue(min_participants=4)
    await asyncio.gather(*(world.request(i, i + 1) for i in range(4)))
    await _wait_status(world, PoolStatus.QUOTING)
    quotes = {p.member_id: p.quote_cents for p in (await world.state()).participants}
    answers = await asyncio.gather(*(world.act(i, "accept") for i in range(4)))
    for i, answer in enumerate(answers):
        assert answer.member_id == world.members[i].id
        assert answer.status == RequestStatus.ACCEPTED
        assert answer.accepted_cents == quotes[world.members[i].id]
    await _wait_status(world, PoolStatus.ORDERED)
    await world.provider_says("confirm", reference="CMD-7")
    await world.provider_says("delivered")
    rated = await asyncio.gather(*(world.act(i, "rate", stars=i + 2) for i in range(4)))
    assert [p.rating for p in rated] == [2, 3, 4, 5]
    final = await world.handle().result()
    assert final.status == PoolStatus.COMPLETED
    # Where the pool stands is written with each step's rows (one-write-per-step).
    process = await db.fetchrow("SELECT status, step FROM processes")
    assert (process["status"], process["step"]) == ("completed", "completed")
    rows = await db.fetch("SELECT member_id, status, rating, accepted_cents FROM service_requests")
    assert {(r["member_id"], r["status"], r["rating"], r["accepted_cents"]) for r in rows} == {
        (world.members[i].id, "invoiced", i + 2, quotes[world.members[i].id]) for i in range(4)
    }
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE closed_at IS NULL") == 0
    outcomes = await db.fetch("SELECT action, outcome, count(*) AS n FROM tasks GROUP BY 1, 2")
    assert {(r["action"], r["outcome"], r["n"]) for r in outcomes} >= {
        ("accept_quote", "accepted", 4),
        ("rate", "rated", 4),
    }


async def test_window_closing_with_too_few_fails_and_tells_everyone(world, db):
    await world.catalogue(min_participants=3)
    await world.request(0)
    await world.request(1)
    await world.act(1, "withdraw", reason="besoin couvert autrement")
    await world.env.sleep(timedelta(days=60))  # past the window's end
    final = await world.handle().result()
    assert final.status == PoolStatus.FAILED
    assert "1 participant(s)" in final.reason and "3 participant(s)" in final.reason
    rows = dict(await db.fetch("SELECT member_id, status FROM service_requests"))
    assert rows == {world.members[0].id: "released", world.members[1].id: "withdrawn"}
    told = await db.fetch("SELECT recipient FROM outbox WHERE subject LIKE 'Regroupement annulé%'")
    assert [r["recipient"] for r in told] == [f"org:{world.members[0].id}"]
    await _record(world.handle(), "pool_window_closed")


async def test_a_decline_recomputes_quotes_and_a_rise_asks_again(world, db):
    await world.catalogue(min_participants=2)
    await world.request(0)
    await world.request(1)
    await _wait_status(world, PoolStatus.QUOTING)  # two are enough: quotes go out
    first = {p.member_id: p.quote_cents for p in (await world.state()).participants}
    await world.act(0, "accept")
    await world.act(1, "decline", reason="trop cher")
    # One member left: the rule (2) no longer holds, the pool fails.
    final = await world.handle().result()
    assert final.status == PoolStatus.FAILED and "après les désistements" in final.reason
    assert first[world.members[0].id] == 116_666
    assert await db.fetchval("SELECT count(*) FROM invoice_lines") == 0


async def test_silent_member_drops_out_and_the_others_reaccept_a_higher_share(world, db):
    await world.catalogue(min_participants=2, min_quantity=10, split=SplitRule.EQUAL)
    await world.request(0, 2)
    await world.request(1, 2)
    assert (await world.state()).status == PoolStatus.GATHERING  # 4 of 10
    await world.request(2, 8)
    await _wait_status(world, PoolStatus.QUOTING)
    quotes = sorted(p.quote_cents for p in (await world.state()).participants)
    assert quotes == [166_665, 166_665, 166_666]
    await world.act(1, "accept")
    await world.act(2, "accept")
    await world.env.sleep(timedelta(days=6))  # member 0 never answers
    state = await world.state()
    assert state.quote_round == 2
    by_member = {p.member_id: p for p in state.participants}
    assert by_member[world.members[0].id].status == RequestStatus.EXPIRED
    # Still 10 units from two members: the rule holds, the shares rise and are asked again.
    assert {by_member[world.members[i].id].quote_cents for i in (1, 2)} == {216_665}
    assert all(by_member[world.members[i].id].status == RequestStatus.QUOTED for i in (1, 2))
    # A retried accept of the old amount does not agree to the new one.
    await _refused(world.act(1, "accept", quote_cents=166_665), "le devis a changé")
    await world.act(1, "accept")
    await world.act(2, "accept")
    await _wait_status(world, PoolStatus.ORDERED)
    await _record(world.handle(), "pool_requoted")


@pytest.mark.parametrize("failure", ["refuse", "cancel_delivery"])
async def test_provider_refusal_or_cancelled_delivery_compensates(world, db, failure):
    await world.catalogue(min_participants=2)
    await world.request(0)
    await world.request(1)
    await _wait_status(world, PoolStatus.QUOTING)
    await world.act(0, "accept")
    await world.act(1, "accept")
    await _wait_status(world, PoolStatus.ORDERED)
    await _refused(
        world.handle().execute_update(
            ServicePoolWorkflow.provider,
            ProviderAction(kind="refuse", organisation_id=world.members[0].id, role=Role.MEMBER),
        ),
        "seul le prestataire",
    )
    if failure == "cancel_delivery":
        await world.provider_says("confirm", reference="CMD-9")
    state = await world.provider_says(failure, reason="planning complet")
    assert state.status == PoolStatus.FAILED and state.compensated
    final = await world.handle().result()
    assert ("refusé la commande" if failure == "refuse" else "livraison annulée") in final.reason
    await _record(world.handle(), f"pool_compensated_{failure}")
    assert await db.fetchval("SELECT status FROM service_orders") == "cancelled"
    statuses = {r["status"] for r in await db.fetch("SELECT status FROM service_requests")}
    assert statuses == {"released"}
    assert await db.fetchval("SELECT count(*) FROM invoice_lines") == 0
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE closed_at IS NULL") == 0
    told = await db.fetchval("SELECT count(*) FROM outbox WHERE body LIKE '%rien ne vous sera%'")
    assert told == 2


async def test_waitlist_promotion_and_no_double_booking(world, db):
    async with db.acquire() as c:
        room = await BookingRepository(c).create_resource(
            world.network.id, ResourceCreate(kind=ResourceKind.ROOM, name="Salle Estaque")
        )
    now = await world.env.get_current_time()
    start = now + timedelta(days=3)

    def reservation(i: int, hours=(0, 2)):
        return ReservationInput(
            reservation_id=uuid.uuid4(),
            resource_id=room.id,
            member_id=world.members[i].id,
            created_by=world.users[i],
            starts_at=start + timedelta(hours=hours[0]),
            ends_at=start + timedelta(hours=hours[1]),
        )

    # Three members ask for overlapping slots at once: one gets it, two wait, in order.
    asks = [reservation(0), reservation(1, (1, 3)), reservation(2)]
    states = await asyncio.gather(
        *(book(world.env.client, world.settings.task_queue, r, indexed=False) for r in asks)
    )
    confirmed = [s for s in states if s.status == ReservationStatus.CONFIRMED]
    assert len(confirmed) == 1
    assert all(s.waitlist_position for s in states if s.status == "waitlisted")
    holder = next(r for r, s in zip(asks, states, strict=True) if s.status == "confirmed")
    by_id = {r.reservation_id: r for r in asks}
    line = await db.fetch(
        "SELECT id FROM reservations WHERE status = 'waitlisted' ORDER BY created_at, id"
    )
    first_in_line, second = (by_id[r["id"]] for r in line)

    handle = world.env.client.get_workflow_handle_for(
        ReservationWorkflow.run, reservation_workflow_id(holder.reservation_id)
    )
    await _refused(
        handle.execute_update(
            ReservationWorkflow.cancel,
            ReservationCancel(organisation_id=first_in_line.member_id, role="member", reason="x"),
        ),
        "seule l'entreprise",
    )
    await handle.execute_update(
        ReservationWorkflow.cancel,
        ReservationCancel(
            organisation_id=holder.member_id, role="member", reason="réunion reportée"
        ),
    )
    rows = dict(await db.fetch("SELECT id, status FROM reservations"))
    assert rows[holder.reservation_id] == "cancelled"
    assert rows[first_in_line.reservation_id] == "confirmed"
    assert rows[second.reservation_id] == "waitlisted"  # still overlaps the promoted one

    promoted = world.env.client.get_workflow_handle_for(
        ReservationWorkflow.run, reservation_workflow_id(first_in_line.reservation_id)
    )
    last = world.env.client.get_workflow_handle_for(
        ReservationWorkflow.run, reservation_workflow_id(second.reservation_id)
    )
    await world.env.sleep(timedelta(days=4))  # past the slot
    assert (await last.result()).status == ReservationStatus.EXPIRED
    assert (await promoted.result()).status == ReservationStatus.COMPLETED
    await _record(promoted, "reservation_promoted")
    subjects = [r["subject"] for r in await db.fetch("SELECT subject FROM outbox")]
    assert any(s.startswith("Réservation confirmée") for s in subjects)
    assert any(s.startswith("Liste d'attente") for s in subjects)
