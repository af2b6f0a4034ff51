"""Pools that take members until the order (issue 17), on the time-skipping server with the
real activities and Postgres, under each split rule: a member joining after the rule is met
is quoted at once, lowers the shares it lowers without asking again and re-asks those it
raises; a decline that leaves the rule unmet fails the pool at once; and, whatever the order
of joins, acceptances, declines and withdrawals, nobody is billed more than it accepted."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from temporalio.client import WorkflowUpdateFailedError

from domain.auth import Role
from domain.pooling import (
    JoinRequest,
    PoolStatus,
    RecordRequest,
    RequestStatus,
    SplitRule,
    pool_for,
)
from store.pooling import PoolingRepository
from tests.factories import make_org, make_user
from tests.workflows.test_onboarding import _record
from tests.workflows.test_pooling import World, _wait_status
from tests.workflows.test_pooling import world as world  # the fixture

HEADCOUNTS = (5, 10, 5, 5, 8, 3)


@pytest.fixture
async def crowd(world, db) -> World:
    """Six member companies of different sizes."""
    for i in range(len(world.members), len(HEADCOUNTS)):
        org = await make_org(db, name=f"Atelier {i}")
        world.members.append(org)
        world.users.append((await make_user(db, org.id, Role.MEMBER))[0])
    for org, headcount in zip(world.members, HEADCOUNTS, strict=True):
        await db.execute("UPDATE organisations SET headcount = $2 WHERE id = $1", org.id, headcount)
    return world


def _rid(world: World, i: int) -> uuid.UUID:
    return uuid.uuid5(world.members[i].id, f"{world.tag}req-{i}")


async def _by_member(world: World) -> dict[int, object]:
    state = await world.state()
    index = {m.id: i for i, m in enumerate(world.members)}
    return {index[p.member_id]: p for p in state.participants}


async def _settled(world: World) -> object:
    """The pool's state once two readings agree: the split that followed the last act is
    written."""
    last = None
    for _ in range(100):
        state = await world.state()
        now = state.model_dump_json()
        if now == last:
            return state
        last = now
        await asyncio.sleep(0.1)
    raise AssertionError("the pool never settled")


async def _open_quote_tasks(db, world: World) -> dict[int, int]:
    rows = await db.fetch(
        "SELECT subject_id, count(*) FROM tasks WHERE action = 'accept_quote' "
        "AND closed_at IS NULL AND workflow_id = $1 GROUP BY subject_id",
        world.pool_id,
    )
    index = {str(_rid(world, i)): i for i in range(len(world.members))}
    return {index[r[0]]: r[1] for r in rows}


async def _mails_to(db, world: World, i: int, subject: str) -> list[str]:
    rows = await db.fetch(
        "SELECT body FROM outbox WHERE recipient = $1 AND subject LIKE $2 ORDER BY created_at",
        f"org:{world.members[i].id}",
        subject + "%",
    )
    return [r[0] for r in rows]


# Quotes after each step, per split rule (fixed 1,000.00 EUR + 333.33 EUR per day, the rule
# met at 3 companies): members 0, 1 and 2 ask for 2 days each, 0 and 1 accept while 2 has
# not answered yet (the order waits for it); member 3 joins late with 1 day, then member 4
# with 20. Headcounts 5, 10, 5, 5, 8. A share that falls stands accepted at the lower
# amount; a share that rises above what was accepted is asked again.
EXPECTED = {
    SplitRule.EQUAL: {
        "first": [100_000, 99_999, 99_999],
        "small": [83_333, 83_333, 83_333, 83_332],
        "big": [199_998, 199_998, 199_999, 199_998, 199_998],  # 20 days' cost shared: rises
        "asked_again": True,
    },
    SplitRule.PRO_RATA_QUANTITY: {
        "first": [100_000, 99_999, 99_999],
        "small": [95_238, 95_237, 95_237, 47_619],
        "big": [74_074, 74_073, 74_073, 37_037, 740_734],  # a pro rata share only falls
        "asked_again": False,
    },
    SplitRule.HEADCOUNT_WEIGHTED: {
        "first": [75_000, 149_999, 74_999],
        "small": [66_666, 133_333, 66_666, 66_666],
        # The cents left go to those within what they accepted (2, 3, 4), not to 0 and 1.
        "big": [151_513, 303_027, 151_514, 151_514, 242_423],
        "asked_again": True,
    },
}


@pytest.mark.parametrize("rule", list(SplitRule))
async def test_a_late_joiner_lowers_shares_without_asking_and_reasks_those_it_raises(
    crowd, db, rule
):
    world, expected = crowd, EXPECTED[rule]
    await world.catalogue(min_participants=3, split=rule)
    for i in range(3):
        await world.request(i, 2)
    await _wait_status(world, PoolStatus.QUOTING)
    first = await _settled(world)
    assert [p.quote_cents for p in first.participants] == expected["first"]
    for i in (0, 1):
        await world.act(i, "accept")

    # A fourth company joins after the rule is met: quoted at once; the two who accepted
    # stand accepted at their lower share, are told, and are asked nothing.
    late = await world.request(3, 1)
    assert late.status == RequestStatus.JOINED and late.pool_status == PoolStatus.QUOTING
    state = await _settled(world)
    assert [p.quote_cents for p in state.participants] == expected["small"]
    by = await _by_member(world)
    for i in (0, 1):
        assert by[i].status == RequestStatus.ACCEPTED
        assert by[i].accepted_cents == by[i].quote_cents < expected["first"][i]
        [told] = await _mails_to(db, world, i, "Votre part baisse")
        assert "Une entreprise a rejoint le regroupement" in told
        assert "vous n'avez rien à faire" in told
    assert [by[i].status for i in (2, 3)] == [RequestStatus.QUOTED] * 2
    assert await _open_quote_tasks(db, world) == {2: 1, 3: 1}
    rows = dict(await db.fetch("SELECT member_id, accepted_cents FROM service_requests"))
    assert rows[world.members[0].id] == expected["small"][0]  # the store says so too

    # A fifth with 20 days: under an equal or headcount split its per-unit cost raises
    # everyone's share, and those who had accepted are asked again; pro rata lowers them.
    await world.request(4, 20)
    state = await _settled(world)
    assert [p.quote_cents for p in state.participants] == expected["big"]
    assert state.total_cents == sum(expected["big"]) == 100_000 + 33_333 * 27
    by = await _by_member(world)
    if expected["asked_again"]:
        for i in (0, 1):
            assert by[i].status == RequestStatus.QUOTED
            assert by[i].quote_cents > by[i].accepted_cents == expected["small"][i]
            again = await _mails_to(db, world, i, "Devis :")
            assert "dépasse ce que vous aviez accepté" in again[-1]
        assert await _open_quote_tasks(db, world) == {i: 1 for i in range(5)}
        # Its earlier acceptance does not stand for the higher amount.
        with pytest.raises(WorkflowUpdateFailedError):
            await world.act(0, "accept", quote_cents=expected["small"][0])
    else:
        assert [by[i].status for i in (0, 1)] == [RequestStatus.ACCEPTED] * 2
        assert await _open_quote_tasks(db, world) == {2: 1, 3: 1, 4: 1}
    moved = await _mails_to(db, world, 2, "Devis mis à jour")
    assert len(moved) == 2 and all("votre part passe de" in m for m in moved)

    # Everyone accepts its share: ordered, delivered, invoiced at most what each accepted.
    accepted = {}
    for i in range(5):
        if by[i].status == RequestStatus.QUOTED:
            accepted[i] = (await world.act(i, "accept")).accepted_cents
        else:
            accepted[i] = by[i].accepted_cents
    await _wait_status(world, PoolStatus.ORDERED)
    await world.provider_says("confirm", reference="CMD-12")
    await world.provider_says("delivered")
    lines = {
        r["member_id"]: r["amount_cents"]
        for r in await db.fetch("SELECT member_id, amount_cents FROM invoice_lines")
    }
    assert [lines[world.members[i].id] for i in range(5)] == expected["big"]
    assert all(lines[world.members[i].id] <= accepted[i] for i in range(5))
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE action = 'accept_quote' "
                             "AND closed_at IS NULL") == 0  # fmt: skip
    if rule == SplitRule.EQUAL:
        await _record(world.handle(), "pool_late_joins")


@pytest.mark.parametrize("rule", list(SplitRule))
async def test_a_decline_that_breaks_the_rule_fails_the_pool_at_once(crowd, db, rule):
    world = crowd
    await world.catalogue(min_participants=3, split=rule)
    for i in range(3):
        await world.request(i, 2)
    await _wait_status(world, PoolStatus.QUOTING)
    await world.act(0, "accept")
    before = await world.env.get_current_time()
    await world.act(1, "decline", reason="trop cher")
    await _wait_status(world, PoolStatus.FAILED)
    # At once: not after the acceptance window (5 days).
    assert await world.env.get_current_time() - before < timedelta(hours=1)
    final = await world.handle().result()
    assert final.reason == (
        "2 participant(s) et une quantité de 4 après les désistements (1 devis décliné), "
        "pour 3 participant(s) et 0 au minimum"
    )
    rows = dict(await db.fetch("SELECT member_id, status FROM service_requests"))
    assert [rows[world.members[i].id] for i in range(3)] == ["released", "declined", "released"]
    told = await db.fetch(
        "SELECT recipient, body FROM outbox WHERE subject LIKE 'Regroupement annulé%' "
        "ORDER BY recipient"
    )
    assert sorted(r[0] for r in told) == sorted(f"org:{world.members[i].id}" for i in (0, 2))
    assert all("ne peut pas aboutir : 2 participant(s)" in r[1] for r in told)
    assert "rien ne vous sera facturé" in told[0][1]
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE closed_at IS NULL") == 0
    assert await db.fetchval("SELECT count(*) FROM invoice_lines") == 0


async def test_no_late_join_once_the_pooling_window_has_closed(crowd, db):
    world = crowd
    await world.catalogue(min_participants=2)
    closes = pool_for(world.service, world.needed_by).closes_at
    await world.env.sleep(closes - await world.env.get_current_time() - timedelta(days=2))
    await world.request(0)
    await world.request(1)
    await _wait_status(world, PoolStatus.QUOTING)
    await world.act(0, "accept")  # member 1 has 5 days to answer: past the window's end
    await world.env.sleep(timedelta(days=3))
    assert (await world.state()).status == PoolStatus.QUOTING
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await world.request(2)
    assert "la fenêtre de mutualisation" in str(err.value.cause)
    await world.act(1, "accept")
    await _wait_status(world, PoolStatus.ORDERED)


# --- whatever the order of events, on the real server -----------------------------------

events = st.lists(
    st.one_of(
        st.tuples(st.just("join"), st.integers(1, 12)),
        st.tuples(st.sampled_from(["accept", "decline", "withdraw"]), st.integers(0, 5)),
    ),
    min_size=2,
    max_size=6,
)


@settings(
    deadline=None,
    max_examples=6,
    # Each example is a real pool on the server: a failure is reported as found, not shrunk.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rule=st.sampled_from(list(SplitRule)),
    min_participants=st.integers(2, 3),
    first=st.lists(st.integers(1, 12), min_size=3, max_size=3),
    script=events,
)
async def test_nobody_is_billed_more_than_it_accepted_on_the_real_server(
    crowd, db, rule, min_participants, first, script
):
    world = crowd
    world.tag = uuid.uuid4().hex[:8]  # each example its own pool and requests
    await world.catalogue(min_participants=min_participants, split=rule)
    accepted: dict[int, int] = {}  # the amount each member last accepted
    joined = 0
    for quantity in first[:min_participants]:
        await world.request(joined, quantity)
        joined += 1
    await _wait_status(world, PoolStatus.QUOTING)
    for kind, n in script:
        state = await _settled(world)
        if state.status != PoolStatus.QUOTING:
            break
        by = await _by_member(world)
        if kind == "join":
            if joined < len(world.members):
                await world.request(joined, n)
                joined += 1
            continue
        wanted = {
            "accept": (RequestStatus.QUOTED,),
            "decline": (RequestStatus.QUOTED,),
            "withdraw": (RequestStatus.JOINED, RequestStatus.QUOTED),
        }[kind]
        targets = sorted(i for i, p in by.items() if p.status in wanted)
        if not targets:
            continue
        i = targets[n % len(targets)]
        if kind == "accept":
            accepted[i] = (await world.act(i, "accept")).accepted_cents
        else:
            await world.act(i, kind, reason="plus besoin")
    # Those still asked accept, until the order is placed or the pool fails.
    while (state := await _settled(world)).status == PoolStatus.QUOTING:
        by = await _by_member(world)
        asked = [i for i, p in by.items() if p.status == RequestStatus.QUOTED]
        assert asked, f"a pool waiting on nobody: {state}"
        accepted[asked[0]] = (await world.act(asked[0], "accept")).accepted_cents
    if state.status == PoolStatus.FAILED:
        assert (
            await db.fetchval(
                "SELECT count(*) FROM invoice_lines WHERE pool_id = $1", world.pool_id
            )
            == 0
        )
        return
    assert state.status == PoolStatus.ORDERED
    await world.provider_says("confirm", reference="CMD-H")
    await world.provider_says("delivered")
    lines = await db.fetch(
        "SELECT member_id, amount_cents FROM invoice_lines WHERE pool_id = $1", world.pool_id
    )
    index = {m.id: i for i, m in enumerate(world.members)}
    for member_id, amount in lines:
        assert amount <= accepted[index[member_id]], "billed more than it accepted"
    assert sum(r[1] for r in lines) == (await world.state()).total_cents


async def test_a_member_is_split_on_the_headcount_it_joined_with(crowd, db):
    # Issue 18's probe: a member lowered its headcount to lower its share. The pool splits
    # on what each request recorded when it joined, whatever the organisation says later.
    world = crowd
    await world.catalogue(min_participants=2, split=SplitRule.HEADCOUNT_WEIGHTED)
    await world.request(0, 2)  # 5 employees
    await db.execute("UPDATE organisations SET headcount = 0 WHERE id = $1", world.members[0].id)
    await world.request(1, 2)  # 10 employees
    await _wait_status(world, PoolStatus.QUOTING)
    state = await _settled(world)
    assert [p.headcount for p in state.participants] == [5, 10]
    assert [p.quote_cents for p in state.participants] == [77_777, 155_555]
    stored = dict(await db.fetch("SELECT member_id, headcount FROM service_requests"))
    assert stored == {world.members[0].id: 5, world.members[1].id: 10}
    # A retried recording (an activity run again) answers with the recorded headcount too.
    join = JoinRequest(
        request_id=_rid(world, 0),
        idempotency_key="req-0",
        member_id=world.members[0].id,
        quantity=2,
        needed_by=world.needed_by,
        created_by=world.users[0],
    )
    async with db.acquire() as c, c.transaction():
        again = await PoolingRepository(c).record_request(
            RecordRequest(pool=pool_for(world.service, world.needed_by), join=join)
        )
    assert (again.refusal, again.headcount) == (None, 5)
