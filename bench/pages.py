"""Every page and list at two sizes: a demo-sized set and a regional network's (issue 20's
volumes, `bench.regional`). For each page or list API, as a manager, a member with few tasks,
the employer of the large campaign (thousands of tasks) and one of its agencies: first bytes
p50 and p95 through the FastAPI app, alternated call by call with `GET /api/me` by the same
person in the same run. Then a referral POST at low load (warm, one at a time) into a campaign
of 50 referrals and into one of 50,000, alternated with a bare update-with-start.

The two sets are served at once (an app and a worker each) and measured call by call in
turn — the page on the demo set, the page on the regional set, /api/me on the regional set —
so that a machine busy with other work slows all three alike. Each row is printed as soon as
it is measured."""

from __future__ import annotations

import mailbox
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import httpx
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from api.security import session_cookie
from bench.baseline import BASELINE_QUEUE, BaselineInput, BaselineWorkflow
from bench.harness import (
    Figure,
    Stack,
    alternating_ms,
    api_only,
    new_database,
    percentile,
    serving,
)
from bench.regional import DEMO, REGIONAL, Seeded, Volumes, analyse, seed
from domain.people import SessionMethod
from relais.settings import Settings
from store.crypto import Sealer
from store.pool import create_pool
from store.sessions import SessionRepository

# (who, path): {big} is the large campaign, {referral} a referral with a long history.
PAGES: list[tuple[str, str]] = [
    ("member", "/tableau-de-bord"),
    ("member", "/api/processes"),
    ("member", "/api/processes/counts"),
    ("member", "/processus"),
    ("member", "/mes-taches"),
    ("member", "/api/tasks"),
    ("member", "/api/service-requests"),
    ("member", "/api/reservations"),
    ("member", "/annuaire"),
    ("employer", "/tableau-de-bord"),
    ("employer", "/api/processes"),
    ("employer", "/api/processes/counts"),
    ("employer", "/mes-taches"),
    ("employer", "/api/tasks"),
    ("employer", "/api/campaigns/{big}/referrals"),
    ("agency", "/api/processes"),
    ("agency", "/api/campaigns/{big}/referrals"),
    ("manager", "/tableau-de-bord"),
    ("manager", "/processus?overdue=true"),
    ("manager", "/api/processes?overdue=true"),
    ("manager", "/api/processes"),
    ("manager", "/api/processes?process=referral&status=waiting"),
    ("manager", "/api/processes/counts"),
    ("manager", "/processus/{referral}"),
    ("manager", "/api/service-requests"),
    ("manager", "/api/campaigns/{big}/referrals"),
    ("manager", "/api/campaigns"),
    ("manager", "/api/pools"),
    ("manager", "/api/reservations"),
    ("manager", "/api/organisations"),
    ("manager", "/annuaire"),
    ("manager", "/boite-mail"),
    ("manager", "/mes-taches"),
    ("manager", "/api/tasks"),
    # The pages of every role (issues 16 and 17), at the same sizes.
    ("manager", "/annuaire?q=boulangerie&kind=member"),
    ("manager", "/campagnes"),
    ("manager", "/campagnes/{big}"),
    ("manager", "/campagnes/{big}/bilan"),
    ("employer", "/campagnes"),
    ("employer", "/selection/{big}"),
    ("agency", "/candidats"),
    ("agency", "/candidats/campagne/{big}?page=2"),
    ("manager", "/campagnes/{big}/etape?etape=screening&page=2"),
    ("member", "/catalogue"),
    ("member", "/services"),
    ("member", "/factures"),
    ("member", "/reservations"),
    ("manager", "/mutualisations"),
    ("manager", "/conventions"),
    ("manager", "/visites"),
]
# The rows of issue 20's table, also given in make bench's final table.
ISSUE_ROWS = {
    ("member", "/tableau-de-bord"),
    ("member", "/api/processes"),
    ("member", "/api/processes/counts"),
    ("manager", "/processus?overdue=true"),
    ("manager", "/api/processes?overdue=true"),
    ("manager", "/api/service-requests"),
    ("manager", "/api/campaigns/{big}/referrals"),
    ("manager", "/boite-mail"),
    ("manager", "/tableau-de-bord"),
    ("manager", "/annuaire"),
    ("manager", "/mes-taches"),
    ("manager", "/api/tasks"),
}
LIMIT_P95_MS = 150
LIMIT_OVER_ME = 30
LIMIT_GROWTH = 2


def auth(seeded: Seeded, who: str) -> dict[str, str]:
    """How a benchmark's requests say who they are, in one place: the person's bearer token
    for the JSON API, and for the pages the session cookie of a sign-in (`sign_in`)."""
    return {"Authorization": f"Bearer {seeded.tokens[who]}", "Cookie": seeded.cookies[who]}


async def sign_in(conn: asyncpg.Connection, seeded: Seeded, settings: Settings) -> None:
    """A session for each person, opened by the store code a sign-in uses."""
    for who, user_id in seeded.users.items():
        _, secret, _ = await SessionRepository(conn).create(
            user_id, SessionMethod.LINK, "bench", timedelta(hours=8)
        )
        seeded.cookies[who] = f"{session_cookie(settings)}={secret}"


@dataclass
class Row:
    """One page or list: its p50 and p95 at both sizes, and /api/me's p50 (regional set)."""

    who: str
    path: str
    demo_p50: float
    demo_p95: float
    p50: float
    p95: float
    me_p50: float

    @property
    def name(self) -> str:
        return f"{self.who:<8} GET {self.path}"

    @property
    def holds(self) -> bool:
        return (
            self.p95 < LIMIT_P95_MS
            and self.p95 < LIMIT_OVER_ME * self.me_p50
            and self.p50 <= LIMIT_GROWTH * self.demo_p50
        )

    def line(self) -> str:
        return (
            f"  {self.name:<60} demo p50 {self.demo_p50:6.1f} p95 {self.demo_p95:6.1f} | "
            f"regional p50 {self.p50:6.1f} p95 {self.p95:6.1f} ms | /api/me p50 "
            f"{self.me_p50:4.1f}, p95/me {self.p95 / self.me_p50:5.1f}, ×demo p50 "
            f"{self.p50 / self.demo_p50:4.2f}" + ("" if self.holds else "  ← over")
        )


def _fill_mailbox(home: Path, n: int) -> None:
    """What the dev mailbox of a long-running `relais dev` holds: n mails received."""
    box = mailbox.Maildir(home / "mailbox", create=True)
    for i in range(n):
        msg = EmailMessage()
        msg["From"] = "relais@example.fr"
        msg["To"] = f"contact{i}@example.fr"
        msg["Subject"] = f"Relais : message {i}"
        msg["Date"] = "Mon, 01 Jan 2024 10:00:00 +0000"
        msg["Message-ID"] = f"<seed{i}@relais>"
        msg.set_content("Bonjour,\n\nUne étape de votre dossier a avancé.\n\nRelais")
        box.add(msg)


async def _measure(
    demo: tuple[httpx.AsyncClient, Seeded],
    regional: tuple[httpx.AsyncClient, Seeded],
    who: str,
    path: str,
    calls: int,
) -> Row:
    """The page on the demo set, the page on the regional set, /api/me on the regional set,
    call after call."""

    def get(http: httpx.AsyncClient, seeded: Seeded, url: str) -> Callable[[], Awaitable[None]]:
        headers = auth(seeded, who)
        url = url.format(big=seeded.big_campaign, referral=seeded.busy_referral)

        async def call() -> None:
            r = await http.get(url, headers=headers)
            assert r.status_code == 200, (url, r.status_code, r.text[:300])

        return call

    small, big, me = get(*demo, path), get(*regional, path), get(*regional, "/api/me")
    for _ in range(6):  # warm, and past asyncpg's five custom plans
        for fn in (small, big, me):
            await fn()
    times: list[list[float]] = [[], [], []]
    for _ in range(calls):
        for fn, out in zip((small, big, me), times, strict=True):
            t0 = time.perf_counter()
            await fn()
            out.append(1000 * (time.perf_counter() - t0))
    return Row(
        who,
        path,
        percentile(times[0], 0.5),
        percentile(times[0], 0.95),
        percentile(times[1], 0.5),
        percentile(times[1], 0.95),
        percentile(times[2], 0.5),
    )


@asynccontextmanager
async def _serving_size(
    s: Stack, size: str, v: Volumes, *, worker: bool
) -> AsyncIterator[tuple[Stack, Seeded, httpx.AsyncClient]]:
    """A new database seeded with `v`, and the API serving it (with Relais' worker and the
    baseline's when `worker`: one of each per server)."""
    url = await new_database(s, f"pages_{size}")
    home = Path(tempfile.mkdtemp(prefix=f"relais-pages-{size}-"))
    # A task queue per size: each worker runs the activities of its own database.
    queue = f"{s.settings.task_queue}-{size}"
    settings = s.settings.model_copy(
        update={"database_url": url, "home": home, "task_queue": queue}
    )
    conn = await asyncpg.connect(url)
    try:
        seeded = await seed(conn, v, Sealer(settings.data_keys))
        vacuum = await analyse(conn)
        await sign_in(conn, seeded, settings)
    finally:
        await conn.close()
    _fill_mailbox(home, max(1, v.outbox // 20))
    rows = ", ".join(f"{n:,} {t}" for t, n in seeded.rows.items() if n >= 1000)
    print(
        f"\n[{size}] seeded in {seeded.seconds:.0f} s with COPY (+ VACUUM ANALYZE {vacuum:.0f} s): "
        f"{rows}",
        flush=True,
    )
    pool = await create_pool(url, min_size=2, max_size=20)
    sub = Stack(settings, pool, s.env, s.server_uri)
    try:
        async with (serving if worker else api_only)(sub) as http:
            yield sub, seeded, http
    finally:
        await pool.close()
        shutil.rmtree(home, ignore_errors=True)


async def _referral_posts(
    s: Stack, http: httpx.AsyncClient, seeded: Seeded, calls: int
) -> list[Figure]:
    """A referral POST, warm and one at a time, against a bare update-with-start answering
    after one no-op activity, alternated; into the 50-referral and the 50,000 one."""
    headers = auth(seeded, "agency")
    serial = iter(range(10**9))

    async def bare() -> None:
        await s.env.client.execute_update_with_start_workflow(
            BaselineWorkflow.first_done,
            BaselineInput(activities=3),
            start_workflow_operation=WithStartWorkflowOperation(
                BaselineWorkflow.run,
                BaselineInput(activities=3),
                id=f"baseline-{uuid.uuid4()}",
                task_queue=BASELINE_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            ),
        )

    figures = []
    count = "SELECT count(*) FROM referrals WHERE campaign_id = $1"
    for cid in (seeded.small_campaign, seeded.big_campaign):
        label = f"{await s.pool.fetchval(count, cid):,}"  # as seeded

        async def refer(cid=cid) -> None:
            i = next(serial)
            r = await http.post(
                f"/api/campaigns/{cid}/referrals",
                headers=headers,
                json={
                    "request_id": f"bench-{i}-{uuid.uuid4().hex[:6]}",
                    "first_name": "Camille",
                    "last_name": f"Bench{i}",
                    "email": f"bench{i}-{uuid.uuid4().hex[:6]}@example.fr",
                    "postcode": "13015",
                    "skills": ["CACES"],
                },
            )
            assert r.status_code == 201, r.text

        for _ in range(5):
            await refer()
            await bare()
        a, b = await alternating_ms(calls, refer, bare)
        n = await s.pool.fetchval(count, cid)
        a50, a95, b50, b95 = (percentile(x, q) for x in (a, b) for q in (0.5, 0.95))
        line = (
            f"  referral POST into a campaign of {label:<6} (now {n:,}): p50 {a50:6.1f}  p95 "
            f"{a95:6.1f} ms   bare update-with-start p50 {b50:5.1f}  p95 {b95:5.1f}  ratio p50 "
            f"{a50 / b50:4.2f}"
        )
        print(line, flush=True)
        figures.append(
            Figure(
                f"referral POST, campaign of {label} (p50)",
                "ms, warm, one at a time",
                a50,
                "bare update-with-start, 1 no-op activity, alternated",
                b50,
            )
        )
    return figures


async def run(s: Stack, rounds: int, regional: Volumes = REGIONAL) -> list[Figure]:
    calls = max(20 * rounds, 60)
    print(
        f"\npages: p50/p95 of {calls} calls each, on the demo set, the regional set and GET "
        f"/api/me in turn; regional set: {regional}",
        flush=True,
    )
    figures: list[Figure] = []
    rows: list[Row] = []
    async with (
        _serving_size(s, "demo", DEMO, worker=False) as (_, demo_seeded, demo_http),
        _serving_size(s, "regional", regional, worker=True) as (sub, seeded, http),
    ):
        for who, path in PAGES:
            row = await _measure((demo_http, demo_seeded), (http, seeded), who, path, calls)
            rows.append(row)
            print(row.line(), flush=True)
        over = [r.name for r in rows if not r.holds]
        me = statistics.median(r.me_p50 for r in rows)
        print(
            f"  regional: {len(rows) - len(over)}/{len(rows)} pages and lists hold (p95 < "
            f"{LIMIT_P95_MS} ms and < {LIMIT_OVER_ME}× /api/me p50, median {me:.1f} ms; p50 ≤ "
            f"{LIMIT_GROWTH}× demo); over: {', '.join(over) or 'none'}",
            flush=True,
        )
        figures += await _referral_posts(sub, http, seeded, max(10 * rounds, 40))
    for r in rows:
        if (r.who, r.path) in ISSUE_ROWS:
            figures.append(
                Figure(
                    f"{r.name} p95",
                    "ms at the regional set",
                    r.p95,
                    "GET /api/me p50, same person, in turn",
                    r.me_p50,
                )
            )
            figures.append(
                Figure(
                    f"{r.name} p50",
                    "ms at the regional set",
                    r.p50,
                    "the same page at the demo set, in turn",
                    r.demo_p50,
                )
            )
    return figures
