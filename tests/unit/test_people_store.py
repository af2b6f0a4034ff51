"""People in Postgres: the network-role rule, one account per address, one-time links,
sessions' idle and absolute ends, the rate limiter's window, and the mail a task sends to
the people who must act."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.auth import Role
from domain.errors import Conflict, Forbidden
from domain.organisations import OrganisationKind
from domain.people import LinkPurpose, NotifyPreference, SessionMethod, UserStatus
from domain.processes import ProcessKind, ProcessStatus, StatusProjection, TaskOpen
from store.limits import LimitRepository
from store.notices import NoticeRepository
from store.processes import ProcessRepository
from store.sessions import LinkRefusal, LinkUse, OpenSession, SessionEnd, SessionRepository
from store.users import UserRepository
from tests.factories import make_org, make_user

BASE = "https://relais.example.fr"


async def test_network_roles_only_in_the_network_and_one_account_per_address(db):
    network = await make_org(db, OrganisationKind.ASSOCIATION)
    bakery = await make_org(db, name="Boulangerie du Canet")
    async with db.acquire() as c:
        users = UserRepository(c)
        for role in (Role.ADMIN, Role.STAFF, Role.MANAGER):
            with pytest.raises(Forbidden, match="réservés aux personnes de l'association"):
                await users.create_user(bakery.id, role, "Intrus", email="x@example.fr")
            await users.create_user(network.id, role, f"Réseau {role}")
        await users.create_user(bakery.id, Role.MEMBER, "Karim", email="Karim@Example.fr")
        with pytest.raises(Conflict, match="existe déjà"):
            await users.create_user(bakery.id, Role.MEMBER, "Karim bis", email="karim@example.FR")
        assert (
            await c.fetchval("SELECT count(*) FROM users WHERE organisation_id = $1", bakery.id)
            == 1
        )


async def test_a_link_opens_once_and_not_after_its_end(db):
    org = await make_org(db)
    user, _ = await make_user(db, org.id, Role.MEMBER, email="nadia@example.fr")
    async with db.acquire() as c:
        sessions = SessionRepository(c)
        _, secret, _ = await sessions.create_link(user, LinkPurpose.SIGN_IN, timedelta(minutes=15))
        first = await sessions.consume_link(secret)
        assert isinstance(first, LinkUse) and first.user_id == user
        assert await sessions.consume_link(secret) == LinkRefusal.USED
        assert await sessions.consume_link("inconnu-" + secret) == LinkRefusal.UNKNOWN
        _, old, _ = await sessions.create_link(user, LinkPurpose.SIGN_IN, timedelta(seconds=-1))
        assert await sessions.consume_link(old) == LinkRefusal.EXPIRED
        # Only hashes are kept.
        stored = await c.fetch("SELECT token_hash FROM sign_in_links")
        assert all(secret.encode() not in bytes(r["token_hash"]) for r in stored)


async def test_concurrent_uses_of_one_link_open_one_session(db, pool):
    org = await make_org(db)
    user, _ = await make_user(db, org.id, Role.MEMBER, email="leila@example.fr")
    async with db.acquire() as c:
        _, secret, _ = await SessionRepository(c).create_link(
            user, LinkPurpose.SIGN_IN, timedelta(minutes=15)
        )

    async def use() -> LinkUse | LinkRefusal:
        async with pool.acquire() as c, c.transaction():
            found = await SessionRepository(c).consume_link(secret)
            await asyncio.sleep(0.05)  # hold the row while the others try
            return found

    results = await asyncio.gather(*(use() for _ in range(6)))
    assert sum(isinstance(r, LinkUse) for r in results) == 1
    assert results.count(LinkRefusal.USED) == 5


async def test_sessions_end_when_idle_past_their_end_or_their_user_disabled(db):
    org = await make_org(db)
    user, _ = await make_user(db, org.id, Role.MEMBER)
    idle = timedelta(minutes=30)
    async with db.acquire() as c:
        sessions, users = SessionRepository(c), UserRepository(c)
        sid, secret, _ = await sessions.create(user, SessionMethod.LINK, "ua", timedelta(days=7))
        found = await sessions.resolve(secret, idle)
        assert isinstance(found, OpenSession) and found.principal.session_id == sid
        # Touched at most once a minute: a second page writes nothing.
        seen = await c.fetchval("SELECT last_seen_at FROM sessions WHERE id = $1", sid)
        await sessions.resolve(secret, idle)
        assert await c.fetchval("SELECT last_seen_at FROM sessions WHERE id = $1", sid) == seen
        await c.execute(
            "UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE id = $1", sid
        )
        assert await sessions.resolve(secret, idle) == SessionEnd.EXPIRED
        assert await sessions.resolve(secret, idle) == SessionEnd.UNKNOWN  # deleted

        _, short, _ = await sessions.create(user, SessionMethod.LINK, "ua", timedelta(seconds=-1))
        assert await sessions.resolve(short, idle) == SessionEnd.EXPIRED

        _, other, _ = await sessions.create(user, SessionMethod.LINK, "ua", timedelta(days=7))
        await users.disable(user)
        assert await sessions.resolve(other, idle) == SessionEnd.UNKNOWN


async def test_tokens_expire_and_write_their_last_use_once_a_minute(db):
    org = await make_org(db)
    user, token = await make_user(db, org.id, Role.AGENCY)
    async with db.acquire() as c:
        users = UserRepository(c)
        assert await users.principal_for_token(token) is not None
        used = await c.fetchval("SELECT last_used_at FROM api_tokens")
        assert used is not None
        await users.principal_for_token(token)
        assert await c.fetchval("SELECT last_used_at FROM api_tokens") == used
        expired, _ = await users.create_token(
            user, "vieux", expires_at=datetime.now(UTC) - timedelta(seconds=1)
        )
        assert await users.principal_for_token(expired) is None
        await users.disable(user)
        assert await users.principal_for_token(token) is None


async def test_the_limiter_counts_across_the_window_edge(db):
    async with db.acquire() as c:
        limits = LimitRepository(c)
        key = uuid.uuid4().bytes
        counts = [await limits.hit("test", key, timedelta(seconds=60)) for _ in range(5)]
        assert [round(x.hits) for x in counts] == [1, 2, 3, 4, 5]
        assert 0 < counts[-1].window_left_s <= 60
        # The previous window's hits still count, weighted by its overlap.
        await c.execute(
            "UPDATE rate_limits SET window_start = window_start - interval '60 seconds'"
        )
        after = await limits.hit("test", key, timedelta(seconds=60))
        assert 1 < after.hits <= 6
        assert (await limits.hit("test", uuid.uuid4().bytes, timedelta(seconds=60))).hits == 1


async def test_the_limiter_costs_one_statement(db):
    """Its cost on this machine (printed with -s): one upsert per call."""
    async with db.acquire() as c:
        limits = LimitRepository(c)
        key = uuid.uuid4().bytes
        await limits.hit("cost", key, timedelta(minutes=15))
        n, t0 = 200, time.perf_counter()
        for _ in range(n):
            await limits.hit("cost", key, timedelta(minutes=15))
        per_call_ms = 1000 * (time.perf_counter() - t0) / n
    print(f"rate limiter: {per_call_ms:.2f} ms per call (mean of {n})")
    assert per_call_ms < 50


def _task(org_id, role: Role, key: str = "k1") -> TaskOpen:
    return TaskOpen(
        key=key,
        workflow_id="referral-x",
        process=ProcessKind.REFERRAL,
        action="request_interview",
        title="Examiner le profil (C-ABC)",
        assignee_organisation_id=org_id,
        assignee_role=role,
        due_at=datetime.now(UTC) + timedelta(days=5),
    )


async def test_a_task_mails_its_people_once_each_as_they_chose(db):
    employer = await make_org(db, name="Logistique des Arnavaux")
    other = await make_org(db)
    at_once, _ = await make_user(db, employer.id, Role.MEMBER, email="karim@example.fr")
    daily, _ = await make_user(db, employer.id, Role.MEMBER, email="ines@example.fr")
    quiet, _ = await make_user(db, employer.id, Role.MEMBER, email="paul@example.fr")
    gone, _ = await make_user(db, employer.id, Role.MEMBER, email="ex@example.fr")
    await make_user(db, employer.id, Role.MEMBER)  # no address: nothing to send
    await make_user(db, other.id, Role.MEMBER, email="autre@example.fr")
    async with db.acquire() as c:
        users = UserRepository(c)
        await users.set_notify(daily, NotifyPreference.DAILY)
        await users.set_notify(quiet, NotifyPreference.NONE)
        await users.disable(gone)
        repo = ProcessRepository(c)
        for _ in range(2):  # a retried activity
            async with c.transaction():
                await repo.open_task(_task(employer.id, Role.MEMBER), base_url=BASE)
        mails = await c.fetch("SELECT recipient, subject, body, dedup_key FROM outbox")
        task_id = await c.fetchval("SELECT id FROM tasks")
    assert [m["recipient"] for m in mails] == ["karim@example.fr"]
    assert mails[0]["subject"] == "À faire : Examiner le profil (C-ABC)"
    assert mails[0]["body"].startswith("Bonjour Utilisateur member,")
    assert f"{BASE}/mes-taches/{task_id}" in mails[0]["body"]
    assert mails[0]["dedup_key"] == f"task:{task_id}:user:{at_once}"


async def test_pools_open_tasks_for_the_same_members_at_once_without_deadlock(db):
    # A step's tasks open in one statement: the counters that steps of other pools touch too
    # (one per member, process, status and shard) are locked in key order, whatever order
    # the members joined each pool in. One statement per task locked them in that order, and
    # pools whose members joined in different orders deadlocked (seen in the benchmark:
    # Postgres aborts one after a second, and its activity retries a second later).
    network = await make_org(db, OrganisationKind.ASSOCIATION)
    members = [await make_org(db) for _ in range(10)]
    for m in members:
        await make_user(db, m.id, Role.MEMBER, email=f"{m.id}@example.fr")
    pools = [f"pool-{i}-2027-01" for i in range(8)]
    async with db.acquire() as c:
        for wid in pools:
            await ProcessRepository(c).project(
                StatusProjection(
                    workflow_id=wid,
                    run_id="r",
                    process=ProcessKind.POOLING,
                    organisation_id=network.id,
                    title="t",
                    status=ProcessStatus.WAITING,
                    step="quoting",
                    since=datetime.now(UTC),
                    seq=1,
                )
            )

    async def open_step(workflow_id: str, order: list, round_: int) -> None:
        tasks = [
            _task(m.id, Role.MEMBER, f"{workflow_id}:accept:{m.id}:{round_}").model_copy(
                update={"workflow_id": workflow_id, "process": ProcessKind.POOLING}
            )
            for m in order
        ]
        async with db.acquire() as c, c.transaction():
            await ProcessRepository(c).open_task_batch(tasks, base_url=BASE)

    for round_ in range(4):
        orders = [random.Random(f"{w}:{round_}").sample(members, len(members)) for w in pools]
        await asyncio.gather(*(open_step(w, o, round_) for w, o in zip(pools, orders, strict=True)))
    async with db.acquire() as c:
        assert await c.fetchval("SELECT count(*) FROM tasks") == 4 * 8 * 10
        assert await c.fetchval("SELECT count(*) FROM outbox") == 4 * 8 * 10
        seen = await c.fetchval(
            "SELECT sum(n) FROM process_organisation_counts WHERE organisation_id = $1",
            members[0].id,
        )
    assert seen == 8  # the member sees each pool once


async def test_the_daily_digest_lists_overdue_tasks_once_a_day(db):
    employer = await make_org(db)
    daily, _ = await make_user(db, employer.id, Role.MEMBER, email="ines@example.fr")
    async with db.acquire() as c:
        await UserRepository(c).set_notify(daily, NotifyPreference.DAILY)
        repo = ProcessRepository(c)
        late = _task(employer.id, Role.MEMBER).model_copy(
            update={"due_at": datetime.now(UTC) - timedelta(days=1)}
        )
        await repo.open_task(late, base_url=BASE)
        await repo.open_task(_task(employer.id, Role.MEMBER, "k2"), base_url=BASE)  # not late
        notices = NoticeRepository(c)
        today = datetime.now(UTC).date()
        assert await notices.daily_digests(today, BASE) == 1
        assert await notices.daily_digests(today, BASE) == 0
        [mail] = await c.fetch("SELECT recipient, subject, body FROM outbox")
    assert mail["recipient"] == "ines@example.fr"
    assert mail["subject"] == "Relais : 1 tâche(s) en retard"
    assert "Examiner le profil (C-ABC)" in mail["body"] and f"{BASE}/mes-taches" in mail["body"]


async def test_invited_users_are_invited_until_their_link_is_used(db):
    org = await make_org(db)
    async with db.acquire() as c:
        users = UserRepository(c)
        user = await users.create_user(
            org.id, Role.MEMBER, "Leïla", email="leila@example.fr", status=UserStatus.INVITED
        )
        assert (await users.row(user)).status == UserStatus.INVITED
        await users.activate(user)
        assert (await users.row(user)).status == UserStatus.ACTIVE
