"""A regional network's data set in Relais' own schema (after `store.migrate`), seeded with
COPY: tens of thousands of companies and years of mostly closed processes, with the skew of
real life — one large open campaign holding most open tasks, a few employers given thousands
of tasks, most members a handful (their onboarding, a few bookings, a pooled request).

`seed(conn, REGIONAL.scaled(f), sealer)` writes `f` times the volumes of issue 20; the same
generator at 1/444 gives a demo-sized set (45 organisations) and at 1/1000 the test's set.
Rows are valid: foreign keys, checks, workflow ids in each process's own format, candidate
identities sealed for their row (the network reads them in clear), one slot per resource at
a time. Nothing here starts a workflow: these processes have no Temporal history."""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from domain.booking import reservation_workflow_id
from domain.convention import convention_workflow_id
from domain.identifiers import luhn_check_digit
from domain.onboarding import onboarding_workflow_id
from domain.pooling import pool_workflow_id
from domain.recruitment import campaign_workflow_id, referral_workflow_id
from store.crypto import Sealer
from store.users import hash_token, new_token

CHUNK = 50_000  # rows per COPY


@dataclass(frozen=True)
class Volumes:
    """Rows to seed. The defaults are issue 20's regional network."""

    organisations: int = 20_000
    processes: int = 200_000
    tasks: int = 500_000
    open_tasks: int = 50_000
    audit_events: int = 2_000_000
    outbox: int = 100_000
    big_campaign_referrals: int = 50_000
    service_requests: int = 20_000
    reservations: int = 59_000

    def scaled(self, f: float) -> Volumes:
        return replace(
            self, **{x.name: max(1, round(getattr(self, x.name) * f)) for x in fields(self)}
        )


REGIONAL = Volumes()
DEMO = REGIONAL.scaled(45 / 20_000)  # about the demo's 45 organisations
SMALL_CAMPAIGN = 50  # referrals in the campaign the referral benchmark compares with


@dataclass
class Seeded:
    """What a benchmark needs to act on the seeded set, and what was written."""

    volumes: Volumes
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # manager, staff, member, employer, agency
    users: dict[str, UUID] = field(default_factory=dict)  # the same people's user ids
    cookies: dict[str, str] = field(default_factory=dict)  # their sessions, once signed in
    orgs: dict[str, UUID] = field(default_factory=dict)  # network, member, employer, agency
    big_campaign: UUID | None = None
    small_campaign: UUID | None = None
    busy_referral: str = ""  # a referral's workflow id with a long history
    phases: dict[str, float] = field(default_factory=dict)  # seconds since the start


def _siret(n: int) -> str:
    siren = f"{30_000_000 + n:08d}"
    siren += luhn_check_digit(siren)
    nic = "0001"
    return siren + nic + luhn_check_digit(siren + nic)


def _uuids(rng: random.Random) -> Iterator[UUID]:
    while True:
        yield UUID(int=rng.getrandbits(128), version=4)


TERRITORIES = [f"Territoire {n}" for n in range(1, 11)]
NAF = ["4711D", "5610A", "4941A", "2511Z", "6201Z", "8121Z", "4520A", "1071C", "4321A", "7022Z"]

# Closed referrals by their last step, weighted; each with the actions it went through.
CLOSED_REFERRALS = [
    ("screened_out", 25, ["screen"], "failed"),
    ("not_retained", 30, ["screen", "request_interview"], "failed"),
    ("rejected", 20, ["screen", "request_interview", "consent", "decide"], "failed"),
    ("hired", 10, ["screen", "request_interview", "consent", "decide"], "completed"),
    ("withdrawn", 10, ["screen", "request_interview"], "cancelled"),
    ("duplicate", 5, [], "failed"),
]
# Open referrals of an open campaign: the step they wait at (its task is open).
OPEN_REFERRALS = [
    ("screening", 70, ["screen"], "staff"),
    ("shortlisted", 20, ["screen", "request_interview"], "member"),
    ("interview_requested", 5, ["screen", "request_interview", "consent"], "agency"),
    ("interview", 5, ["screen", "request_interview", "consent", "decide"], "member"),
]
TASK_TITLES = {
    "screen": "Trier la candidature",
    "request_interview": "Demander un entretien",
    "consent": "Transmettre le consentement du candidat",
    "decide": "Décider de l'embauche",
    "accept_charter": "Accepter la charte du réseau",
    "accept_quote": "Répondre au devis",
    "rate": "Noter le service",
    "refer_candidates": "Proposer des candidats",
    "sign_convention": "Signer la convention",
    "follow_up": "Relancer",
}


class _Copier:
    """Buffers rows per table and copies each buffer when full (and at the end)."""

    def __init__(self, conn: asyncpg.Connection, columns: dict[str, list[str]]) -> None:
        self.conn, self.columns = conn, columns
        self.buffers: dict[str, list[tuple]] = {t: [] for t in columns}
        self.rows: dict[str, int] = dict.fromkeys(columns, 0)

    def add(self, table: str, row: tuple) -> None:
        self.buffers[table].append(row)

    async def spill(self) -> None:
        """Copy every buffer that is full."""
        for t, buf in self.buffers.items():
            if len(buf) >= CHUNK:
                await self.flush(t)

    async def flush(self, *tables: str) -> None:
        for t in tables or list(self.columns):
            buf = self.buffers[t]
            if buf:
                await self.conn.copy_records_to_table(t, records=buf, columns=self.columns[t])
                self.rows[t] += len(buf)
                self.buffers[t] = []


# Columns written per table (the others keep their defaults).
COLUMNS = {
    "organisations": (
        "id kind name siret naf headcount postcode commune territory email status "
        "created_at updated_at"
    ).split(),
    "users": "id organisation_id role name created_at".split(),
    "api_tokens": "token_hash user_id label".split(),
    "memberships": (
        "organisation_id workflow_id contact_name contact_email status "
        "charter_accepted_at charter_accepted_by created_at updated_at"
    ).split(),
    "campaigns": (
        "id workflow_id employer_id network_id created_by title status deadline "
        "decision_sla_days grace_days territory_postcodes created_at closed_at"
    ).split(),
    "campaign_positions": "id campaign_id ord title count filled contract place_postcode".split(),
    "campaign_agencies": "campaign_id agency_id relayed_at".split(),
    "services": (
        "id network_id code name unit min_participants min_quantity window_days "
        "fixed_cents per_unit_cents split_rule acceptance_days provider_id max_quantity "
        "created_at"
    ).split(),
    "pools": (
        "id service_id period status closes_at total_cents quote_round opened_at updated_at"
    ).split(),
    "resources": "id network_id kind name location created_at".split(),
    "conventions": (
        "id workflow_id network_id created_by title territory status phase_number "
        "created_at updated_at"
    ).split(),
    "convention_parties": "convention_id organisation_id role signatory_id".split(),
    "convention_phases": (
        "convention_id number starts_on ends_on annual_budget_cents status"
    ).split(),
    "processes": (
        "workflow_id run_id process organisation_id title status step waiting_on since "
        "seq started_at updated_at"
    ).split(),
    "tasks": (
        "id key workflow_id process action title assignee_organisation_id assignee_role "
        "due_at created_at closed_at outcome subject_id"
    ).split(),
    "referrals": (
        "id campaign_id agency_id workflow_id position_id pseudonym email_key "
        "duplicate_of status postcode skills experience_years identity_enc shortlisted_at "
        "consent_at decided_at reason hired_position_id created_at updated_at"
    ).split(),
    "service_requests": (
        "id pool_id member_id idempotency_key quantity needed_by status quote_cents "
        "accepted_cents rating created_by created_at updated_at"
    ).split(),
    "invoice_lines": "request_id pool_id member_id description amount_cents created_at".split(),
    "reservations": (
        "id workflow_id resource_id resource_no member_id slot status created_by "
        "created_at updated_at"
    ).split(),
    "audit_events": "at actor action workflow_id entity_type entity_id".split(),
    "outbox": (
        "id dedup_key recipient subject body workflow_id created_at sent_at attempts "
        "next_attempt_at failed_at last_error recipients"
    ).split(),
}


@dataclass(slots=True)
class _Proc:
    """One process to write: its row, its tasks (action, org, role, open?), its audit."""

    workflow_id: str
    process: str
    owner: UUID | None
    title: str
    status: str
    step: str
    waiting_on: str | None
    started: datetime
    updated: datetime
    entity: tuple[str, str]
    tasks: list[tuple[str, UUID, str, bool, str | None]]


async def seed(conn: asyncpg.Connection, v: Volumes, sealer: Sealer, seed_no: int = 20) -> Seeded:
    """Write the data set into an empty, migrated database; returns what it wrote."""
    t0 = time.perf_counter()
    rng = random.Random(seed_no)
    ids = _uuids(rng)
    now = datetime.now(UTC).replace(microsecond=0)
    years = timedelta(days=5 * 365)
    out = Seeded(volumes=v)
    cp = _Copier(conn, COLUMNS)

    def past(span: timedelta = years, recent: timedelta = timedelta(0)) -> datetime:
        return now - recent - timedelta(seconds=rng.random() * span.total_seconds())

    # --- organisations and their people ---------------------------------------------------
    n_org = max(v.organisations, 20)
    n_agency, n_provider = max(4, n_org // 500), max(2, n_org // 1000)
    kinds = (
        ["association"]
        + ["chamber"] * 2
        + ["authority"] * 2
        + ["agency"] * n_agency
        + ["provider"] * n_provider
    )
    kinds += ["member"] * (n_org - len(kinds))
    by_kind: dict[str, list[UUID]] = {k: [] for k in set(kinds)}
    org_name: dict[UUID, str] = {}
    for n, kind in enumerate(kinds):
        oid = next(ids)
        by_kind[kind].append(oid)
        name = {
            "association": "Réseau régional des entreprises",
            "agency": f"Agence emploi {n}",
            "provider": f"Prestataire {n}",
            "chamber": f"Chambre {n}",
            "authority": f"Collectivité {n}",
        }.get(kind, f"Entreprise {n:05d}")
        org_name[oid] = name
        created = past()
        status = "active"
        if kind == "member":
            status = rng.choices(["active", "pending", "inactive"], [95, 2, 3])[0]
        cp.add(
            "organisations",
            (
                oid,
                kind,
                name,
                _siret(n),
                rng.choice(NAF),
                rng.randrange(1, 250),
                f"13{rng.randrange(0, 1000):03d}",
                "Marseille",
                rng.choice(TERRITORIES),
                f"contact{n}@example.fr",
                status,
                created,
                created,
            ),
        )
    await cp.flush("organisations")
    network = by_kind["association"][0]
    members, agencies, providers = by_kind["member"], by_kind["agency"], by_kind["provider"]
    chambers = by_kind["chamber"]

    user_of: dict[UUID, UUID] = {}
    network_users: dict[str, list[UUID]] = {"admin": [], "staff": [], "manager": []}
    for role, k in (("admin", 1), ("staff", 5), ("manager", 2)):
        for i in range(k):
            uid = next(ids)
            network_users[role].append(uid)
            cp.add("users", (uid, network, role, f"{role.title()} {i}", past()))
    user_of[network] = network_users["staff"][0]
    for kind, role in (
        ("member", "member"),
        ("agency", "agency"),
        ("provider", "partner"),
        ("chamber", "partner"),
    ):
        for oid in by_kind[kind]:
            uid = next(ids)
            user_of[oid] = uid
            cp.add("users", (uid, oid, role, f"Contact {org_name[oid]}", past()))
    await cp.flush("users")

    # Who the benchmark acts as: a member with few tasks, the large campaign's employer, one
    # of its agencies. Employers are drawn from the first members, the typical one is last.
    n_employers = max(2, len(members) // 60)
    employers, typical = members[:n_employers], members[-1]
    out.orgs = {
        "network": network,
        "member": typical,
        "employer": employers[0],
        "agency": agencies[0],
    }
    for who, uid in (
        ("manager", network_users["manager"][0]),
        ("staff", network_users["staff"][0]),
        ("member", user_of[typical]),
        ("employer", user_of[employers[0]]),
        ("agency", user_of[agencies[0]]),
    ):
        token = new_token()
        out.tokens[who], out.users[who] = token, uid
        cp.add("api_tokens", (hash_token(token), uid, "bench"))
    await cp.flush("api_tokens")

    procs: list[_Proc] = []

    # --- onboardings: most members joined years ago, a few are still to accept the charter -
    for i, oid in enumerate(members):
        if i % 20 == 7:  # never onboarded through Relais (joined before it)
            continue
        started = past()
        pending = i % 100 == 3
        done = started + timedelta(days=rng.randrange(1, 20))
        wid = onboarding_workflow_id(oid)
        if not pending:
            cp.add(
                "memberships",
                (
                    oid,
                    wid,
                    "Contact",
                    f"contact{i}@example.fr",
                    "active",
                    done,
                    user_of[oid],
                    started,
                    done,
                ),
            )
        procs.append(
            _Proc(
                wid,
                "onboarding",
                oid,
                f"Adhésion de {org_name[oid]}",
                "waiting" if pending else "completed",
                "awaiting_charter" if pending else "active",
                "member" if pending else None,
                started,
                now - timedelta(days=rng.randrange(1, 25)) if pending else done,
                ("membership", str(oid)),
                [("accept_charter", oid, "member", pending, None)],
            )
        )
    await cp.flush("memberships")

    # --- pooled services: one service per provider, pools per service and month ----------
    services = []
    for n, provider in enumerate(providers):
        sid = next(ids)
        code = f"svc-{n:03d}"
        services.append((sid, code, f"Service mutualisé {n}"))
        cp.add(
            "services",
            (
                sid,
                network,
                code,
                f"Service mutualisé {n}",
                "day",
                3,
                0,
                30,
                50_000,
                20_000,
                "equal",
                7,
                provider,
                10,
                past(),
            ),
        )
    await cp.flush("services")
    n_pools = max(2, v.service_requests // 20)
    pools = []
    for k in range(n_pools):
        sid, code, sname = services[k % len(services)]
        month = k // len(services)  # 0 is the current month
        year, mon = divmod(now.year * 12 + now.month - 1 - month, 12)
        period = f"{year:04d}-{mon + 1:02d}"
        opened = now - timedelta(days=30 * month + rng.randrange(0, 25))
        open_ = k < max(1, n_pools // 50)
        status = "quoting" if open_ else rng.choices(["completed", "failed"], [92, 8])[0]
        pid = pool_workflow_id(code, period)
        pools.append((pid, status, opened, sname, providers[k % len(services)]))
        cp.add(
            "pools",
            (
                pid,
                sid,
                period,
                status,
                opened + timedelta(days=30),
                None if status == "failed" else 1_000_000,
                1,
                opened,
                opened + timedelta(days=40),
            ),
        )
    await cp.flush("pools")
    pool_tasks: dict[str, list] = {p[0]: [] for p in pools}
    member_reqs = itertools.chain([typical], (rng.choice(members) for _ in itertools.count()))
    seen_member_pool: set[tuple[UUID, str]] = set()
    for i in range(v.service_requests):
        pid, pstatus, opened, _, _ = pools[i % n_pools]
        member = next(member_reqs)
        if (member, pid) in seen_member_pool:
            member = rng.choice(members)
        seen_member_pool.add((member, pid))
        rid = next(ids)
        created = opened + timedelta(hours=rng.randrange(1, 200))
        if pstatus == "quoting":
            status = rng.choice(["quoted", "accepted"])
        elif pstatus == "failed":
            status = "released"
        else:
            status = rng.choices(["invoiced", "declined", "withdrawn", "expired"], [85, 5, 5, 5])[0]
        quote = 50_000 if status != "released" else None
        cp.add(
            "service_requests",
            (
                rid,
                pid,
                member,
                f"seed-{i}",
                rng.randrange(1, 5),
                created.date() + timedelta(days=40),
                status,
                quote,
                quote if status in ("accepted", "invoiced") else None,
                rng.randrange(3, 6) if status == "invoiced" else None,
                user_of[member],
                created,
                created + timedelta(days=10),
            ),
        )
        await cp.spill()
        if status == "invoiced":
            cp.add("invoice_lines", (rid, pid, member, "Quote-part", 50_000, created))
        open_quote = status == "quoted"
        pool_tasks[pid].append(("accept_quote", member, "member", open_quote, str(rid)))
        if status == "invoiced":
            pool_tasks[pid].append(("rate", member, "member", False, str(rid)))
    await cp.flush("service_requests", "invoice_lines")
    for pid, pstatus, opened, sname, provider in pools:
        open_ = pstatus == "quoting"
        procs.append(
            _Proc(
                pid,
                "pooling",
                network,
                f"Mutualisation : {sname}",
                "waiting" if open_ else pstatus,
                pstatus,
                "member" if open_ else None,
                opened,
                opened + timedelta(days=2 if open_ else 45),
                ("pool", pid),
                pool_tasks[pid]
                + ([] if open_ else [("follow_up", provider, "partner", False, None)]),
            )
        )

    # --- bookings: one slot at a time per resource, most of them past ----------------------
    n_res = max(2, n_org // 1000)
    resources = []
    for n in range(n_res):
        rid = next(ids)
        resources.append((rid, n + 1))
        cp.add(
            "resources",
            (rid, network, "room" if n % 3 else "vehicle", f"Salle {n}", "Marseille", now - years),
        )
    await cp.flush("resources")
    per_resource = -(-v.reservations // n_res)
    spacing = max(timedelta(hours=3), (years + timedelta(days=60)) / per_resource)
    bookers = itertools.chain([typical] * 3, (rng.choice(members) for _ in itertools.count()))
    for i in range(v.reservations):
        (res_id, res_no), j = resources[i % n_res], i // n_res
        start = now - years + j * spacing
        slot = asyncpg.Range(start, start + timedelta(hours=2), lower_inc=True, upper_inc=False)
        member = next(bookers)
        if start > now:
            status = "confirmed"
        else:
            status = rng.choices(["completed", "cancelled", "expired"], [88, 10, 2])[0]
        bid = next(ids)
        created = start - timedelta(days=rng.randrange(1, 30))
        wid = reservation_workflow_id(bid)
        cp.add(
            "reservations",
            (
                bid,
                wid,
                res_id,
                res_no,
                member,
                slot,
                status,
                user_of[member],
                created,
                min(start, now),
            ),
        )
        await cp.spill()
        pstatus = {"confirmed": "running"}.get(status, status)
        procs.append(
            _Proc(
                wid,
                "booking",
                member,
                "Réservation",
                pstatus,
                status,
                None,
                created,
                min(start + timedelta(hours=2), now - timedelta(minutes=5)),
                ("reservation", str(bid)),
                [],
            )
        )
    await cp.flush("reservations")

    # --- conventions ------------------------------------------------------------------------
    for n in range(max(1, n_org // 1000)):
        cid = next(ids)
        wid = convention_workflow_id(cid)
        active = n < 3
        started = past(years, timedelta(days=400)) if not active else past(timedelta(days=300))
        status = "active" if active else "closed"
        chamber = chambers[n % len(chambers)]
        manager = network_users["manager"][0]
        cp.add(
            "conventions",
            (
                cid,
                wid,
                network,
                manager,
                f"Convention {n}",
                rng.choice(TERRITORIES),
                status,
                1,
                started,
                started,
            ),
        )
        cp.add("convention_parties", (cid, network, "operator", manager))
        cp.add("convention_parties", (cid, chamber, "partner", user_of[chamber]))
        cp.add(
            "convention_phases",
            (
                cid,
                1,
                started.date(),
                started.date() + timedelta(days=365),
                16_500_000,
                status,
            ),
        )
        procs.append(
            _Proc(
                wid,
                "convention",
                network,
                f"Convention {n}",
                "running" if active else "completed",
                status,
                None,
                started,
                started + timedelta(days=30 if active else 380),
                ("convention", str(cid)),
                [
                    ("sign_convention", network, "manager", False, None),
                    ("sign_convention", chamber, "partner", False, None),
                ],
            )
        )
    await cp.flush("conventions", "convention_parties", "convention_phases")

    # --- recruitment: one large open campaign, a small open one, years of closed ones ------
    n_campaigns = max(3, n_org // 20)
    others = len(procs) + n_campaigns
    referral_budget = max(v.processes - others, v.big_campaign_referrals + 2)
    big_n = v.big_campaign_referrals
    small_n = min(SMALL_CAMPAIGN, max(1, (referral_budget - big_n) // 2))
    rest = max(0, referral_budget - big_n - small_n)
    n_open_campaigns = max(2, n_campaigns // 20)
    weights = [1 / (r + 1) for r in range(len(employers))]  # a few employers recruit a lot
    campaigns = []
    for k in range(n_campaigns):
        cid = next(ids)
        employer = employers[0] if k == 0 else rng.choices(employers, weights)[0]
        if k == 1:
            employer = employers[1]
        open_ = k < n_open_campaigns
        created = past(timedelta(days=60)) if open_ else past(years, timedelta(days=90))
        invited = agencies[:10] if k == 0 else [agencies[0], *rng.sample(agencies[1:], 2)]
        size = big_n if k == 0 else small_n if k == 1 else 0
        campaigns.append(
            {
                "id": cid,
                "employer": employer,
                "open": open_,
                "created": created,
                "agencies": invited,
                "size": size,
                "positions": [],
            }
        )
    for _ in range(rest):  # the closed campaigns' referrals, spread unevenly
        c = (
            campaigns[2 + int(rng.random() ** 2 * (n_campaigns - 2))]
            if n_campaigns > 2
            else campaigns[1]
        )
        c["size"] += 1
    staff = network_users["staff"][0]
    for k, c in enumerate(campaigns):
        status = (
            "open" if c["open"] else rng.choices(["closed", "filled", "cancelled"], [70, 25, 5])[0]
        )
        deadline = now + timedelta(days=60) if c["open"] else c["created"] + timedelta(days=45)
        cp.add(
            "campaigns",
            (
                c["id"],
                campaign_workflow_id(c["id"]),
                c["employer"],
                network,
                staff,
                f"Campagne {k}",
                status,
                deadline,
                5,
                2,
                ["13013", "13014", "13015"],
                c["created"],
                None if c["open"] else deadline + timedelta(days=10),
            ),
        )
        c["status"] = status
        for _ in range(1 if k else 3):
            pid = next(ids)
            c["positions"].append([pid, 0])
        for a in c["agencies"]:
            cp.add("campaign_agencies", (c["id"], a, c["created"]))
    await cp.flush("campaigns", "campaign_agencies")

    # Open referrals wait where the open tasks are: as many as the open tasks still to place.
    open_elsewhere = sum(1 for p in procs for t in p.tasks if t[3])
    open_elsewhere += n_open_campaigns * 3  # each open campaign's agencies must refer
    open_campaign_refs = sum(c["size"] for c in campaigns if c["open"])
    # Drawn one by one so that exactly that many are open (sequential sampling).
    open_quota = min(open_campaign_refs, max(0, v.open_tasks - open_elsewhere))
    serial = itertools.count()
    referral_rows: list[tuple] = []
    positions_rows = []
    for k, c in enumerate(campaigns):
        cid, employer = c["id"], c["employer"]
        originals: list[tuple[UUID, bytes]] = []
        for j in range(c["size"]):
            n = next(serial)
            agency = c["agencies"][0] if j % 2 == 0 else rng.choice(c["agencies"])
            request = f"seed{n}"
            rid = next(ids)
            wid = referral_workflow_id(cid, agency, request)
            created = c["created"] + timedelta(minutes=rng.randrange(1, 60 * 24 * 40))
            created = min(created, now - timedelta(minutes=1))
            if c["open"] and rng.random() * open_campaign_refs < open_quota:
                open_quota -= 1
                step, _, actions, waiting = _pick(rng, OPEN_REFERRALS)
                pstatus, is_open = "waiting", True
            else:
                step, _, actions, pstatus = _pick(rng, CLOSED_REFERRALS)
                waiting, is_open = None, False
            if c["open"]:
                open_campaign_refs -= 1
            duplicate_of = None
            if step == "duplicate" and originals:
                duplicate_of, email_key = rng.choice(originals)
            else:
                if step == "duplicate":
                    step, actions, pstatus = "screened_out", ["screen"], "failed"
                email_key = sealer.keyed_hash(f"{cid}|email|candidat{n}@example.fr")
                originals.append((rid, email_key))
            position = c["positions"][0]
            hired = step == "hired"
            if hired:
                position[1] += 1
            identity = json.dumps(
                {
                    "first_name": "Camille",
                    "last_name": f"N{n}",
                    "email": f"candidat{n}@example.fr",
                    "phone": None,
                }
            )
            later = min(created + timedelta(days=rng.randrange(1, 30)), now - timedelta(minutes=1))
            short = later if len(actions) >= 2 else None
            referral_rows.append(
                (
                    rid,
                    cid,
                    agency,
                    wid,
                    position[0],
                    f"C-{n:06d}",
                    email_key,
                    duplicate_of,
                    step,
                    "13015",
                    ["CACES"],
                    rng.randrange(0, 15),
                    sealer.seal(identity, f"referral:{rid}:identity"),
                    short,
                    later if len(actions) >= 4 else None,
                    later if step in ("hired", "rejected") else None,
                    "motif" if step in ("rejected", "screened_out") else None,
                    position[0] if hired else None,
                    created,
                    later if not is_open else created,
                )
            )
            tasks = []
            for a_n, action in enumerate(actions):
                last = a_n == len(actions) - 1
                org, role = {"screen": (network, "staff"), "consent": (agency, "agency")}.get(
                    action, (employer, "member")
                )
                tasks.append((action, org, role, is_open and last, str(rid)))
            procs.append(
                _Proc(
                    wid,
                    "referral",
                    agency,
                    f"Candidature C-{n:06d}",
                    pstatus,
                    step,
                    waiting,
                    created,
                    later
                    if not is_open
                    else min(now, created + timedelta(hours=rng.randrange(1, 300))),
                    ("referral", str(rid)),
                    tasks,
                )
            )
            if k == 0 and len(tasks) >= 3 and not out.busy_referral:
                out.busy_referral = wid
        for ord_, (pid, filled) in enumerate(c["positions"]):
            positions_rows.append(
                (
                    pid,
                    cid,
                    ord_,
                    "Préparateur de commandes",
                    max(filled, 500 if k == 0 else 5),
                    filled,
                    "cdi",
                    "13014",
                )
            )
        procs.append(
            _Proc(
                campaign_workflow_id(cid),
                "recruitment",
                employer,
                f"Recrutement : Campagne {k}",
                "waiting"
                if c["open"]
                else {"cancelled": "cancelled"}.get(c["status"], "completed"),
                c["status"],
                "agency" if c["open"] else None,
                c["created"],
                now - timedelta(hours=1) if c["open"] else c["created"] + timedelta(days=55),
                ("campaign", str(cid)),
                [("refer_candidates", a, "agency", c["open"], None) for a in c["agencies"][:3]],
            )
        )
    for row in positions_rows:
        cp.add("campaign_positions", row)
    await cp.flush("campaign_positions")
    for row in referral_rows:
        cp.add("referrals", row)
        await cp.spill()
    await cp.flush("referrals")
    del referral_rows
    out.big_campaign, out.small_campaign = campaigns[0]["id"], campaigns[1]["id"]

    # --- processes, their tasks (topped up with closed follow-ups) and audit trail --------
    base_tasks = sum(len(p.tasks) for p in procs)
    follow_ups = max(0, v.tasks - base_tasks)
    closed_procs = [i for i, p in enumerate(procs) if p.status not in ("waiting", "running")]
    extra: dict[int, int] = {}
    for _ in range(follow_ups):
        i = rng.choice(closed_procs)
        extra[i] = extra.get(i, 0) + 1
    audit_per = v.audit_events / max(1, len(procs))
    audit_left = v.audit_events
    task_serial = itertools.count()
    for i, p in enumerate(procs):
        p.updated = min(p.updated, now - timedelta(minutes=1))  # nothing happens in the future
        p.started = min(p.started, p.updated)
        cp.add(
            "processes",
            (
                p.workflow_id,
                "seed",
                p.process,
                p.owner,
                p.title,
                p.status,
                p.step,
                p.waiting_on,
                p.updated,
                len(p.tasks) + 1,
                p.started,
                p.updated,
            ),
        )
        tasks = list(p.tasks)
        counterpart = next((t for t in tasks if t[1] != network), None)
        for _ in range(extra.get(i, 0)):
            org, role = (counterpart[1], counterpart[2]) if counterpart else (network, "manager")
            tasks.append(("follow_up", org, role, False, None))
        span = max((p.updated - p.started).total_seconds(), 60)
        for t_n, (action, org, role, is_open, subject) in enumerate(tasks):
            created = p.started + timedelta(seconds=span * t_n / (len(tasks) + 1))
            if is_open:
                # A fifth of the open tasks are past due.
                due = (
                    now - timedelta(hours=rng.randrange(1, 500))
                    if rng.random() < 0.2
                    else (now + timedelta(hours=rng.randrange(1, 500)))
                )
                closed, outcome = None, None
            else:
                due = created + timedelta(days=5)
                closed, outcome = created + timedelta(seconds=span / (len(tasks) + 1)), "fait"
            cp.add(
                "tasks",
                (
                    next(ids),
                    f"{p.workflow_id}:seed:{action}:{next(task_serial)}",
                    p.workflow_id,
                    p.process,
                    action,
                    f"{TASK_TITLES[action]} ({p.title})",
                    org,
                    role,
                    due,
                    created,
                    closed,
                    outcome,
                    subject,
                ),
            )
        await cp.spill()
        n_audit = min(audit_left, int(audit_per * (i + 1)) - (v.audit_events - audit_left))
        audit_left -= n_audit
        actors = [str(user_of.get(t[1], "system")) for t in tasks] or ["system"]
        for a_n in range(n_audit):
            at = p.started + timedelta(seconds=span * a_n / max(1, n_audit))
            cp.add(
                "audit_events",
                (
                    at,
                    actors[a_n % len(actors)],
                    f"{p.process}.step{a_n}",
                    p.workflow_id,
                    p.entity[0],
                    p.entity[1],
                ),
            )
    await cp.flush("processes", "tasks", "audit_events")
    out.phases["processes, tasks, audit"] = time.perf_counter() - t0

    # --- the outbox: years of mail, sent (a few abandoned) ----------------------------------
    for i in range(v.outbox):
        p = procs[rng.randrange(len(procs))]
        created = p.started + (p.updated - p.started) * rng.random()
        failed = i % 50 == 0
        cp.add(
            "outbox",
            (
                next(ids),
                f"seed:{i}",
                f"contact{i % n_org}@example.fr",
                f"Relais : {p.title}",
                "Bonjour,\n\nUne étape de votre dossier a avancé.\n\nRelais",
                p.workflow_id,
                created,
                None if failed else created + timedelta(seconds=2),
                5 if failed else 1,
                created,
                created + timedelta(hours=1) if failed else None,
                "boîte inexistante" if failed else None,
                None if failed else [f"contact{i % n_org}@example.fr"],
            ),
        )
        await cp.spill()
    await cp.flush()
    out.rows = dict(cp.rows)
    out.seconds = time.perf_counter() - t0
    return out


def _pick(rng: random.Random, weighted: list[tuple]) -> tuple:
    return rng.choices(weighted, weights=[w[1] for w in weighted])[0]


async def analyse(conn: asyncpg.Connection) -> float:
    """VACUUM ANALYZE, as autovacuum would have done on a database of that age."""
    t0 = time.perf_counter()
    await conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - t0
