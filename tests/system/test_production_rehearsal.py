"""A production rehearsal without Docker: what docker-compose.yml starts, started here as
separate processes with the same commands and variables (tests/system/rehearsal.py) —
`relais migrate` twice at once, compose's temporal-setup script, two `relais worker`, two
`relais api` — with real keys, JSON logs, on pgserver and the Temporal dev server. The
network bootstraps itself with the CLI, then a recruitment campaign and a pooled service
are driven through both APIs in turn; one worker and one API are killed with -9 midway.
Everything completes, once: one row per effect, one mail per effect."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pgserver
import pytest
from aiosmtpd.controller import Controller

from domain.auth import Role
from domain.pooling import in_next_month
from relais.binaries import temporal_cli
from relais.mail import MaildirHandler, read_mailbox
from store.migrate import available
from store.pool import create_pool
from tests import compose
from tests.factories import make_user, siret
from tests.system.conftest import free_port
from tests.system.rehearsal import Launch, Processes, Where, base_environment, launch

pytestmark = pytest.mark.system

PEOPLE = 7  # candidates; one more referral names the first of them again
HIRES = 3
MEMBERS = 3  # companies pooling a service


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class Apis:
    """Both APIs behind what a load balancer would do: requests alternate between them; a
    request to an API that dies is sent again, unchanged (same request id), to the other."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.dead: set[int] = set()
        self.answered = [0] * len(urls)
        self.failovers = 0
        self._turn = 0
        self.http = httpx.AsyncClient(timeout=30)

    async def __call__(self, method: str, path: str, token: str, body: dict | None = None):
        self._turn += 1
        first = self._turn % len(self.urls)
        for attempt in range(40):
            i = (first + attempt) % len(self.urls)
            if i in self.dead:
                continue
            try:
                r = await self.http.request(
                    method,
                    self.urls[i] + path,
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.TransportError:
                self.failovers += 1
                continue
            if r.status_code == 503:  # Temporal busy after a kill: as the API says, retry
                await asyncio.sleep(1)
                continue
            self.answered[i] += 1
            return r
        raise AssertionError(f"{method} {path}: no API answered")

    async def json(self, method: str, path: str, token: str, body: dict | None = None):
        r = await self(method, path, token, body)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    async def until(self, path: str, token: str, done, what: str, within: float = 60):
        deadline = time.monotonic() + within
        while True:
            body = await self.json("GET", path, token)
            if done(body):
                return body
            assert time.monotonic() < deadline, f"{what} never came: {body}"
            await asyncio.sleep(0.25)


@pytest.fixture
def smtp(tmp_path):
    port = free_port()
    box = tmp_path / "mailbox"
    controller = Controller(MaildirHandler(box), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, box
    controller.stop()


async def test_production_rehearsal(tmp_path, smtp):
    started = time.monotonic()
    smtp_port, mailbox = smtp
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Processes(logs)
    pg = db = api = None
    try:
        # Postgres as the postgres image makes it: a superuser `relais` with its password
        # and its database.
        pg = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
        password = secrets.token_urlsafe(18)
        admin = await asyncpg.connect(pg.get_uri())
        await admin.execute(f"CREATE ROLE relais SUPERUSER LOGIN PASSWORD '{password}'")
        await admin.execute("CREATE DATABASE relais OWNER relais")
        await admin.close()
        socket_dir = pg.get_uri().partition("?host=")[2]

        temporal_port = await _start_dev_server(procs)
        where = Where(pg_socket=socket_dir, temporal_port=temporal_port)
        api_ports = [free_port(), free_port()]
        variables = {
            "POSTGRES_PASSWORD": password,
            "RELAIS_PAYLOAD_KEY": _key(),
            "RELAIS_DATA_KEY": _key(),
            "RELAIS_PUBLIC_URL": f"http://127.0.0.1:{api_ports[0]}",
            "RELAIS_SMTP_HOST": "127.0.0.1",
            "RELAIS_SMTP_PORT": str(smtp_port),
            "RELAIS_SMTP_STARTTLS": "false",
            "RELAIS_SMTP_USERNAME": "",
            "RELAIS_SMTP_PASSWORD": "",
            "RELAIS_MAIL_FROM": "Réseau Nord <ne-pas-repondre@reseau-nord.example>",
            "TEMPORAL_UI_ORIGIN": "http://127.0.0.1:8233",
        }
        migrate = launch("migrate", variables, where)

        # Two migrations at once (two replicas starting together): one applies, one waits.
        first, second = [procs.start(f"migrate-{n}", migrate) for n in (1, 2)]
        setup = procs.run("temporal-setup", launch("temporal-setup", variables, where))
        assert "Temporal prêt pour Relais (relais)" in setup
        assert first.wait(60) == 0 and second.wait(60) == 0, procs.tail("migrate-1")
        outputs = [procs.log(f"migrate-{n}").read_text() for n in (1, 2)]
        assert sum("aucune (à jour)" in o for o in outputs) == 1, outputs
        database_url = migrate.env["RELAIS_DATABASE_URL"]
        db = await create_pool(database_url, min_size=1, max_size=4)
        versions = [r[0] for r in await db.fetch("SELECT version FROM schema_migrations")]
        assert sorted(versions) == [m.version for m in available()]

        workers = [
            launch(
                "worker",
                variables,
                where,
                RELAIS_WORKER_HEALTH_FILE=str(tmp_path / f"worker-{n}.health"),
            )
            for n in (1, 2)
        ]
        apis = [
            launch("api", variables, where, RELAIS_API_HOST="127.0.0.1", RELAIS_API_PORT=str(p))
            for p in api_ports
        ]
        for n, w in enumerate(workers, 1):
            procs.start(f"worker-{n}", w)
        for n, a in enumerate(apis, 1):
            procs.start(f"api-{n}", a)

        # An empty deployment: the network's organisation and its first admin, by the CLI
        # in the migrate service's image (`docker compose run --rm migrate relais …`).
        out = procs.admin(
            "org-create",
            migrate,
            "organisation", "create", "--kind", "association", "--name", "Réseau Nord",
            "--siret", siret(), "--postcode", "13015", "--territory", "Marseille Nord",
        )  # fmt: skip
        network_id = out.strip().splitlines()[-1]
        procs.admin(
            "invite-admin",
            migrate,
            "user", "invite", "--org", network_id, "--role", "admin", "--name", "Alex Admin",
            "--email", "alex.admin@reseau-nord.example", "--active",
        )  # fmt: skip
        out = procs.admin(
            "token-admin",
            migrate,
            "token", "create", "--email", "alex.admin@reseau-nord.example",
            "--name", "déploiement",
        )  # fmt: skip
        admin_token = out.strip().splitlines()[-1]

        # Readiness as compose checks it: the services' own healthcheck commands.
        await _until_healthy(procs, apis, workers)
        booted = time.monotonic() - started

        api = Apis([f"http://127.0.0.1:{p}" for p in api_ports])
        orgs = {}
        for name, kind, email in [
            ("Logistique des Arnavaux", "member", "rh@arnavaux.example"),
            ("Boulangerie du Canet", "member", "contact@canet.example"),
            ("Garage de Sainte-Marthe", "member", "garage@sainte-marthe.example"),
            ("France Travail Marseille Nord", "agency", "nord@francetravail.example"),
            ("Massajobs", "agency", "contact@massajobs.example"),
            ("Cabinet Comptable du Port", "provider", "cabinet@port.example"),
        ]:
            body = {
                "kind": kind,
                "name": name,
                "siret": siret(),
                "postcode": "13015",
                "territory": "Marseille Nord",
                "headcount": 12,
                "email": email,
            }
            orgs[name] = (await api.json("POST", "/api/organisations", admin_token, body))["id"]
            if kind == "member":  # members of long standing: their membership is recorded
                path = f"/api/organisations/{orgs[name]}"
                await api.json("PATCH", path, admin_token, {"status": "active"})
        tokens = {}
        for role, org in [
            (Role.STAFF, network_id),
            (Role.MEMBER, orgs["Logistique des Arnavaux"]),
            (Role.MEMBER, orgs["Boulangerie du Canet"]),
            (Role.MEMBER, orgs["Garage de Sainte-Marthe"]),
            (Role.AGENCY, orgs["France Travail Marseille Nord"]),
            (Role.AGENCY, orgs["Massajobs"]),
            (Role.PARTNER, orgs["Cabinet Comptable du Port"]),
        ]:
            tokens[org] = (await make_user(db, uuid.UUID(org), role))[1]
        staff = tokens[network_id]
        employer = orgs["Logistique des Arnavaux"]
        agencies = [orgs["France Travail Marseille Nord"], orgs["Massajobs"]]

        campaign = await api.json(
            "POST",
            "/api/campaigns",
            staff,
            {
                "request_id": "arnavaux-2026",
                "employer_id": employer,
                "title": "Préparateurs de commandes",
                "positions": [
                    {
                        "title": "Préparateur",
                        "count": HIRES,
                        "contract": "cdi",
                        "place_postcode": "13014",
                    }
                ],
                "territory_postcodes": ["13014", "13015"],
                "agency_ids": agencies,
                "deadline": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
                "decision_sla_days": 5,
            },
        )
        cid = campaign["id"]
        service = await api.json(
            "POST",
            "/api/services",
            staff,
            {
                "code": "comptable-partage",
                "name": "Comptable partagé",
                "unit": "day",
                "pooling": {"min_participants": MEMBERS},
                "window_days": 90,
                "cost": {"fixed_cents": 90_001, "per_unit_cents": 10_000},
                "split_rule": "equal",
                "acceptance_days": 7,
                "provider_id": orgs["Cabinet Comptable du Port"],
            },
        )

        # Agencies refer candidates and companies join the pool, through both APIs, while
        # one worker is killed.
        def person(n: int, agency: int) -> dict:
            return {
                "request_id": f"ref-{agency}-{n}",
                "first_name": "Camille",
                "last_name": f"N{n}",
                "email": f"camille.rehearsal{n}@example.fr",
                "postcode": "13015",
                "skills": ["CACES"],
                "experience_years": 3,
            }

        bodies = [(n % 2, person(n, n % 2)) for n in range(PEOPLE)]
        bodies.append((1, {**person(0, 1), "request_id": "ref-again"}))  # referred twice
        referrals = [
            asyncio.create_task(
                api.json("POST", f"/api/campaigns/{cid}/referrals", tokens[agencies[a]], b)
            )
            for a, b in bodies
        ]
        needed_by = in_next_month(date.today(), 2).isoformat()
        members = [orgs[n] for n in list(orgs)[:MEMBERS]]
        joins = [
            asyncio.create_task(
                api.json(
                    "POST",
                    f"/api/services/{service['code']}/requests",
                    tokens[m],
                    {"request_id": "compta-2026", "quantity": 1 + i, "needed_by": needed_by},
                )
            )
            for i, m in enumerate(members)
        ]
        await asyncio.sleep(0.3)
        assert not all(t.done() for t in referrals + joins)  # killed with work in flight
        procs.kill9("worker-1")
        referred = await asyncio.gather(*referrals)
        requests = await asyncio.gather(*joins)
        statuses = [r["status"] for r in referred]
        assert statuses.count("duplicate") == 1 and statuses.count("screening") == PEOPLE
        assert len({r["pool_id"] for r in requests}) == 1
        pool_id = requests[0]["pool_id"]

        # Staff screen, the employer asks for interviews while one API is killed.
        chosen = [r for r in referred if r["status"] == "screening"][: HIRES + 1]
        by_id = {r["referral_id"]: bodies[i][0] for i, r in enumerate(referred)}
        for r in chosen:
            await api.json(
                "POST",
                f"/api/referrals/{r['referral_id']}/screening",
                staff,
                {"request_id": f"s-{r['referral_id']}", "retained": True, "reason": "profil"},
            )
        interviews = [
            asyncio.create_task(
                api.json(
                    "POST",
                    f"/api/referrals/{r['referral_id']}/interview-request",
                    tokens[employer],
                    {"request_id": f"i-{r['referral_id']}"},
                )
            )
            for r in chosen
        ]
        await asyncio.sleep(0.05)
        assert not all(t.done() for t in interviews)
        procs.kill9("api-2")
        api.dead.add(1)
        code, said = await _healthcheck(apis[1])  # what compose would see
        assert code == 1 and "injoignable" in said, said
        await asyncio.gather(*interviews)
        for r in chosen:
            agency = agencies[by_id[r["referral_id"]]]
            await api.json(
                "POST",
                f"/api/referrals/{r['referral_id']}/consent",
                tokens[agency],
                {"request_id": f"c-{r['referral_id']}", "given": True},
            )
        # One rejected, then the hires: the last hire fills the campaign.
        for n, r in [(HIRES, chosen[HIRES]), *enumerate(chosen[:HIRES])]:
            hired = n < HIRES
            done = await api.json(
                "POST",
                f"/api/referrals/{r['referral_id']}/decision",
                tokens[employer],
                {
                    "request_id": f"d-{r['referral_id']}",
                    "hired": hired,
                    "reason": "motivée" if hired else "profil junior",
                },
            )
            assert done["step"] == ("hired" if hired else "rejected"), done
        await api.until(f"/api/campaigns/{cid}", staff, lambda c: c["status"] == "filled", "filled")

        # The pool goes on through the API that is left: quotes, order, delivery, ratings.
        quoted = [
            await api.until(
                f"/api/service-requests/{r['id']}",
                tokens[m],
                lambda s: s["status"] == "quoted",
                "a quote",
            )
            for r, m in zip(requests, members, strict=True)
        ]
        total = 90_001 + 10_000 * sum(1 + i for i in range(MEMBERS))
        assert sum(q["quote_cents"] for q in quoted) == total
        for q, m in zip(quoted, members, strict=True):
            await api.json(
                "POST",
                f"/api/service-requests/{q['id']}/quote",
                tokens[m],
                {"accept": True, "quote_cents": q["quote_cents"]},
            )
        provider = tokens[orgs["Cabinet Comptable du Port"]]
        await api.until(
            f"/api/pools/{pool_id}", provider, lambda p: p["status"] == "ordered", "order"
        )
        order = {"confirmed": True, "reference": "CCP-2026-1"}
        await api.json("POST", f"/api/pools/{pool_id}/order", provider, order)
        await api.json("POST", f"/api/pools/{pool_id}/delivery", provider, {"delivered": True})
        for r, m in zip(requests, members, strict=True):
            await api.json(
                "POST", f"/api/service-requests/{r['id']}/rating", tokens[m], {"stars": 5}
            )
        await api.until(
            f"/api/pools/{pool_id}", staff, lambda p: p["status"] == "completed", "completed"
        )

        # Every mail sent, once each.
        deadline = time.monotonic() + 30
        unsent = "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
        while await db.fetchval(unsent):
            assert time.monotonic() < deadline, "mail still waiting"
            await asyncio.sleep(0.5)

        # One row per effect.
        counts = dict(await db.fetch("SELECT status, count(*) FROM referrals GROUP BY status"))
        assert counts == {
            "hired": HIRES,
            "rejected": 1,
            "duplicate": 1,
            "not_retained": PEOPLE - HIRES - 1,
        }
        assert await db.fetchval("SELECT filled FROM campaign_positions") == HIRES
        assert await db.fetchval("SELECT count(*) FROM campaigns") == 1
        assert await db.fetchval("SELECT count(*) FROM service_requests") == MEMBERS
        lines = await db.fetch("SELECT amount_cents FROM invoice_lines")
        assert len(lines) == MEMBERS and sum(r[0] for r in lines) == total
        assert await db.fetchval("SELECT count(*) FROM service_orders") == 1
        assert await db.fetchval("SELECT count(*) FROM tasks WHERE closed_at IS NULL") == 0
        # One mail per effect: the outbox holds no effect twice, and the provider's server
        # received each of its messages once.
        outbox = await db.fetch("SELECT recipient, subject, body FROM outbox")
        assert len({tuple(r) for r in outbox}) == len(outbox)
        received = read_mailbox(mailbox)
        ids = [m.message_id for m in received]
        assert (
            len(ids)
            == len(set(ids))
            == await db.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL")
        )
        hired_mails = [m for m in received if m.subject.startswith("Candidat embauché")]
        assert len(hired_mails) == HIRES

        # Both APIs served, and the dead one's requests went to the other.
        assert all(api.answered), api.answered
        answered, failovers = api.answered, api.failovers
    finally:
        if api is not None:
            await api.http.aclose()
        if db is not None:
            await db.close()
        procs.stop_all()
        if pg is not None:
            pg.cleanup()
    elapsed = time.monotonic() - started

    # Logs as a deployment ships them: JSON lines, and no candidate's address in them.
    for name in ("worker-1", "worker-2", "api-1", "api-2", "migrate-1", "migrate-2"):
        text = procs.log(name).read_text(errors="replace")
        # the one line relais migrate prints for the operator is not a log line
        lines = [line for line in text.splitlines() if line.strip() and "migrations " not in line]
        assert lines or name.startswith("migrate"), name
        for line in lines:
            assert json.loads(line)["event"], (name, line)
        assert "camille.rehearsal" not in text, name
    # What ran is what compose describes (the same check as tests/unit/test_compose.py,
    # on what was really launched).
    assert {(w.service, tuple(w.argv[:2])) for w in procs.launched} >= {
        ("migrate", ("relais", "migrate")),
        ("worker", ("relais", "worker")),
        ("api", ("relais", "api")),
    }
    print(
        f"rehearsal: ready in {booted:.1f} s, whole run {elapsed:.1f} s; requests answered "
        f"by each API {answered}, {failovers} sent again to the other after a failure"
    )
    assert elapsed < 150


def _dev_server(port: int) -> Launch:
    """The Temporal dev server stands for compose's temporal-schema + temporal services
    (in memory; its namespace and search attributes come from compose's temporal-setup)."""
    args = [
        str(temporal_cli()), "server", "start-dev", "--headless",
        "--ip", "127.0.0.1", "--port", str(port), "--log-level", "warn",
    ]  # fmt: skip
    return Launch("temporal (dev server)", args, {})


async def _start_dev_server(procs: Processes) -> int:
    """The dev server on a free port (again on another if that one was taken meanwhile)."""
    for _ in range(3):
        port = free_port()
        proc = procs.start("temporal", _dev_server(port))
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return port
            except OSError:
                await asyncio.sleep(0.1)
        procs.running.pop("temporal")
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    raise AssertionError("the Temporal dev server never listened\n" + procs.tail("temporal"))


async def _healthcheck(what: Launch) -> tuple[int, str]:
    """compose's healthcheck of `what`'s service (`relais health`, `relais health
    --worker`), run as compose runs it inside the container: with the service's
    environment. Its exit code and what it said."""
    argv = compose.SERVICES[what.service]["healthcheck"]["test"][1:]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env={**base_environment(), **what.env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    return proc.returncode or 0, err.decode(errors="replace")


async def _until_healthy(procs: Processes, apis, workers, within: float = 60) -> None:
    deadline = time.monotonic() + within
    pending = [*apis, *workers]
    while pending:
        results = [await _healthcheck(what) for what in pending]
        last = [err for code, err in results if code]
        pending = [what for what, (code, _) in zip(pending, results, strict=True) if code]
        if pending:
            assert time.monotonic() < deadline, f"not healthy: {last}\n" + "\n".join(
                procs.tail(n) for n in procs.running if n.startswith(("api", "worker"))
            )
            await asyncio.sleep(0.5)
