"""Conventions on the time-skipping server, with the real activities and Postgres: a two-year
phase in seconds with its monthly KPI snapshots counted from real visits, an amendment, the
evaluation and a renewal into the next phase; reminders and escalation of late signatures,
then an abandon; a short phase closed after its evaluation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.auth import Role
from domain.convention import (
    ActionProjectCreate,
    Amendment,
    Cancel,
    CompanyRef,
    ConventionInput,
    ConventionStep,
    Decision,
    Expense,
    KpiKey,
    Party,
    PartyRole,
    PhaseSpec,
    ProjectKind,
    Review,
    SignatureAct,
    VisitCreate,
    add_months,
    convention_workflow_id,
)
from domain.organisations import OrganisationKind
from domain.recruitment import RegisterRequest
from store.convention import ConventionRepository
from tests.factories import make_org, make_user, siret
from tests.workflows.test_onboarding import _record
from worker.main import build_worker
from workflows.convention import ConventionWorkflow, start_convention

ANNUAL = 16_500_000  # 165 000 EUR a year, as in the Cap Développement seed


@dataclass
class Signatory:
    org: object
    user: uuid.UUID


@dataclass
class World:
    env: object
    settings: object
    db: object
    network: object
    manager: uuid.UUID
    staff: uuid.UUID
    parties: list[Signatory]
    member: object

    async def start(self, phase: PhaseSpec, **kw):
        convention_id = uuid.uuid4()
        parties = [
            Party(
                organisation_id=s.org.id,
                organisation_name=s.org.name,
                role=role,
                signatory_id=s.user,
                signatory_name="Signataire",
                signatory_role=role_of,
                email=f"contact{i}@example.fr",
            )
            for i, (s, role, role_of) in enumerate(
                zip(
                    self.parties,
                    (PartyRole.OPERATOR, PartyRole.PARTNER, PartyRole.FUNDER),
                    (Role.MANAGER, Role.PARTNER, Role.PARTNER),
                    strict=True,
                )
            )
        ]
        state = await start_convention(
            self.env.client,
            self.settings.task_queue,
            ConventionInput(
                convention_id=convention_id,
                network_id=self.network.id,
                created_by=self.staff,
                title="Cap Développement",
                territory="Marseille Nord",
                parties=parties,
                phase=phase,
                **kw,
            ),
            request_id=f"conv-{convention_id}",
            indexed=False,
        )
        return state, self.env.client.get_workflow_handle_for(
            ConventionWorkflow.run, convention_workflow_id(convention_id)
        )

    async def sign_all(self, handle):
        for s in self.parties:
            state = await handle.execute_update(
                ConventionWorkflow.sign, SignatureAct(user_id=s.user, organisation_id=s.org.id)
            )
        return state


@pytest.fixture
async def world(ts_env, db, settings):
    network = await make_org(db, OrganisationKind.ASSOCIATION, name="Entreprendre Nord")
    cma = await make_org(db, OrganisationKind.CHAMBER, name="CMA délégation 13")
    town = await make_org(db, OrganisationKind.AUTHORITY, name="Mairie des 15e et 16e")
    manager, _ = await make_user(db, network.id, Role.MANAGER)
    staff, _ = await make_user(db, network.id, Role.STAFF)
    cma_user, _ = await make_user(db, cma.id, Role.PARTNER)
    town_user, _ = await make_user(db, town.id, Role.PARTNER)
    member = await make_org(db, name="Menuiserie Saint-Louis")
    w = World(
        ts_env,
        settings,
        db,
        network,
        manager,
        staff,
        [Signatory(network, manager), Signatory(cma, cma_user), Signatory(town, town_user)],
        member,
    )
    async with build_worker(ts_env.client, db, settings):
        yield w


async def _visit(world: World, key: str, on: date, company=None, territory=None, projects=()):
    data = VisitCreate(
        request_id=key,
        company_id=None if company else world.member.id,
        company=company,
        territory=territory,
        visited_on=on,
        themes=["recrutement"],
        projects=list(projects),
    )
    company_row = (
        {
            "id": None,
            "siret": company.siret,
            "name": company.name,
            "postcode": company.postcode,
            "territory": territory,
        }
        if company
        else {
            "id": world.member.id,
            "siret": world.member.siret,
            "name": world.member.name,
            "postcode": world.member.postcode,
            "territory": world.member.territory,
        }
    )
    async with world.db.acquire() as c:
        await ConventionRepository(c).record_visit(
            uuid.uuid4(),
            world.staff,
            world.network.id,
            data,
            company_row,
            [uuid.uuid4() for _ in data.projects],
        )


def _month_starts_between(start: date, end: date) -> int:
    """First days of months strictly after `start` and up to `end` (the periodic snapshots)."""
    first = date(start.year, start.month, 1)
    n, k = 0, 1
    while add_months(first, k) <= end:
        n += 1
        k += 1
    return n


async def _refused(call, message: str) -> None:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await call
    assert message in str(err.value.cause)


async def test_two_year_phase_snapshots_evaluation_and_renewal(world, db):
    today = (await world.env.get_current_time()).date()
    ends_on = add_months(today, 24) - timedelta(days=1)
    # Activity on the territory: the member met twice (counts once), a non-member company,
    # an investment and a training; a visit elsewhere and an abandoned project do not count.
    await _visit(
        world,
        "v1",
        today,
        projects=[
            ActionProjectCreate(
                kind=ProjectKind.INVESTMENT, title="Nouvelle ligne", investment_cents=5_000_000
            ),
            ActionProjectCreate(kind=ProjectKind.TRAINING, title="CACES"),
            ActionProjectCreate(kind=ProjectKind.DIGITAL, title="Site", status="abandoned"),
        ],
    )
    await _visit(world, "v2", today)
    outsider = CompanyRef(siret=siret(), name="Boulangerie hors réseau", postcode="13015")
    await _visit(world, "v3", today, company=outsider, territory="Marseille Nord")
    elsewhere = CompanyRef(siret=siret(), name="Garage d'Aubagne", postcode="13400")
    await _visit(world, "v4", today, company=elsewhere, territory="Pays d'Aubagne")

    phase = PhaseSpec(
        starts_on=today,
        ends_on=ends_on,
        annual_budget_cents=ANNUAL,
        targets={KpiKey.COMPANIES_MET: 190, KpiKey.INVESTMENT_CENTS: 10_000_000},
        priorities=["Transmission d'entreprises"],
    )
    state, handle = await world.start(phase)
    assert state.step == ConventionStep.AWAITING_SIGNATURES
    stranger, _ = await make_user(db, world.member.id, Role.MEMBER)
    await _refused(
        handle.execute_update(
            ConventionWorkflow.sign, SignatureAct(user_id=stranger, organisation_id=world.member.id)
        ),
        "pas signataire",
    )
    cma = world.parties[1]
    first = await handle.execute_update(
        ConventionWorkflow.sign, SignatureAct(user_id=cma.user, organisation_id=cma.org.id)
    )
    again = await handle.execute_update(
        ConventionWorkflow.sign, SignatureAct(user_id=cma.user, organisation_id=cma.org.id)
    )
    assert first.signatures == again.signatures and len(again.signatures) == 1
    state = await world.sign_all(handle)
    assert len(state.signatures) == 3
    assert await db.fetchval("SELECT count(*) FROM convention_signatures") == 3
    signed_audits = "SELECT count(*) FROM audit_events WHERE action = 'convention.signed'"
    assert await db.fetchval(signed_audits) == 3  # the repeat audited nothing

    await world.env.sleep(timedelta(days=400))
    state = await handle.query(ConventionWorkflow.state)
    assert state.step == ConventionStep.ACTIVE
    day = (await world.env.get_current_time()).date()
    assert state.snapshots_taken == _month_starts_between(today, day)
    assert state.last_snapshot.actuals[KpiKey.COMPANIES_MET] == 2
    assert state.last_snapshot.actuals[KpiKey.VISITS] == 3
    assert state.last_snapshot.actuals[KpiKey.ACTION_PROJECTS] == 2
    assert state.last_snapshot.actuals[KpiKey.INVESTMENT_CENTS] == 5_000_000
    assert state.last_snapshot.actuals[KpiKey.TRAININGS] == 1
    review = "SELECT closed_at IS NULL FROM tasks WHERE action = 'review_convention'"
    assert await db.fetchval(review) is True  # the mid-phase review is asked (day 365)

    amendment = Amendment(
        request_id="avenant-1",
        user_id=world.manager,
        targets={KpiKey.COMPANIES_MET: 200},
        reason="Avenant voté en comité de pilotage",
    )
    await handle.execute_update(ConventionWorkflow.amend, amendment)
    state = await handle.execute_update(ConventionWorkflow.amend, amendment)
    assert state.amendments == 1 and state.phase.targets[KpiKey.COMPANIES_MET] == 200
    amended = "SELECT count(*) FROM audit_events WHERE action = 'convention.amended'"
    assert await db.fetchval(amended) == 1
    expense = Expense(
        request_id="facture-7",
        user_id=world.staff,
        amount_cents=4_200_000,
        label="Chargé de mission, 1er semestre",
        spent_on=today,
    )
    await handle.execute_update(ConventionWorkflow.record_expense, expense)
    state = await handle.execute_update(ConventionWorkflow.record_expense, expense)
    assert state.budget_used_cents == 4_200_000
    await handle.execute_update(
        ConventionWorkflow.review, Review(user_id=world.manager, note="Bonne dynamique")
    )
    assert await db.fetchval(review) is False

    await world.env.sleep(timedelta(days=400))
    state = await handle.query(ConventionWorkflow.state)
    assert state.step == ConventionStep.EVALUATING
    # Every first of month in the phase, then the final snapshot at its end.
    assert state.snapshots_taken == _month_starts_between(today, ends_on) + 1
    assert await db.fetchval("SELECT count(*) FROM kpi_snapshots") == state.snapshots_taken
    lines = {line.key: line for line in state.evaluation.lines}
    assert lines[KpiKey.COMPANIES_MET].target == 200
    assert lines[KpiKey.COMPANIES_MET].actual == 2
    assert lines[KpiKey.COMPANIES_MET].percent == 1.0
    assert lines[KpiKey.INVESTMENT_CENTS].percent == 50.0
    assert state.evaluation.budget_cents == 2 * ANNUAL
    assert state.evaluation.budget_used_cents == 4_200_000
    assert state.evaluation.budget_percent == round(100 * 4_200_000 / (2 * ANNUAL), 1)
    stored = await db.fetchval("SELECT evaluation FROM convention_phases WHERE number = 1")
    assert stored["budget_cents"] == 2 * ANNUAL

    next_phase = PhaseSpec(
        starts_on=ends_on + timedelta(days=1),
        ends_on=add_months(ends_on, 24),
        annual_budget_cents=17_000_000,
        targets={KpiKey.COMPANIES_MET: 210},
    )
    early = next_phase.model_copy(update={"starts_on": ends_on})
    await _refused(
        handle.execute_update(
            ConventionWorkflow.decide, Decision(user_id=world.manager, renew=early)
        ),
        "commence après la fin",
    )
    first_run = (await handle.describe()).run_id
    state = await handle.execute_update(
        ConventionWorkflow.decide, Decision(user_id=world.manager, renew=next_phase)
    )
    assert state.step == ConventionStep.RENEWED
    await _record(
        world.env.client.get_workflow_handle(handle.id, run_id=first_run), "convention_renewed"
    )

    # The same workflow id goes on in a new run: phase 2 awaits its signatures.
    latest = world.env.client.get_workflow_handle_for(ConventionWorkflow.run, handle.id)
    state = await latest.execute_update(  # answers once phase 2 is stored
        ConventionWorkflow.opened, RegisterRequest(request_id="phase-2")
    )
    assert state.phase.number == 2
    assert state.step == ConventionStep.AWAITING_SIGNATURES and state.signatures == []
    assert [p.number for p in state.lineage] == [1]
    assert state.lineage[0].evaluation.lines[0].key == KpiKey.COMPANIES_MET
    phases = await db.fetch("SELECT number, status FROM convention_phases ORDER BY number")
    assert [(r["number"], r["status"]) for r in phases] == [
        (1, "renewed"),
        (2, "awaiting_signatures"),
    ]
    assert await db.fetchval("SELECT phase_number FROM conventions") == 2
    sign_tasks = await db.fetch(
        "SELECT closed_at FROM tasks WHERE action = 'sign_convention' ORDER BY created_at"
    )
    assert len(sign_tasks) == 6 and sum(t["closed_at"] is None for t in sign_tasks) == 3


async def test_late_signatures_are_chased_then_escalated_and_abandoned(world, db):
    today = (await world.env.get_current_time()).date()
    phase = PhaseSpec(
        starts_on=today + timedelta(days=60),
        ends_on=today + timedelta(days=425),
        annual_budget_cents=ANNUAL,
    )
    _, handle = await world.start(phase, reminder_days=7, escalate_after=2)
    network = world.parties[0]
    await handle.execute_update(
        ConventionWorkflow.sign, SignatureAct(user_id=network.user, organisation_id=network.org.id)
    )
    await world.env.sleep(timedelta(days=15))
    state = await handle.query(ConventionWorkflow.state)
    assert state.reminders_sent == 2 and state.escalated
    assert {p.organisation_name for p in state.unsigned()} == {
        "CMA délégation 13",
        "Mairie des 15e et 16e",
    }
    reminders = "SELECT count(*) FROM outbox WHERE subject LIKE 'Rappel%'"
    assert await db.fetchval(reminders) == 4  # two reminders to each of two late parties
    escalation = await db.fetchrow(
        "SELECT assignee_organisation_id, assignee_role, closed_at FROM tasks "
        "WHERE action = 'chase_signatures'"
    )
    assert escalation["assignee_organisation_id"] == world.network.id
    assert escalation["assignee_role"] == "manager" and escalation["closed_at"] is None
    await _refused(
        handle.execute_update(
            ConventionWorkflow.amend,
            Amendment(request_id="a", user_id=world.manager, annual_budget_cents=1, reason="xyz"),
        ),
        "impossible à l'étape",
    )

    state = await handle.execute_update(
        ConventionWorkflow.cancel, Cancel(user_id=world.manager, reason="Financement non voté")
    )
    assert state.step == ConventionStep.CANCELLED
    assert (await handle.result()).step == ConventionStep.CANCELLED
    await _record(handle, "convention_cancelled")
    open_tasks = "SELECT count(*) FROM tasks WHERE closed_at IS NULL"
    assert await db.fetchval(open_tasks) == 0
    assert await db.fetchval("SELECT status FROM conventions") == "cancelled"


async def test_short_phase_reviewed_early_then_closed(world, db):
    today = (await world.env.get_current_time()).date()
    phase = PhaseSpec(
        starts_on=today + timedelta(days=10),
        ends_on=today + timedelta(days=100),
        annual_budget_cents=1_200_000,
        targets={KpiKey.VISITS: 4},
    )
    _, handle = await world.start(phase, snapshot_months=2)
    state = await world.sign_all(handle)
    assert state.step == ConventionStep.SIGNED
    await _refused(
        handle.execute_update(ConventionWorkflow.review, Review(user_id=world.manager, note="ok!")),
        "impossible à l'étape « signed »",
    )
    await world.env.sleep(timedelta(days=12))
    await _visit(world, "v1", today + timedelta(days=11))
    await _visit(world, "before", today)  # before the phase: not counted
    await handle.execute_update(
        ConventionWorkflow.review, Review(user_id=world.manager, note="Lancement réussi")
    )
    await world.env.sleep(timedelta(days=95))
    state = await handle.query(ConventionWorkflow.state)
    assert state.step == ConventionStep.EVALUATING
    assert state.evaluation.lines[0].key == KpiKey.VISITS
    assert (state.evaluation.lines[0].actual, state.evaluation.lines[0].percent) == (1, 25.0)
    review = "SELECT count(*) FROM tasks WHERE action = 'review_convention'"
    assert await db.fetchval(review) == 0  # reviewed before its date: never asked
    state = await handle.execute_update(
        ConventionWorkflow.decide, Decision(user_id=world.manager, close_reason="Objectifs revus")
    )
    result = await handle.result()
    assert result.step == ConventionStep.CLOSED and [p.number for p in result.lineage] == [1]
    await _record(handle, "convention_closed")
    assert await db.fetchval("SELECT status FROM convention_phases") == "closed"
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE closed_at IS NULL") == 0
