"""What a session costs: a page signed in by its session cookie (`GET /mes-taches`) against
the same tasks read with a bearer token (`GET /api/tasks`), the session's lookup against the
token's (the store alone), and one rate-limit hit against a bare round trip to Postgres —
alternating, in the same run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from bench.harness import Figure, Stack, alternating_ms, percentile, serving
from domain.auth import Role
from domain.organisations import OrganisationKind
from domain.processes import ProcessKind, TaskOpen
from store.limits import LimitRepository
from store.processes import ProcessRepository
from store.sessions import SessionRepository
from store.users import UserRepository
from tests.factories import make_org, make_user, session_for

TASKS = 20


async def run(s: Stack, rounds: int) -> list[Figure]:
    network = await make_org(s.pool, OrganisationKind.ASSOCIATION, name="Réseau (bench)")
    user_id, token = await make_user(s.pool, network.id, Role.STAFF)
    session = await session_for(s.pool, user_id)
    async with s.pool.acquire() as c:
        for i in range(TASKS):
            await ProcessRepository(c).open_task(
                TaskOpen(
                    key=f"bench-people-{i}",
                    workflow_id=f"referral-bench-{i}",
                    process=ProcessKind.REFERRAL,
                    action="screen",
                    title=f"Trier la candidature (C-{i:04d})",
                    assignee_organisation_id=network.id,
                    assignee_role=Role.STAFF,
                    due_at=datetime.now(UTC) + timedelta(days=i),
                ),
                base_url=s.settings.base_url,
            )
    calls = max(rounds * 40, 200)
    bearer = {"Authorization": f"Bearer {token}"}
    figures: list[Figure] = []
    async with serving(s) as http:

        async def page() -> None:
            r = await http.get("/mes-taches", headers=session.headers)
            assert r.status_code == 200 and "C-0000" in r.text, r.status_code

        async def api() -> None:
            r = await http.get("/api/tasks", headers=bearer)
            assert r.status_code == 200 and len(r.json()) == TASKS, r.text

        for _ in range(10):
            await page()
            await api()
        p, a = await alternating_ms(calls, page, api)
        for q, label in ((0.5, "p50"), (0.99, "p99")):
            figures.append(
                Figure(
                    f"page with a session: /mes-taches ({label})",
                    "ms per request, lower is better",
                    percentile(p, q),
                    f"GET /api/tasks with a bearer token, the same {TASKS} tasks",
                    percentile(a, q),
                )
            )

    async with s.pool.acquire() as c:
        sessions, users, limits = SessionRepository(c), UserRepository(c), LimitRepository(c)

        async def resolve() -> None:
            await sessions.resolve(session.secret, s.settings.session_idle)

        async def by_token() -> None:
            await users.principal_for_token(token)

        key = uuid.uuid4().bytes

        async def hit() -> None:
            await limits.hit("bench", key, timedelta(minutes=15))

        async def round_trip() -> None:
            await c.fetchval("SELECT 1")

        for name, subject, base, base_name in (
            ("session lookup (store)", resolve, by_token, "API token lookup (store)"),
            ("rate-limit hit", hit, round_trip, "SELECT 1 on the same connection"),
        ):
            x, y = await alternating_ms(calls, subject, base)
            figures.append(
                Figure(
                    f"{name} (p50)",
                    "ms per call, lower is better",
                    percentile(x, 0.5),
                    base_name,
                    percentile(y, 0.5),
                )
            )
    return figures
