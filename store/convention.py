"""Conventions, their phases, signatures, KPI snapshots, expenses and evaluations; company
visits and action projects, and the activity facts the KPIs are counted from."""

from __future__ import annotations

import builtins
from collections import defaultdict
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict

from domain.auth import Role
from domain.common import Page
from domain.convention import (
    ActionProjectCreate,
    ActionProjectPublic,
    ActionProjectUpdate,
    AmendmentLine,
    AmendmentRecord,
    ConventionPublic,
    ConventionStep,
    EvaluationRecord,
    ExpenseLine,
    ExpenseRecord,
    KpiKey,
    KpiSnapshot,
    Party,
    PartyCreate,
    PhasePublic,
    PhaseRecord,
    PhaseSpec,
    PhaseStepRecord,
    Signature,
    SignatureRecord,
    VisitCreate,
    VisitPublic,
    phase_budget_cents,
)
from store.pool import Conn

UPSERT_CONVENTION = """
INSERT INTO conventions (id, workflow_id, network_id, created_by, title, territory, status,
                         phase_number)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, phase_number = EXCLUDED.phase_number,
                               updated_at = now()
WHERE conventions.phase_number <= EXCLUDED.phase_number"""
UPSERT_PARTY = """
INSERT INTO convention_parties (convention_id, organisation_id, role, signatory_id)
VALUES ($1, $2, $3, $4)
ON CONFLICT (convention_id, organisation_id)
DO UPDATE SET role = EXCLUDED.role, signatory_id = EXCLUDED.signatory_id"""
INSERT_PHASE = """
INSERT INTO convention_phases (convention_id, number, starts_on, ends_on, annual_budget_cents,
                               targets, priorities, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (convention_id, number) DO NOTHING"""
AMEND_PHASE = """
UPDATE convention_phases SET annual_budget_cents = $3, targets = $4, updated_at = now()
WHERE convention_id = $1 AND number = $2"""
# A phase and its convention only move forward: a late retry of an older step changes nothing.
STEP_ORDER = (
    "ARRAY['awaiting_signatures','signed','active','evaluating','renewed','closed','cancelled']"
)
SET_PHASE_STEP = f"""
UPDATE convention_phases SET status = $3, detail = coalesce($4, detail), updated_at = now()
WHERE convention_id = $1 AND number = $2
  AND array_position({STEP_ORDER}, status) < array_position({STEP_ORDER}, $3::text)"""
SET_CONVENTION_STEP = f"""
UPDATE conventions SET status = $3, updated_at = now()
WHERE id = $1 AND phase_number = $2
  AND array_position({STEP_ORDER}, status) < array_position({STEP_ORDER}, $3::text)"""
INSERT_SIGNATURE = """
INSERT INTO convention_signatures (convention_id, phase_number, organisation_id, signatory_id,
                                   signed_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING"""
UPSERT_SNAPSHOT = """
INSERT INTO kpi_snapshots (convention_id, phase_number, as_of, taken_at, actuals)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (convention_id, phase_number, as_of)
DO UPDATE SET taken_at = EXCLUDED.taken_at, actuals = EXCLUDED.actuals
WHERE kpi_snapshots.taken_at <= EXCLUDED.taken_at"""
INSERT_EXPENSE = """
INSERT INTO convention_expenses (convention_id, phase_number, request_id, amount_cents, label,
                                 spent_on, recorded_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (convention_id, phase_number, request_id) DO NOTHING"""
EXPENSES_USED = """
SELECT coalesce(sum(amount_cents), 0) FROM convention_expenses
WHERE convention_id = $1 AND phase_number = $2"""
SET_EVALUATION = """
UPDATE convention_phases SET evaluation = $3, updated_at = now()
WHERE convention_id = $1 AND number = $2"""

# A page of conventions is read in five statements, whatever its length: the conventions
# ($1, an array of ids), then their parties, phases, signatures and latest snapshots.
GET_CONVENTIONS = "SELECT * FROM conventions WHERE id = ANY($1)"
LIST_CONVENTIONS = """
SELECT c.id FROM conventions c
WHERE ($1::uuid IS NULL OR EXISTS (
        SELECT 1 FROM convention_parties p WHERE p.convention_id = c.id AND p.organisation_id = $1))
  AND ($2::text IS NULL OR c.status = $2)
ORDER BY c.created_at DESC, c.id LIMIT $3 OFFSET $4"""
COUNT_CONVENTIONS = """
SELECT count(*) FROM conventions c
WHERE ($1::uuid IS NULL OR EXISTS (
        SELECT 1 FROM convention_parties p WHERE p.convention_id = c.id AND p.organisation_id = $1))
  AND ($2::text IS NULL OR c.status = $2)"""
PARTIES = """
SELECT p.convention_id, p.organisation_id, o.name AS organisation_name, p.role, p.signatory_id,
       u.name AS signatory_name, u.role AS signatory_role, o.email
FROM convention_parties p
JOIN organisations o ON o.id = p.organisation_id JOIN users u ON u.id = p.signatory_id
WHERE p.convention_id = ANY($1) ORDER BY p.role, o.name"""
PHASES = "SELECT * FROM convention_phases WHERE convention_id = ANY($1) ORDER BY number"
SIGNATURES = """
SELECT convention_id, phase_number, organisation_id, signatory_id, signed_at
FROM convention_signatures WHERE convention_id = ANY($1) ORDER BY signed_at"""
LATEST_SNAPSHOTS = """
SELECT DISTINCT ON (s.convention_id) s.convention_id, s.phase_number, s.as_of, s.taken_at,
       s.actuals
FROM kpi_snapshots s
JOIN conventions c ON c.id = s.convention_id AND c.phase_number = s.phase_number
WHERE s.convention_id = ANY($1) ORDER BY s.convention_id, s.as_of DESC"""
SNAPSHOTS = """
SELECT phase_number, as_of, taken_at, actuals FROM kpi_snapshots
WHERE convention_id = $1 AND phase_number = $2 ORDER BY as_of"""
IS_PARTY = "SELECT 1 FROM convention_parties WHERE convention_id = $1 AND organisation_id = $2"
EXPENSES_OF = """
SELECT amount_cents, label, spent_on FROM convention_expenses
WHERE convention_id = $1 AND phase_number = $2 ORDER BY spent_on, created_at"""
AMENDMENTS_OF = """
SELECT a.at, coalesce(u.name, '') AS author, a.data
FROM audit_events a
LEFT JOIN users u ON u.id = CASE WHEN a.actor ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                                 THEN a.actor::uuid END
WHERE a.workflow_id = $1 AND a.action = 'convention.amended' ORDER BY a.at"""
# The people of these organisations who may be named to sign for them (not disabled).
SIGNATORY_CHOICES = """
SELECT u.id, u.organisation_id, u.role, u.name, o.name AS organisation_name, o.email
FROM users u JOIN organisations o ON o.id = u.organisation_id
WHERE u.organisation_id = ANY($1::uuid[]) AND u.status <> 'disabled'
ORDER BY o.name, u.name"""
SIGNATORY_OF = """
SELECT u.id, u.organisation_id, u.role, u.name, o.name AS organisation_name, o.email
FROM users u JOIN organisations o ON o.id = u.organisation_id WHERE u.id = $1"""

# --- KPIs, counted where the rows are, by the territory of the company concerned -----------
# One statement for every KPI over [starts_on, until] ($2, $3): a snapshot reads nine numbers,
# not the phase's rows (bench/convention.py). Abandoned action projects do not count, nor do
# cancelled campaigns; a company visited twice is met once. An action project dates from its
# visit. Add a KpiKey here and in `domain.convention.KpiKey`.
COUNT_KPIS = """
WITH v AS (
    SELECT id, company_siret FROM company_visits
    WHERE territory = $1 AND visited_on BETWEEN $2 AND $3),
p AS (
    SELECT a.kind, coalesce(a.investment_cents, 0) AS cents
    FROM action_projects a JOIN v ON v.id = a.visit_id WHERE a.status <> 'abandoned'),
orgs AS (SELECT id FROM organisations WHERE territory = $1)
SELECT
    (SELECT count(*) FROM (SELECT DISTINCT company_siret FROM v) d) AS companies_met,
    (SELECT count(*) FROM v) AS visits,
    (SELECT count(*) FROM p) AS action_projects,
    (SELECT count(*) FROM campaigns c JOIN orgs o ON o.id = c.employer_id
     WHERE c.status <> 'cancelled'
       AND (c.created_at AT TIME ZONE 'UTC')::date BETWEEN $2 AND $3) AS campaigns,
    (SELECT count(*) FROM referrals r JOIN campaigns c ON c.id = r.campaign_id
     JOIN orgs o ON o.id = c.employer_id
     WHERE r.status = 'hired'
       AND (r.decided_at AT TIME ZONE 'UTC')::date BETWEEN $2 AND $3) AS recruitments,
    (SELECT count(*) FROM p WHERE kind = 'investment') AS investment_projects,
    (SELECT coalesce(sum(cents), 0)::bigint FROM p WHERE kind = 'investment') AS investment_cents,
    (SELECT count(*) FROM p WHERE kind = 'training') AS trainings,
    (SELECT count(*) FROM invoice_lines i JOIN orgs o ON o.id = i.member_id
     WHERE (i.created_at AT TIME ZONE 'UTC')::date BETWEEN $2 AND $3) AS services_delivered"""

# --- visits ---------------------------------------------------------------------------------
INSERT_VISIT = """
INSERT INTO company_visits (id, adviser_id, adviser_organisation_id, company_id, company_siret,
                            company_name, postcode, territory, visited_on, themes, needs)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (id) DO NOTHING"""
INSERT_PROJECT = """
INSERT INTO action_projects (id, visit_id, ord, kind, title, status, investment_cents)
VALUES ($1, $2, $3, $4, $5, $6, $7)"""
VISIT_SELECT = """
SELECT v.*, u.name AS adviser_name,
       (SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.ord), '[]'::jsonb) FROM action_projects a
        WHERE a.visit_id = v.id) AS projects
FROM company_visits v JOIN users u ON u.id = v.adviser_id"""
VISIT_WHERE = """
WHERE ($1::uuid IS NULL OR v.adviser_organisation_id = $1 OR v.company_id = $1)
  AND ($2::text IS NULL OR v.territory = $2)
  AND ($3::uuid IS NULL OR v.company_id = $3)
  AND ($4::date IS NULL OR v.visited_on >= $4)
  AND ($5::date IS NULL OR v.visited_on <= $5)"""
LIST_VISITS = f"{VISIT_SELECT} {VISIT_WHERE} ORDER BY v.visited_on DESC, v.id LIMIT $6 OFFSET $7"
COUNT_VISITS = f"SELECT count(*) FROM company_visits v {VISIT_WHERE}"
GET_VISIT = f"{VISIT_SELECT} WHERE v.id = $1"
GET_PROJECT = "SELECT * FROM action_projects WHERE id = $1"
UPDATE_PROJECT = """
UPDATE action_projects SET status = coalesce($2, status),
       investment_cents = coalesce($3, investment_cents), updated_at = now()
WHERE id = $1 RETURNING *"""
# Linked once: the same link again is a no-op, another link is refused (0 rows).
LINK_CAMPAIGN = """
UPDATE action_projects SET campaign_id = $2,
       status = CASE WHEN status = 'identified' THEN 'in_progress' ELSE status END,
       updated_at = now()
WHERE id = $1 AND (campaign_id IS NULL OR campaign_id = $2) RETURNING *"""
LINK_SERVICE_REQUEST = """
UPDATE action_projects SET service_request_id = $2,
       status = CASE WHEN status = 'identified' THEN 'in_progress' ELSE status END,
       updated_at = now()
WHERE id = $1 AND (service_request_id IS NULL OR service_request_id = $2) RETURNING *"""


class Signatory(BaseModel):
    """A user named to sign for a party, with the organisation it belongs to."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    organisation_id: UUID
    role: Role
    name: str
    organisation_name: str
    email: str | None


def _snapshot(row: asyncpg.Record) -> KpiSnapshot:
    return KpiSnapshot.model_validate(dict(row))


def _project(row: Any) -> ActionProjectPublic:
    return ActionProjectPublic.model_validate(dict(row))


class ConventionRepository:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    # --- written by the workflow's activities ----------------------------------------------

    async def signatory(self, user_id: UUID) -> Signatory | None:
        row = await self.conn.fetchrow(SIGNATORY_OF, user_id)
        return Signatory.model_validate(dict(row)) if row else None

    async def signatory_choices(
        self, organisation_ids: builtins.list[UUID]
    ) -> builtins.list[Signatory]:
        rows = await self.conn.fetch(SIGNATORY_CHOICES, organisation_ids)
        return [Signatory.model_validate(dict(r)) for r in rows]

    async def expenses(self, convention_id: UUID, phase_number: int) -> builtins.list[ExpenseLine]:
        rows = await self.conn.fetch(EXPENSES_OF, convention_id, phase_number)
        return [ExpenseLine.model_validate(dict(r)) for r in rows]

    async def amendments(self, workflow_id: str) -> builtins.list[AmendmentLine]:
        """The amendments of every phase, from the audit trail (who, when, what, why)."""
        out = []
        for r in await self.conn.fetch(AMENDMENTS_OF, workflow_id):
            data = r["data"]
            out.append(
                AmendmentLine(
                    at=r["at"],
                    author=r["author"],
                    phase_number=int(data.get("phase") or 1),
                    targets=data.get("targets") or {},
                    annual_budget_cents=data.get("annual_budget_cents"),
                    reason=data.get("reason") or "",
                )
            )
        return out

    async def check_parties(
        self, parties: builtins.list[PartyCreate]
    ) -> builtins.list[Party] | str:
        """The parties with their names, or why they cannot sign (a sentence)."""
        out: list[Party] = []
        for p in parties:
            org = await self.conn.fetchrow(
                "SELECT name, email FROM organisations WHERE id = $1", p.organisation_id
            )
            if org is None:
                return f"organisation partie inconnue : {p.organisation_id}"
            user = await self.signatory(p.signatory_id)
            if user is None or user.organisation_id != p.organisation_id:
                return (
                    f"le signataire désigné pour {org['name']} n'appartient pas à cette "
                    "organisation"
                )
            out.append(
                Party(
                    organisation_id=p.organisation_id,
                    organisation_name=org["name"],
                    role=p.role,
                    signatory_id=p.signatory_id,
                    signatory_name=user.name,
                    signatory_role=user.role,
                    email=org["email"],
                )
            )
        return out

    async def record_phase(self, r: PhaseRecord) -> None:
        number = r.phase.number or 1
        await self.conn.execute(
            UPSERT_CONVENTION,
            r.convention_id,
            r.workflow_id,
            r.network_id,
            r.created_by,
            r.title,
            r.territory,
            r.step,
            number,
        )
        for p in r.parties:
            await self.conn.execute(
                UPSERT_PARTY, r.convention_id, p.organisation_id, p.role, p.signatory_id
            )
        await self.conn.execute(
            INSERT_PHASE,
            r.convention_id,
            number,
            r.phase.starts_on,
            r.phase.ends_on,
            r.phase.annual_budget_cents,
            {k.value: v for k, v in r.phase.targets.items()},
            r.phase.priorities,
            r.step,
        )

    async def set_step(self, r: PhaseStepRecord) -> None:
        await self.conn.execute(SET_PHASE_STEP, r.convention_id, r.phase_number, r.step, r.detail)
        await self.conn.execute(SET_CONVENTION_STEP, r.convention_id, r.phase_number, r.step)

    async def sign(self, s: SignatureRecord) -> bool:
        done = await self.conn.execute(
            INSERT_SIGNATURE,
            s.convention_id,
            s.phase_number,
            s.organisation_id,
            s.signatory_id,
            s.signed_at,
        )
        return done == "INSERT 0 1"

    async def amend(self, r: AmendmentRecord) -> None:
        await self.conn.execute(
            AMEND_PHASE,
            r.convention_id,
            r.phase_number,
            r.phase.annual_budget_cents,
            {k.value: v for k, v in r.phase.targets.items()},
        )

    async def save_snapshot(self, convention_id: UUID, snapshot: KpiSnapshot) -> None:
        await self.conn.execute(
            UPSERT_SNAPSHOT,
            convention_id,
            snapshot.phase_number,
            snapshot.as_of,
            snapshot.taken_at,
            {k.value: v for k, v in snapshot.actuals.items()},
        )

    async def add_expense(self, r: ExpenseRecord) -> bool:
        e = r.expense
        done = await self.conn.execute(
            INSERT_EXPENSE,
            r.convention_id,
            r.phase_number,
            e.request_id,
            e.amount_cents,
            e.label,
            e.spent_on,
            e.user_id,
        )
        return done == "INSERT 0 1"

    async def used_cents(self, convention_id: UUID, phase_number: int) -> int:
        return await self.conn.fetchval(EXPENSES_USED, convention_id, phase_number)

    async def save_evaluation(self, r: EvaluationRecord) -> None:
        await self.conn.execute(
            SET_EVALUATION, r.convention_id, r.phase_number, r.evaluation.model_dump(mode="json")
        )

    async def kpis(self, territory: str, starts_on: date, until: date) -> dict[KpiKey, int]:
        """Every KPI of the territory's activity over [starts_on, until], days included."""
        row = await self.conn.fetchrow(COUNT_KPIS, territory, starts_on, until)
        assert row is not None  # a SELECT of scalar subqueries answers one row
        return {KpiKey(k): int(v) for k, v in row.items()}

    # --- read by the API ---------------------------------------------------------------------

    async def get(self, convention_id: UUID) -> ConventionPublic | None:
        found = await self._load([convention_id])
        return found[0] if found else None

    async def _load(self, ids: builtins.list[UUID]) -> builtins.list[ConventionPublic]:
        """The conventions of `ids`, in that order (those that exist)."""
        rows = {r["id"]: r for r in await self.conn.fetch(GET_CONVENTIONS, ids)}
        if not rows:
            return []
        parties: dict[UUID, builtins.list[Party]] = defaultdict(builtins.list)
        for r in await self.conn.fetch(PARTIES, ids):
            parties[r["convention_id"]].append(Party.model_validate(dict(r)))
        signatures: dict[tuple[UUID, int], builtins.list[Signature]] = defaultdict(builtins.list)
        for r in await self.conn.fetch(SIGNATURES, ids):
            signatures[r["convention_id"], r["phase_number"]].append(
                Signature.model_validate(dict(r))
            )
        phases: dict[UUID, builtins.list[PhasePublic]] = defaultdict(builtins.list)
        for ph in await self.conn.fetch(PHASES, ids):
            spec = PhaseSpec(
                number=ph["number"],
                starts_on=ph["starts_on"],
                ends_on=ph["ends_on"],
                annual_budget_cents=ph["annual_budget_cents"],
                targets=ph["targets"],
                priorities=ph["priorities"],
            )
            phases[ph["convention_id"]].append(
                PhasePublic(
                    number=ph["number"],
                    starts_on=ph["starts_on"],
                    ends_on=ph["ends_on"],
                    annual_budget_cents=ph["annual_budget_cents"],
                    budget_cents=phase_budget_cents(spec),
                    targets=spec.targets,
                    priorities=spec.priorities,
                    status=ph["status"],
                    detail=ph["detail"],
                    signatures=signatures[ph["convention_id"], ph["number"]],
                    evaluation=ph["evaluation"],
                )
            )
        latest = {r["convention_id"]: r for r in await self.conn.fetch(LATEST_SNAPSHOTS, ids)}
        return [
            ConventionPublic(
                id=row["id"],
                workflow_id=row["workflow_id"],
                title=row["title"],
                territory=row["territory"],
                status=row["status"],
                phase_number=row["phase_number"],
                parties=parties[i],
                phases=phases[i],
                latest_snapshot=_snapshot(latest[i]) if i in latest else None,
                created_at=row["created_at"],
            )
            for i in ids
            if (row := rows.get(i)) is not None
        ]

    async def list(
        self,
        party_id: UUID | None,
        status: ConventionStep | None,
        limit: int,
        offset: int,
    ) -> Page[ConventionPublic]:
        ids = await self.conn.fetch(LIST_CONVENTIONS, party_id, status, limit, offset)
        total = await self.conn.fetchval(COUNT_CONVENTIONS, party_id, status)
        items = await self._load([r["id"] for r in ids])
        return Page[ConventionPublic](items=items, total=total, limit=limit, offset=offset)

    async def snapshots(self, convention_id: UUID, phase_number: int) -> builtins.list[KpiSnapshot]:
        return [_snapshot(r) for r in await self.conn.fetch(SNAPSHOTS, convention_id, phase_number)]

    async def is_party(self, convention_id: UUID, organisation_id: UUID) -> bool:
        return bool(
            await self.conn.fetchval(
                IS_PARTY,
                convention_id,
                organisation_id,
            )
        )

    # --- visits and action projects (written by the API: records, not processes) ------------

    async def record_visit(
        self,
        visit_id: UUID,
        adviser_id: UUID,
        adviser_organisation_id: UUID,
        data: VisitCreate,
        company: dict[str, Any],
        project_ids: builtins.list[UUID],
    ) -> bool:
        """Insert the visit and its projects once (False when this visit id exists)."""
        done = await self.conn.execute(
            INSERT_VISIT,
            visit_id,
            adviser_id,
            adviser_organisation_id,
            company["id"],
            company["siret"],
            company["name"],
            company["postcode"],
            company["territory"],
            data.visited_on,
            data.themes,
            data.needs,
        )
        if done != "INSERT 0 1":
            return False
        for ord_, (pid, p) in enumerate(zip(project_ids, data.projects, strict=True)):
            await self._insert_project(pid, visit_id, ord_, p)
        return True

    async def _insert_project(self, pid: UUID, visit_id: UUID, ord_: int, p: ActionProjectCreate):
        await self.conn.execute(
            INSERT_PROJECT, pid, visit_id, ord_, p.kind, p.title, p.status, p.investment_cents
        )

    async def visit(self, visit_id: UUID) -> VisitPublic | None:
        row = await self.conn.fetchrow(GET_VISIT, visit_id)
        return VisitPublic.model_validate(dict(row)) if row else None

    async def visits(
        self,
        *,
        organisation_id: UUID | None,
        territory: str | None,
        company_id: UUID | None,
        since: date | None,
        until: date | None,
        limit: int,
        offset: int,
    ) -> Page[VisitPublic]:
        args = (organisation_id, territory, company_id, since, until)
        rows = await self.conn.fetch(LIST_VISITS, *args, limit, offset)
        total = await self.conn.fetchval(COUNT_VISITS, *args)
        return Page[VisitPublic](
            items=[VisitPublic.model_validate(dict(r)) for r in rows],
            total=total,
            limit=limit,
            offset=offset,
        )

    async def project(self, project_id: UUID) -> ActionProjectPublic | None:
        row = await self.conn.fetchrow(GET_PROJECT, project_id)
        return _project(row) if row else None

    async def update_project(self, project_id: UUID, u: ActionProjectUpdate) -> ActionProjectPublic:
        row = await self.conn.fetchrow(UPDATE_PROJECT, project_id, u.status, u.investment_cents)
        return _project(row)

    async def link_campaign(
        self, project_id: UUID, campaign_id: UUID
    ) -> ActionProjectPublic | None:
        row = await self.conn.fetchrow(LINK_CAMPAIGN, project_id, campaign_id)
        return _project(row) if row else None

    async def link_service_request(
        self, project_id: UUID, request_id: UUID
    ) -> ActionProjectPublic | None:
        row = await self.conn.fetchrow(LINK_SERVICE_REQUEST, project_id, request_id)
        return _project(row) if row else None
