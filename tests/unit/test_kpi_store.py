"""KPI counting in Postgres on a delegation's realistic year of activity: visits and action
projects, campaigns, hires and invoiced services of the territory's companies, with rows
that must not count (before the phase, another territory, abandoned, cancelled)."""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta

from domain.auth import Role
from domain.convention import KpiKey
from domain.organisations import OrganisationKind
from store.convention import ConventionRepository
from tests.factories import make_org, make_user, store_visits

TERRITORY = "Aubagne"
YEAR = [date(2025, 1, 1) + timedelta(days=d) for d in range(365)]
KINDS = ["recruitment", "pooled_service", "training", "investment", "digital", "funding"]


def _at(d: date) -> datetime:
    return datetime.combine(d, time(23, 30), tzinfo=UTC)  # late: the UTC day is the one kept


async def _year(db, rnd: random.Random) -> dict[KpiKey, int]:
    """Stores the year and returns what each KPI should count over 2025."""
    network = await make_org(db, OrganisationKind.ASSOCIATION, territory="Réseau")
    adviser, _ = await make_user(db, network.id, Role.STAFF)
    agency = await make_org(db, OrganisationKind.AGENCY, territory="Réseau")
    here = [await make_org(db, territory=TERRITORY) for _ in range(3)]
    away = await make_org(db, territory="La Ciotat")
    sirets = [f"{80000000000000 + i}" for i in range(150)]
    visits, projects, met = [], [], set()
    expected = dict.fromkeys(KpiKey, 0)
    for i in range(300):
        # 260 on the territory in 2025 (its first and last days among them); 20 on another
        # territory; 10 the day before the year, 10 the day after
        on = {0: YEAR[0], 1: YEAR[-1]}.get(i) or (
            rnd.choice(YEAR) if i < 280 else date(2024, 12, 31) if i < 290 else date(2026, 1, 1)
        )
        territory = "La Ciotat" if 260 <= i < 280 else TERRITORY
        counted = i < 260
        siret = rnd.choice(sirets)
        vid = uuid.uuid4()
        visits.append((vid, adviser, network.id, siret, "Entreprise", "13400", territory, on))
        if counted:
            expected[KpiKey.VISITS] += 1
            met.add(siret)
        for ord_ in range(rnd.choice([0, 1, 1, 2])):
            kind = rnd.choice(KINDS)
            status = rnd.choice(["identified", "in_progress", "done", "abandoned"])
            cents = rnd.choice([None, rnd.randrange(0, 10_000_000)])  # only investments add
            projects.append((uuid.uuid4(), vid, ord_, kind, "Projet", status, cents))
            if counted and status != "abandoned":
                expected[KpiKey.ACTION_PROJECTS] += 1
                expected[KpiKey.TRAININGS] += kind == "training"
                if kind == "investment":
                    expected[KpiKey.INVESTMENT_PROJECTS] += 1
                    expected[KpiKey.INVESTMENT_CENTS] += cents or 0
    expected[KpiKey.COMPANIES_MET] = len(met)
    async with db.acquire() as c:
        await store_visits(c, visits, projects)
        # Campaigns: 9 counted; one cancelled, one of a company elsewhere, one the day before
        # the year, one the day after.
        campaigns = []
        for i in range(13):
            employer = away if i == 10 else rnd.choice(here)
            on = {11: date(2024, 12, 31), 12: date(2026, 1, 1)}.get(i) or rnd.choice(YEAR)
            cid = uuid.uuid4()
            await c.execute(
                """INSERT INTO campaigns (id, workflow_id, employer_id, network_id, created_by,
                       title, status, deadline, decision_sla_days, grace_days,
                       territory_postcodes, created_at)
                   VALUES ($1, $2, $3, $4, $5, 'Campagne', $6, $7, 7, 0, '{13400}', $7)""",
                cid,
                f"campaign-{cid}",
                employer.id,
                network.id,
                adviser,
                "cancelled" if i == 9 else "open",
                _at(on),
            )
            expected[KpiKey.CAMPAIGNS] += i < 9
            campaigns.append(cid)
        # Hires: 40 in the year; one decided after it, one rejected, one hired elsewhere, one
        # decided before it.
        for i in range(44):
            cid = campaigns[10] if i == 42 else rnd.choice(campaigns[:9])
            on = {40: date(2026, 1, 1), 43: date(2024, 12, 31)}.get(i) or rnd.choice(YEAR)
            rid = uuid.uuid4()
            await c.execute(
                """INSERT INTO referrals (id, campaign_id, agency_id, workflow_id, pseudonym,
                       email_key, status, postcode, decided_at)
                   VALUES ($1, $2, $3, $4, 'Candidat', $5, $6, '13400', $7)""",
                rid,
                cid,
                agency.id,
                f"referral-{rid}",
                rid.bytes,
                "rejected" if i == 41 else "hired",
                _at(on),
            )
            expected[KpiKey.RECRUITMENTS] += i < 40
        # Deliveries: an invoice line per member served; 33 here in the year, 2 elsewhere, one
        # here the day before the year and one the day after.
        service = uuid.uuid4()
        await c.execute(
            """INSERT INTO services (id, network_id, code, name, unit, min_participants,
                   min_quantity, window_days, fixed_cents, per_unit_cents, split_rule,
                   acceptance_days, provider_id, max_quantity)
               VALUES ($1, $2, 'compta', 'Comptable partagé', 'day', 1, 0, 30, 0, 0, 'equal',
                       7, $3, 10)""",
            service,
            network.id,
            agency.id,
        )
        for i in range(37):
            pool_id = f"pool-compta-{i}"
            member = away if i in (33, 34) else rnd.choice(here)
            on = {35: date(2024, 12, 31), 36: date(2026, 1, 1)}.get(i) or rnd.choice(YEAR)
            await c.execute(
                """INSERT INTO pools (id, service_id, period, status, closes_at)
                   VALUES ($1, $2, $1, 'invoiced', $3)""",
                pool_id,
                service,
                _at(on),
            )
            request = uuid.uuid4()
            await c.execute(
                """INSERT INTO service_requests (id, pool_id, member_id, idempotency_key,
                       quantity, needed_by, status, created_by)
                   VALUES ($1, $2, $3, $2, 1, $4, 'invoiced', $5)""",
                request,
                pool_id,
                member.id,
                on,
                adviser,
            )
            await c.execute(
                """INSERT INTO invoice_lines (request_id, pool_id, member_id, description,
                       amount_cents, created_at)
                   VALUES ($1, $2, $3, 'Prestation', 1000, $4)""",
                request,
                pool_id,
                member.id,
                _at(on),
            )
            expected[KpiKey.SERVICES_DELIVERED] += i < 33
    return expected


async def test_kpis_are_counted_over_the_phase_on_the_territory(db):
    expected = await _year(db, random.Random(7))
    assert expected[KpiKey.VISITS] == 260 and expected[KpiKey.CAMPAIGNS] == 9
    async with db.acquire() as c:
        # Days of campaigns, hires and invoices are UTC days (stored at 23:30 UTC, the next day
        # in Paris): the count must not follow the session's time zone.
        await c.execute("SET TimeZone = 'Europe/Paris'")
        repo = ConventionRepository(c)
        year = await repo.kpis(TERRITORY, date(2025, 1, 1), date(2025, 12, 31))
        assert year == expected
        assert year[KpiKey.COMPANIES_MET] <= 150 < year[KpiKey.VISITS]
        # Counting up to a day only ever adds: figures never fall as the phase goes on.
        halves = [
            await repo.kpis(TERRITORY, date(2025, 1, 1), until)
            for until in (date(2025, 3, 31), date(2025, 6, 30), date(2025, 12, 31))
        ]
        assert all(a[k] <= b[k] for a, b in itertools.pairwise(halves) for k in KpiKey)
        nowhere = await repo.kpis("Nulle part", date(2025, 1, 1), date(2025, 12, 31))
        assert nowhere == dict.fromkeys(KpiKey, 0)
