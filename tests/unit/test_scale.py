"""The regional data set at 1/1000 (bench.regional), and the lists rewritten for scale
(issue 20) against the queries they replaced: on the same rows, for every kind of viewer and
filter, the same rows in the same order, the same totals. What the triggers of migration
0010 keep (who sees a process, its next due date, the counts) is recomputed from the tasks
and processes and compared, after the seeder's COPY, after the app's own writes, and after
the migration ran on data that was there before it."""

from __future__ import annotations

import statistics
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

import store.sql
from bench.regional import REGIONAL, Seeded, seed
from domain.auth import Role
from domain.organisations import OrganisationFilter
from domain.processes import (
    ProcessFilter,
    ProcessKind,
    ProcessStatus,
    StatusProjection,
    TaskClose,
    TaskOpen,
)
from domain.recruitment import ReferralStep
from relais.settings import Settings
from store.booking import BookingRepository
from store.crypto import Sealer
from store.migrate import RECORD, available
from store.organisations import OrganisationRepository
from store.pool import create_pool
from store.pooling import PoolingRepository
from store.processes import ProcessRepository
from store.recruitment import RecruitmentRepository

SCALE = 1 / 1000
BASE = "http://relais.test"  # where a task's mail links to
V = REGIONAL.scaled(SCALE)

# --- the queries as they were before issue 20 (main at 166a4e6), the reference -------------
OLD_WHERE = """
WHERE ($1::text IS NULL OR p.process = $1)
  AND ($2::text IS NULL OR p.status = $2)
  AND ($3::uuid IS NULL OR p.organisation_id = $3)
  AND ($4::text IS NULL OR p.waiting_on = $4)
  AND (NOT $5::bool OR EXISTS (SELECT 1 FROM tasks t WHERE t.workflow_id = p.workflow_id
                                 AND t.closed_at IS NULL AND t.due_at < now()))
  AND ($6::uuid IS NULL OR p.organisation_id = $6
       OR EXISTS (SELECT 1 FROM tasks t WHERE t.workflow_id = p.workflow_id
                    AND t.assignee_organisation_id = $6))"""
OLD_LIST = f"""
SELECT p.workflow_id, p.process, p.organisation_id, o.name AS organisation_name, p.title,
       p.status, p.step, p.waiting_on, p.since, p.started_at, p.updated_at, d.next_due_at,
       coalesce(d.next_due_at < now(), false) AS overdue
FROM processes p LEFT JOIN organisations o ON o.id = p.organisation_id
LEFT JOIN LATERAL (SELECT min(t.due_at) AS next_due_at FROM tasks t
                   WHERE t.workflow_id = p.workflow_id AND t.closed_at IS NULL) d ON true
{OLD_WHERE}
ORDER BY p.updated_at DESC, p.workflow_id LIMIT $7 OFFSET $8"""  # noqa: S608
OLD_COUNT = f"SELECT count(*) FROM processes p {OLD_WHERE}"  # noqa: S608
OLD_COUNT_BY_STATUS = """
SELECT p.process, p.status, count(*) AS count FROM processes p
WHERE $1::uuid IS NULL OR p.organisation_id = $1
   OR EXISTS (SELECT 1 FROM tasks t WHERE t.workflow_id = p.workflow_id
                AND t.assignee_organisation_id = $1)
GROUP BY p.process, p.status ORDER BY p.process, p.status"""
OLD_OPEN_TASKS = """
SELECT t.id FROM tasks t JOIN organisations o ON o.id = t.assignee_organisation_id
WHERE t.closed_at IS NULL AND ($1::uuid IS NULL OR t.assignee_organisation_id = $1)
  AND ($2::text IS NULL OR t.assignee_role = $2)
  AND (NOT $3::bool OR t.due_at < now())
ORDER BY t.due_at, t.id LIMIT $4"""
OLD_REFERRALS = """
SELECT r.id FROM referrals r JOIN organisations o ON o.id = r.agency_id
WHERE r.campaign_id = $1 AND ($2::uuid IS NULL OR r.agency_id = $2)
  AND ($3::text[] IS NULL OR r.status = ANY($3))
  AND (NOT $6::bool OR r.shortlisted_at IS NOT NULL)
ORDER BY r.created_at, r.id LIMIT $4 OFFSET $5"""
OLD_COUNT_REFERRALS = """
SELECT count(*) FROM referrals r
WHERE r.campaign_id = $1 AND ($2::uuid IS NULL OR r.agency_id = $2)
  AND ($3::text[] IS NULL OR r.status = ANY($3))
  AND (NOT $4::bool OR r.shortlisted_at IS NOT NULL)"""
OLD_ORIGINAL_FOR = """
SELECT orig.id FROM referrals r
JOIN referrals orig ON orig.id = coalesce(r.duplicate_of, r.id)
JOIN organisations o ON o.id = orig.agency_id
WHERE r.campaign_id = $1
  AND (r.email_key = ANY($2::bytea[]) OR r.phone_key = ANY($3::bytea[]))
ORDER BY orig.created_at LIMIT 1"""
OLD_REQUESTS = """
SELECT r.id FROM service_requests r
WHERE ($1::uuid IS NULL OR r.member_id = $1) AND ($2::text IS NULL OR r.pool_id = $2)
  AND ($3::text IS NULL OR r.status = $3)
ORDER BY r.created_at DESC, r.id LIMIT $4 OFFSET $5"""
OLD_RESERVATIONS = """
SELECT v.id FROM reservations v
WHERE ($1::uuid IS NULL OR v.member_id = $1) AND ($2::uuid IS NULL OR v.resource_id = $2)
  AND (NOT $3 OR v.status IN ('confirmed', 'waitlisted'))
ORDER BY lower(v.slot), v.created_at, v.id LIMIT $4 OFFSET $5"""
OLD_ORGANISATIONS = """
SELECT id FROM organisations
WHERE ($1::text IS NULL OR lower(name) LIKE '%' || lower($1) || '%'
                        OR lower(coalesce(commune, '')) LIKE '%' || lower($1) || '%'
                        OR siret LIKE $1 || '%')
  AND ($2::text IS NULL OR kind = $2)
  AND ($3::uuid IS NULL OR id = $3)
ORDER BY name, id LIMIT $4 OFFSET $5"""
OLD_CAMPAIGNS = """
SELECT c.id FROM campaigns c
WHERE ($1::uuid IS NULL OR c.employer_id = $1)
  AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM campaign_agencies a
                                   WHERE a.campaign_id = c.id AND a.agency_id = $2))
  AND ($3::text IS NULL OR c.status = $3)
ORDER BY c.created_at DESC, c.id LIMIT $4 OFFSET $5"""
OLD_POOLS = """
SELECT p.id FROM pools p JOIN services s ON s.id = p.service_id
WHERE ($1::text IS NULL OR p.status = $1) AND ($2::uuid IS NULL OR s.provider_id = $2)
ORDER BY p.updated_at DESC, p.id LIMIT $3 OFFSET $4"""
OLD_TIMELINE = """
SELECT a.at, coalesce(u.name, a.actor) AS actor FROM audit_events a
LEFT JOIN users u ON u.id::text = a.actor WHERE a.workflow_id = $1 ORDER BY a.id"""
NEW_TIMELINE_ACTORS = """
SELECT a.at, coalesce(u.name, a.actor) AS actor FROM audit_events a
LEFT JOIN users u ON u.id = CASE WHEN a.actor ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                                 THEN a.actor::uuid END
WHERE a.workflow_id = $1 ORDER BY a.id"""

# What the triggers keep, recomputed from the rows it is kept from.
MAINTAINED = {
    "who sees a process": (
        """SELECT organisation_id, workflow_id, owner, tasked, process, status, updated_at
           FROM process_organisations ORDER BY 1, 2""",
        """SELECT x.organisation_id, x.workflow_id, bool_or(x.owner), bool_or(x.tasked),
                  p.process, p.status, coalesce(p.updated_at, '-infinity')
           FROM (SELECT organisation_id, workflow_id, true AS owner, false AS tasked
                 FROM processes WHERE organisation_id IS NOT NULL
                 UNION ALL
                 SELECT assignee_organisation_id, workflow_id, false, true FROM tasks) x
           LEFT JOIN processes p ON p.workflow_id = x.workflow_id
           GROUP BY 1, 2, 5, 6, 7 ORDER BY 1, 2""",
    ),
    "next due date": (
        "SELECT workflow_id, next_due_at FROM processes ORDER BY 1",
        """SELECT p.workflow_id, (SELECT min(due_at) FROM tasks t WHERE t.workflow_id =
                  p.workflow_id AND t.closed_at IS NULL) FROM processes p ORDER BY 1""",
    ),
    "counts per organisation": (
        """SELECT organisation_id, process, status, sum(n) FROM process_organisation_counts
           GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3""",
        """SELECT x.organisation_id, p.process, p.status, count(*)
           FROM (SELECT organisation_id, workflow_id FROM processes
                 WHERE organisation_id IS NOT NULL
                 UNION
                 SELECT assignee_organisation_id, workflow_id FROM tasks) x
           JOIN processes p ON p.workflow_id = x.workflow_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
    ),
    "counts by kind and status": (
        """SELECT process, status, sum(n) FROM process_counts GROUP BY 1, 2
           HAVING sum(n) <> 0 ORDER BY 1, 2""",
        "SELECT process, status, count(*) FROM processes GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    "a campaign's referrals by agency and step (migration 0014)": (
        """SELECT campaign_id, agency_id, status, duplicate, shortlisted, sum(n)
           FROM referral_counts GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4, 5""",
        """SELECT campaign_id, agency_id, status, duplicate_of IS NOT NULL,
                  shortlisted_at IS NOT NULL, count(*)
           FROM referrals GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5""",
    ),
    "a campaign's rejection reasons (migration 0014)": (
        "SELECT campaign_id, reason, n FROM referral_reasons WHERE n <> 0 ORDER BY 1, 2",
        """SELECT campaign_id, reason, count(*) FROM referrals
           WHERE status = 'rejected' AND coalesce(reason, '') <> '' GROUP BY 1, 2 ORDER BY 1, 2""",
    ),
}
# A campaign's report as it was counted before migration 0014 (main at ee96974): hires read
# one by one and counted in Python, agencies and reasons grouped over every referral.
OLD_REPORT_HIRES = """
SELECT r.postcode, r.created_at, r.decided_at, r.hired_position_id FROM referrals r
WHERE r.campaign_id = $1 AND r.status = 'hired'"""
OLD_REPORT_AGENCIES = """
SELECT agency_id,
       count(*) FILTER (WHERE duplicate_of IS NULL) AS referrals,
       count(*) FILTER (WHERE duplicate_of IS NOT NULL) AS duplicates,
       count(*) FILTER (WHERE duplicate_of IS NULL AND shortlisted_at IS NOT NULL) AS shortlisted,
       count(*) FILTER (WHERE duplicate_of IS NULL AND status = 'hired') AS hired
FROM referrals WHERE campaign_id = $1 GROUP BY agency_id"""
OLD_REPORT_REASONS = """
SELECT reason, count(*) AS n FROM referrals
WHERE campaign_id = $1 AND status = 'rejected' AND coalesce(reason, '') <> ''
GROUP BY reason ORDER BY n DESC, reason"""


async def _new_database(pg_server, *, migrate_upto: int | None = None) -> str:
    name = f"relais_scale_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_server.get_uri())
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = pg_server.get_uri(name)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for mig in available():
            if migrate_upto is None or mig.version <= migrate_upto:
                await _apply(conn, mig)
    finally:
        await conn.close()
    return url


async def _apply(conn: asyncpg.Connection, mig) -> None:
    async with conn.transaction():
        await conn.execute(mig.sql)
        await conn.execute(RECORD, mig.version, mig.name)


async def assert_maintained(conn: asyncpg.Connection) -> None:
    for what, (kept, recomputed) in MAINTAINED.items():
        assert [tuple(r) for r in await conn.fetch(kept)] == [
            tuple(r) for r in await conn.fetch(recomputed)
        ], what


SEALER = Sealer(Settings(dev_mode=True, database_url="unused").data_keys)


@pytest.fixture(scope="module")
async def regional(pg_server) -> tuple[str, Seeded]:
    url = await _new_database(pg_server)
    conn = await asyncpg.connect(url)
    try:
        seeded = await seed(conn, V, SEALER)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return url, seeded


@pytest.fixture
async def conn(regional):
    c = await asyncpg.connect(regional[0])
    yield c
    await c.close()


async def test_the_seeder_writes_the_volumes_asked_for_in_valid_rows(conn, regional):
    _, seeded = regional
    count = conn.fetchval
    assert await count("SELECT count(*) FROM processes") == V.processes
    assert await count("SELECT count(*) FROM tasks") == V.tasks
    assert await count("SELECT count(*) FROM tasks WHERE closed_at IS NULL") == V.open_tasks
    assert await count("SELECT count(*) FROM audit_events") == V.audit_events
    assert await count("SELECT count(*) FROM outbox") == V.outbox
    assert await count("SELECT count(*) FROM service_requests") == V.service_requests
    assert await count("SELECT count(*) FROM reservations") == V.reservations
    big = await count("SELECT count(*) FROM referrals WHERE campaign_id = $1", seeded.big_campaign)
    assert big == V.big_campaign_referrals
    # Every process row is where its workflow's rows point; open tasks wait in open processes.
    assert not await count(
        "SELECT count(*) FROM tasks t WHERE NOT EXISTS "
        "(SELECT 1 FROM processes p WHERE p.workflow_id = t.workflow_id)"
    )
    assert not await count(
        "SELECT count(*) FROM referrals r WHERE NOT EXISTS (SELECT 1 FROM processes p "
        "WHERE p.workflow_id = r.workflow_id AND p.process = 'referral')"
    )
    assert not await count(
        "SELECT count(*) FROM tasks t JOIN processes p ON p.workflow_id = t.workflow_id "
        "WHERE t.closed_at IS NULL AND p.status NOT IN ('waiting', 'running')"
    )
    assert not await count(
        "SELECT count(*) FROM referrals r JOIN referrals o ON o.id = r.duplicate_of "
        "WHERE o.campaign_id <> r.campaign_id OR o.email_key <> r.email_key"
    )
    # The skew: most processes are closed; the large campaign's employer has many tasks, the
    # member the benchmark reads as has a few.
    closed = await count(
        "SELECT count(*) FROM processes WHERE status NOT IN ('waiting', 'running')"
    )
    assert closed > V.processes / 2
    tasks_of = "SELECT count(*) FROM tasks WHERE assignee_organisation_id = $1"
    member = await count(tasks_of, seeded.orgs["member"])
    assert 1 <= member <= 10 and await count(tasks_of, seeded.orgs["employer"]) > 10 * member
    # Identities open for their own row only; the tokens sign in.
    row = await conn.fetchrow(
        "SELECT id, identity_enc FROM referrals WHERE campaign_id = $1 LIMIT 1", seeded.big_campaign
    )
    assert "@example.fr" in SEALER.open(row["identity_enc"], f"referral:{row['id']}:identity")
    from store.users import UserRepository

    for who, token in seeded.tokens.items():
        assert await UserRepository(conn).principal_for_token(token) is not None, who
    await assert_maintained(conn)


def _viewers(seeded: Seeded) -> list[uuid.UUID | None]:
    return [None, seeded.orgs["member"], seeded.orgs["employer"], seeded.orgs["agency"]]


async def test_process_lists_return_the_rows_the_old_queries_returned(conn, regional):
    _, seeded = regional
    repo = ProcessRepository(conn)
    now_due = await conn.fetchval("SELECT count(*) FROM tasks WHERE due_at < now()")
    assert now_due, "the set has overdue tasks"
    filters = [
        ProcessFilter(),
        ProcessFilter(overdue=True),
        ProcessFilter(process=ProcessKind.REFERRAL, status=ProcessStatus.WAITING),
        ProcessFilter(process=ProcessKind.BOOKING),
        ProcessFilter(status=ProcessStatus.COMPLETED, limit=7, offset=3),
        ProcessFilter(waiting_on="member"),
        ProcessFilter(organisation_id=seeded.orgs["employer"]),
        ProcessFilter(limit=20, offset=40),
    ]
    for viewer in _viewers(seeded):
        for f in filters:
            args = (f.process, f.status, f.organisation_id, f.waiting_on, f.overdue, viewer)
            old = await conn.fetch(OLD_LIST, *args, f.limit, f.offset)
            page = await repo.list(f, viewer)
            got = [p.model_dump() for p in page.items]
            assert got == [dict(r) for r in old], (viewer, f)
            assert page.total == await conn.fetchval(OLD_COUNT, *args), (viewer, f)
            assert not page.total_is_lower_bound
        old_counts = [tuple(r) for r in await conn.fetch(OLD_COUNT_BY_STATUS, viewer)]
        got_counts = [(c.process, c.status, c.count) for c in await repo.counts(viewer)]
        assert got_counts == old_counts, viewer


async def test_a_long_list_says_how_far_it_counted(conn, regional, monkeypatch):
    _, seeded = regional
    monkeypatch.setattr(store.sql, "COUNT_BOUND", 10)
    repo = ProcessRepository(conn)
    agency = seeded.orgs["agency"]
    owned = await conn.fetchval(OLD_COUNT, None, None, agency, None, False, None)
    assert owned > 15
    page = await repo.list(ProcessFilter(limit=3, organisation_id=agency))
    assert page.total == 10 and page.total_is_lower_bound
    # Past the bound, the total still promises the next page.
    page = await repo.list(ProcessFilter(limit=3, offset=9, organisation_id=agency))
    assert page.total == 15 and page.total_is_lower_bound and len(page.items) == 3
    # The network's list by kind and status is counted exactly, from the counters.
    page = await repo.list(ProcessFilter(limit=3))
    assert page.total == V.processes and not page.total_is_lower_bound
    # An organisation's list is counted up to the bound too.
    page = await repo.list(ProcessFilter(limit=3), seeded.orgs["employer"])
    seen = await conn.fetchval(OLD_COUNT, None, None, None, None, False, seeded.orgs["employer"])
    assert seen > 10 and page.total == 10 and page.total_is_lower_bound


async def test_tasks_referrals_requests_and_other_lists_match_the_old_queries(conn, regional):
    _, seeded = regional
    procs = ProcessRepository(conn)
    for org, role in [
        (None, None),
        (seeded.orgs["member"], "member"),
        (seeded.orgs["employer"], "member"),
        (seeded.orgs["network"], "staff"),
    ]:
        for overdue in (False, True):
            old = [r["id"] for r in await conn.fetch(OLD_OPEN_TASKS, org, role, overdue, 30)]
            new = await procs.open_tasks(org, role, overdue=overdue, limit=30)
            assert [t.id for t in new] == old, (org, role, overdue)
    offset = await procs.open_tasks(None, limit=10, offset=20)
    assert [t.id for t in offset] == [
        r["id"]
        for r in await conn.fetch(
            OLD_OPEN_TASKS.replace("LIMIT $4", "LIMIT $4 OFFSET 20"), None, None, False, 10
        )
    ]

    recruitment = RecruitmentRepository(conn, SEALER)
    for agency, statuses, shortlisted in [
        (None, None, False),
        (seeded.orgs["agency"], None, False),
        (None, ["screening", "shortlisted"], False),
        (None, None, True),
    ]:
        for limit, offset in ((25, 0), (10, 15)):
            page = await recruitment.list_referrals(
                seeded.big_campaign,
                agency_id=agency,
                statuses=statuses,
                limit=limit,
                offset=offset,
                reveal=lambda r: True,
                shortlisted_only=shortlisted,
            )
            args = (seeded.big_campaign, agency, statuses)
            old = await conn.fetch(OLD_REFERRALS, *args, limit, offset, shortlisted)
            assert [r.id for r in page.items] == [r["id"] for r in old]
            assert page.total == await conn.fetchval(OLD_COUNT_REFERRALS, *args, shortlisted)
    # The duplicate check finds the same original, by email or phone, through a duplicate.
    keys = await conn.fetch(
        "SELECT campaign_id, email_key FROM referrals ORDER BY duplicate_of IS NULL, id LIMIT 20"
    )
    assert keys and not await conn.fetchval(
        "SELECT duplicate_of IS NULL FROM referrals WHERE email_key = $1 ORDER BY id LIMIT 1",
        keys[0]["email_key"],
    )
    tr = conn.transaction()
    await tr.start()
    try:
        phone = b"phone-key"
        await conn.execute(
            "UPDATE referrals SET phone_key = $2 WHERE email_key = $1", keys[1]["email_key"], phone
        )
        asked = [(k["campaign_id"], k["email_key"], None) for k in keys]
        asked += [(keys[1]["campaign_id"], b"another email", phone)]  # by phone only
        asked += [(keys[1]["campaign_id"], b"another email", None)]  # nobody
        found = []
        for campaign, email, phone_key in asked:
            keys_asked = ([email], [phone_key] if phone_key else [])
            old = await conn.fetchval(OLD_ORIGINAL_FOR, campaign, *keys_asked)
            new = await recruitment.original_for(campaign, *keys_asked)
            assert (new.id if new else None) == old
            found.append(old)
        assert all(found[:-1]) and found[-1] is None
    finally:
        await tr.rollback()
    for employer, agency, status in [
        (None, None, None),
        (seeded.orgs["employer"], None, None),
        (None, seeded.orgs["agency"], "open"),
    ]:
        page = await recruitment.list_campaigns(
            employer_id=employer, agency_id=agency, status=status, limit=5, offset=1
        )
        old = await conn.fetch(OLD_CAMPAIGNS, employer, agency, status, 5, 1)
        assert [c.id for c in page.items] == [r["id"] for r in old]

    pooling = PoolingRepository(conn)
    for member, status in [(None, None), (seeded.orgs["member"], None), (None, "invoiced")]:
        page = await pooling.requests(
            member_id=member, pool_id=None, status=status, limit=15, offset=2
        )
        old = await conn.fetch(OLD_REQUESTS, member, None, status, 15, 2)
        assert [r.id for r in page.items] == [r["id"] for r in old]
    for status in (None, "completed"):
        page = await pooling.pools(
            status=status, service_code=None, provider_id=None, limit=4, offset=1
        )
        old = await conn.fetch(OLD_POOLS, status, None, 4, 1)
        assert [p.id for p in page.items] == [r["id"] for r in old]

    booking = BookingRepository(conn)
    for member, active in [(None, True), (None, False), (seeded.orgs["member"], False)]:
        page = await booking.list(
            member_id=member, resource_id=None, active_only=active, limit=12, offset=1
        )
        old = await conn.fetch(OLD_RESERVATIONS, member, None, active, 12, 1)
        assert [r.id for r in page.items] == [r["id"] for r in old]

    orgs = OrganisationRepository(conn)
    for q, kind, only in [
        (None, None, None),
        ("entreprise 0001", None, None),
        (None, "agency", None),
        (None, None, seeded.orgs["member"]),
    ]:
        f = OrganisationFilter(q=q, kind=kind, limit=9, offset=2)
        page = await orgs.list(f, only_id=only)
        old = await conn.fetch(OLD_ORGANISATIONS, q, kind, only, 9, 2)
        assert [o.id for o in page.items] == [r["id"] for r in old]

    # The timeline names the same people.
    old = await conn.fetch(OLD_TIMELINE, seeded.busy_referral)
    assert old and [
        tuple(r) for r in await conn.fetch(NEW_TIMELINE_ACTORS, seeded.busy_referral)
    ] == [tuple(r) for r in old]
    assert any(r["actor"].startswith("Contact") for r in old)


async def test_what_the_triggers_keep_follows_the_apps_writes(regional):
    """Status projections, tasks opened, closed and moved, through the repository: the kept
    rows stay what a full recomputation gives."""
    url, seeded = regional
    pool = await create_pool(url)
    try:
        async with pool.acquire() as c, c.transaction():
            repo = ProcessRepository(c)
            now = datetime.now(UTC)
            wid = f"referral-test-{uuid.uuid4().hex[:8]}"
            # A task before the process row exists (a referral's first), then the row.
            await repo.open_task(
                _task(wid, "screen", seeded.orgs["network"], Role.STAFF, now), base_url=BASE
            )
            await repo.project(_status(wid, seeded.orgs["agency"], ProcessStatus.WAITING, 1))
            await repo.open_task(
                _task(wid, "decide", seeded.orgs["member"], Role.MEMBER, now - timedelta(hours=1)),
                base_url=BASE,
            )
            await assert_maintained(c)
            page = await repo.list(ProcessFilter(overdue=True), seeded.orgs["member"])
            assert wid in [p.workflow_id for p in page.items]
            await repo.close_task(TaskClose(key=f"{wid}:decide", outcome="fait"))
            await repo.project(_status(wid, seeded.orgs["agency"], ProcessStatus.COMPLETED, 2))
            await c.execute(
                "UPDATE tasks SET due_at = now() - interval '1 day' WHERE key = $1", f"{wid}:screen"
            )
            await assert_maintained(c)
            page = await repo.list(ProcessFilter(), seeded.orgs["member"])
            assert page.items[0].workflow_id == wid  # the newest change first
            # A late retry of an older state changes nothing.
            await repo.project(_status(wid, seeded.orgs["agency"], ProcessStatus.WAITING, 1))
            await assert_maintained(c)
            # Another owner, a task handed to another organisation (neither is done by Relais
            # today: the kept rows follow all the same).
            await repo.project(_status(wid, seeded.orgs["employer"], ProcessStatus.COMPLETED, 3))
            await c.execute(
                "UPDATE tasks SET assignee_organisation_id = $2 WHERE key = $1",
                f"{wid}:decide",
                seeded.orgs["agency"],
            )
            await assert_maintained(c)
            member_sees = await repo.list(ProcessFilter(), seeded.orgs["member"])
            assert wid not in [p.workflow_id for p in member_sees.items]
            await c.execute("DELETE FROM tasks WHERE workflow_id = $1", wid)
            await c.execute("DELETE FROM processes WHERE workflow_id = $1", wid)
            await assert_maintained(c)
            raise _Rollback
    except _Rollback:
        pass
    finally:
        await pool.close()


async def test_a_campaigns_report_counts_what_the_old_report_counted(conn, regional):
    """The report from counters and one aggregate (migration 0014) against the report counted
    from every referral, for the large campaign and closed ones of every size."""
    _, seeded = regional
    repo = RecruitmentRepository(conn, SEALER)
    ids = [seeded.big_campaign] + [
        r["campaign_id"]
        for r in await conn.fetch(
            """SELECT campaign_id FROM referrals GROUP BY 1 HAVING count(*) FILTER
               (WHERE status = 'hired') > 0 ORDER BY count(*) DESC LIMIT 5"""
        )
    ]
    for campaign_id in ids:
        campaign = await repo.get_campaign(campaign_id)
        assert campaign is not None
        report = await repo.report(campaign)
        hires = await conn.fetch(OLD_REPORT_HIRES, campaign_id)
        assert hires, campaign_id
        local = [
            h
            for h in hires
            if h["postcode"]
            and any(h["postcode"].startswith(p) for p in campaign.territory_postcodes)
        ]
        days = [
            (h["decided_at"] - h["created_at"]) / timedelta(days=1)
            for h in hires
            if h["decided_at"]
        ]
        assert (report.hired, report.local_hires) == (len(hires), len(local))
        assert report.median_days_to_hire == (round(statistics.median(days), 2) if days else None)
        by_position = Counter(h["hired_position_id"] for h in hires)
        assert {p.position_id: p.hired for p in report.positions} == {
            p.id: by_position.get(p.id, 0) for p in campaign.positions
        }
        agencies = {r["agency_id"]: r for r in await conn.fetch(OLD_REPORT_AGENCIES, campaign_id)}
        for a in report.agencies:
            old = agencies.get(a.agency_id)
            assert (a.referrals, a.duplicates, a.shortlisted, a.hired) == (
                (old["referrals"], old["duplicates"], old["shortlisted"], old["hired"])
                if old
                else (0, 0, 0, 0)
            )
        assert list(report.rejection_reasons.items()) == [
            (r["reason"], r["n"]) for r in await conn.fetch(OLD_REPORT_REASONS, campaign_id)
        ]
    await assert_maintained(conn)


async def test_a_campaigns_counters_follow_its_referrals_steps(regional):
    """Referrals moved through their steps by the repository (screened, shortlisted, hired,
    rejected with a reason, its reason changed), one inserted as a duplicate, one deleted:
    the counters stay what a recomputation gives, and the report follows."""
    url, seeded = regional
    pool = await create_pool(url)
    try:
        async with pool.acquire() as c, c.transaction():
            repo = RecruitmentRepository(c, SEALER)
            campaign = await repo.get_campaign(seeded.big_campaign)
            assert campaign is not None
            before = await repo.report(campaign)
            rows = await c.fetch(
                """SELECT id FROM referrals WHERE campaign_id = $1 AND status = 'screening'
                   AND duplicate_of IS NULL ORDER BY id LIMIT 4""",
                campaign.id,
            )
            a, b, d, e = (r["id"] for r in rows)
            now = datetime.now(UTC)
            await repo.set_referral(a, ReferralStep.SHORTLISTED, now)
            await repo.set_referral(b, ReferralStep.REJECTED, now, "Profil trop junior")
            await repo.set_referral(d, ReferralStep.REJECTED, now, "Profil trop junior")
            await assert_maintained(c)
            position, why = await repo.record_hire(a, campaign.id, None, now, "embauche")
            assert why is None and position is not None
            await c.execute("UPDATE referrals SET reason = 'Poste pourvu' WHERE id = $1", d)
            await c.execute(
                """INSERT INTO referrals (id, workflow_id, campaign_id, agency_id, pseudonym,
                       status, postcode, email_key, duplicate_of)
                   SELECT gen_random_uuid(), workflow_id || '-bis', campaign_id, agency_id,
                          pseudonym, 'duplicate', postcode, email_key, id
                   FROM referrals WHERE id = $1""",
                e,
            )
            await assert_maintained(c)
            after = await repo.report(campaign)
            assert after.hired == before.hired + 1
            assert after.rejection_reasons.get("Profil trop junior", 0) == (
                before.rejection_reasons.get("Profil trop junior", 0) + 1
            )
            assert after.rejection_reasons["Poste pourvu"] == (
                before.rejection_reasons.get("Poste pourvu", 0) + 1
            )
            await c.execute("DELETE FROM referrals WHERE duplicate_of = $1", e)
            await assert_maintained(c)
            raise _Rollback
    except _Rollback:
        pass
    finally:
        await pool.close()


class _Rollback(Exception):
    pass


def _task(wid: str, action: str, org, role: Role, due: datetime) -> TaskOpen:
    return TaskOpen(
        key=f"{wid}:{action}",
        workflow_id=wid,
        process=ProcessKind.REFERRAL,
        action=action,
        title=action,
        assignee_organisation_id=org,
        assignee_role=role,
        due_at=due,
    )


def _status(wid: str, org, status: ProcessStatus, seq: int) -> StatusProjection:
    return StatusProjection(
        workflow_id=wid,
        run_id="r",
        process=ProcessKind.REFERRAL,
        organisation_id=org,
        title="t",
        status=status,
        step="s",
        since=datetime.now(UTC),
        seq=seq,
    )


async def test_the_migration_keeps_what_was_there_before_it(pg_server):
    """Data written before migration 0010 (by the seeder at 1/1000): once migrated (0010, 0014
    and the rest), it reads as if the triggers had always been there."""
    url = await _new_database(pg_server, migrate_upto=9)
    conn = await asyncpg.connect(url)
    try:
        await seed(conn, REGIONAL.scaled(SCALE / 2), SEALER)
        for later in [m for m in available() if m.version > 9]:
            await _apply(conn, later)
        await assert_maintained(conn)
    finally:
        await conn.close()
