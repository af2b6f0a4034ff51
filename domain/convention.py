"""Partnership conventions run phase after phase against KPI targets, and the company visits
and action projects whose activity those KPIs measure. Pure rules: phase calendar, budget of
a phase, KPI aggregation and evaluation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.auth import Role
from domain.common import REQUEST_ID_PATTERN, BoundedDate, FreeText
from domain.csv_export import Cell, amount
from domain.identifiers import Postcode, Siret
from domain.organisations import Naf

RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]
Territory = Annotated[str, FreeText(1, 100, one_line=True)]
MAX_PHASE_DAYS = 6 * 366  # a convention phase is signed for a few years, never decades


class PartyRole(StrEnum):
    FUNDER = "funder"
    OPERATOR = "operator"
    PARTNER = "partner"


PARTY_ROLE_LABELS = {"funder": "financeur", "operator": "opérateur", "partner": "partenaire"}


class KpiKey(StrEnum):
    """What a phase can be measured on. Add a key here and in the store's `COUNT_KPIS`."""

    COMPANIES_MET = "companies_met"
    VISITS = "visits"
    ACTION_PROJECTS = "action_projects"
    CAMPAIGNS = "campaigns"
    RECRUITMENTS = "recruitments"
    INVESTMENT_PROJECTS = "investment_projects"
    INVESTMENT_CENTS = "investment_cents"
    TRAININGS = "trainings"
    SERVICES_DELIVERED = "services_delivered"


KPI_LABELS = {
    KpiKey.COMPANIES_MET: "Entreprises rencontrées",
    KpiKey.VISITS: "Visites d'entreprises",
    KpiKey.ACTION_PROJECTS: "Projets d'action",
    KpiKey.CAMPAIGNS: "Campagnes de recrutement lancées",
    KpiKey.RECRUITMENTS: "Recrutements",
    KpiKey.INVESTMENT_PROJECTS: "Projets d'investissement",
    KpiKey.INVESTMENT_CENTS: "Montant investi (centimes)",
    KpiKey.TRAININGS: "Formations",
    KpiKey.SERVICES_DELIVERED: "Services mutualisés livrés",
}


# --- phases ---------------------------------------------------------------------------------


class PhaseSpec(BaseModel):
    """One phase of a convention: its dates (both included), annual budget, targets and
    priorities. `number` defaults to 1 for a new convention, to the next for a renewal."""

    model_config = ConfigDict(extra="forbid")

    number: int | None = Field(default=None, ge=1, le=99)
    starts_on: BoundedDate
    ends_on: BoundedDate
    annual_budget_cents: int = Field(ge=0, le=10**12, description="Budget annuel, en centimes")
    targets: dict[KpiKey, Annotated[int, Field(ge=0, le=10**13)]] = Field(default_factory=dict)
    priorities: list[Annotated[str, FreeText(1, 300, one_line=True)]] = Field(
        default_factory=list, max_length=20
    )

    @model_validator(mode="after")
    def _dates(self) -> PhaseSpec:
        if self.ends_on <= self.starts_on:
            raise ValueError("la fin de la phase (ends_on) doit suivre son début (starts_on)")
        if (self.ends_on - self.starts_on).days > MAX_PHASE_DAYS:
            raise ValueError("une phase dure au plus six ans")
        return self


def phase_budget_cents(phase: PhaseSpec) -> int:
    """The phase's whole budget: the annual amount for each full calendar year of the
    phase, a twelfth for each further full month, and the remaining days pro rata."""
    months = 0
    cursor = phase.starts_on
    while (nxt := add_months(phase.starts_on, months + 1)) <= phase.ends_on + timedelta(days=1):
        months += 1
        cursor = nxt
    days = (phase.ends_on - cursor).days + 1
    whole = phase.annual_budget_cents * months
    return (whole * 365 + phase.annual_budget_cents * days * 12 + 6 * 365) // (12 * 365)


def add_months(d: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


def phase_end(phase: PhaseSpec) -> datetime:
    """The instant the phase is over: midnight after its last day (UTC)."""
    return midnight(phase.ends_on + timedelta(days=1))


def next_snapshot_at(now: datetime, phase: PhaseSpec, every_months: int) -> datetime:
    """The next periodic KPI snapshot: the first day of the month, every `every_months`
    months counted from the phase's start, never after the phase's end."""
    first = date(phase.starts_on.year, phase.starts_on.month, 1)
    k = 1
    while (at := midnight(add_months(first, k * every_months))) <= now:
        k += 1
    return min(at, phase_end(phase))


def next_phase_dates(starts_on: date, ends_on: date, today: date) -> tuple[date, date]:
    """A renewal's suggested dates: from the day after the phase (today, if that is later),
    for as long as the phase lasted."""
    start = max(ends_on + timedelta(days=1), today)
    return start, start + (ends_on - starts_on)


def midpoint(phase: PhaseSpec) -> datetime:
    start, end = midnight(phase.starts_on), phase_end(phase)
    return start + (end - start) / 2


# --- parties and signatures -----------------------------------------------------------------


class PartyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation_id: UUID
    role: PartyRole
    signatory_id: UUID = Field(description="L'utilisateur qui signe pour cette organisation")


class Party(BaseModel):
    organisation_id: UUID
    organisation_name: str
    role: PartyRole
    signatory_id: UUID
    signatory_name: str
    signatory_role: Role
    email: str | None = None


class ConventionCreate(BaseModel):
    """A new convention and its first phase. `request_id` is the idempotency key."""

    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    title: Annotated[str, FreeText(3, 200, one_line=True)]
    territory: Territory = Field(description="Territoire mesuré (celui des organisations)")
    parties: list[PartyCreate] = Field(min_length=1, max_length=20)
    phase: PhaseSpec
    reminder_days: int = Field(default=7, ge=1, le=60, description="Relance tous les N jours")
    escalate_after: int = Field(default=2, ge=1, le=10, description="Relances avant escalade")
    snapshot_months: int = Field(default=1, ge=1, le=12, description="Indicateurs tous les N mois")

    @model_validator(mode="after")
    def _distinct(self) -> ConventionCreate:
        orgs = [p.organisation_id for p in self.parties]
        if len(set(orgs)) != len(orgs):
            raise ValueError("une organisation n'est partie qu'une fois à la convention")
        people = [p.signatory_id for p in self.parties]
        if len(set(people)) != len(people):
            raise ValueError("chaque partie a son propre signataire")
        return self


class ConventionStep(StrEnum):
    AWAITING_SIGNATURES = "awaiting_signatures"
    SIGNED = "signed"  # every party signed, the phase has not begun
    ACTIVE = "active"
    EVALUATING = "evaluating"  # the phase is over, a manager renews or closes
    RENEWED = "renewed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class SignatureAct(BaseModel):
    """A signatory signs the current phase (sent by the API for the caller)."""

    user_id: UUID
    organisation_id: UUID


class SignatureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Annotated[str, FreeText(0, 500)] = ""


class Signature(BaseModel):
    organisation_id: UUID
    signatory_id: UUID
    signed_at: datetime


class AmendmentCreate(BaseModel):
    """Targets (only those named change) and/or the annual budget of the running phase."""

    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    targets: dict[KpiKey, Annotated[int, Field(ge=0, le=10**13)]] = Field(default_factory=dict)
    annual_budget_cents: int | None = Field(default=None, ge=0, le=10**12)
    reason: Annotated[str, FreeText(3, 500)]

    @model_validator(mode="after")
    def _changes_something(self) -> AmendmentCreate:
        if not self.targets and self.annual_budget_cents is None:
            raise ValueError("un avenant modifie au moins un objectif ou le budget")
        return self


class Amendment(AmendmentCreate):
    user_id: UUID


class ExpenseCreate(BaseModel):
    """Money spent on the phase, counted in the evaluation's budget used."""

    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    amount_cents: int = Field(gt=0, le=10**11)
    label: Annotated[str, FreeText(2, 200, one_line=True)]
    spent_on: BoundedDate


class Expense(ExpenseCreate):
    user_id: UUID


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, FreeText(3, 2000)]


class Review(ReviewCreate):
    user_id: UUID


class DecisionCreate(BaseModel):
    """At the end of a phase: renew into the next (its dates, budget, targets) or close."""

    model_config = ConfigDict(extra="forbid")

    renew: PhaseSpec | None = None
    close_reason: Annotated[str, FreeText(3, 500)] | None = None

    @model_validator(mode="after")
    def _one(self) -> DecisionCreate:
        if (self.renew is None) == (self.close_reason is None):
            raise ValueError("renouvelez (renew) ou clôturez (close_reason), l'un des deux")
        return self


class Decision(DecisionCreate):
    user_id: UUID


class CancelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, FreeText(3, 500)]


class Cancel(CancelCreate):
    user_id: UUID


class SnapshotAsk(BaseModel):
    user_id: UUID


# --- KPIs -----------------------------------------------------------------------------------


class SnapshotRequest(BaseModel):
    convention_id: UUID
    phase_number: int
    territory: str
    starts_on: date
    as_of: date  # activity counted up to this day, included
    taken_at: datetime


class KpiSnapshot(BaseModel):
    phase_number: int
    as_of: date  # activity counted up to this day, included
    taken_at: datetime
    actuals: dict[KpiKey, int]


class KpiLine(BaseModel):
    key: KpiKey
    label: str
    target: int | None
    actual: int
    percent: float | None  # of the target; None without a target (or a zero target)


class Evaluation(BaseModel):
    phase_number: int
    starts_on: date
    ends_on: date
    as_of: date
    lines: list[KpiLine]
    budget_cents: int
    budget_used_cents: int
    budget_percent: float | None


def percent(actual: int, target: int | None) -> float | None:
    return round(100 * actual / target, 1) if target else None


def evaluate(phase: PhaseSpec, snapshot: KpiSnapshot, used_cents: int) -> Evaluation:
    """Targets against actuals (targets first, in their order, then the other measures)."""
    keys = list(phase.targets) + [k for k in KpiKey if k not in phase.targets]
    lines = [
        KpiLine(
            key=k,
            label=KPI_LABELS[k],
            target=phase.targets.get(k),
            actual=snapshot.actuals.get(k, 0),
            percent=percent(snapshot.actuals.get(k, 0), phase.targets.get(k)),
        )
        for k in keys
    ]
    budget = phase_budget_cents(phase)
    return Evaluation(
        phase_number=phase.number or 1,
        starts_on=phase.starts_on,
        ends_on=phase.ends_on,
        as_of=snapshot.as_of,
        lines=lines,
        budget_cents=budget,
        budget_used_cents=used_cents,
        budget_percent=percent(used_cents, budget),
    )


def evaluation_csv_rows(title: str, e: Evaluation) -> list[list[Cell]]:
    """A phase's evaluation for a spreadsheet (domain.csv_export writes it)."""
    rows: list[list[Cell]] = [
        ["Convention", title],
        ["Phase", e.phase_number, e.starts_on, e.ends_on],
        ["Indicateurs au", e.as_of],
        [],
        ["Indicateur", "Objectif", "Réalisé", "Taux (%)"],
    ]
    rows += [[line.label, line.target, line.actual, line.percent] for line in e.lines]
    rows += [
        [],
        ["Budget de la phase (euros)", amount(e.budget_cents)],
        ["Budget consommé (euros)", amount(e.budget_used_cents)],
        ["Taux de consommation (%)", e.budget_percent],
    ]
    return rows


# --- workflow input and state ---------------------------------------------------------------


class PhaseSummary(BaseModel):
    """A phase that is over, kept in the lineage of the next."""

    number: int
    starts_on: date
    ends_on: date
    run_id: str
    outcome: ConventionStep
    evaluation: Evaluation | None = None


class ConventionState(BaseModel):
    convention_id: UUID
    workflow_id: str
    title: str
    territory: str
    step: ConventionStep
    phase: PhaseSpec
    parties: list[Party]
    signatures: list[Signature] = Field(default_factory=list)
    reminders_sent: int = 0
    escalated: bool = False
    snapshots_taken: int = 0
    last_snapshot: KpiSnapshot | None = None
    review_opened: bool = False
    reviewed_at: datetime | None = None
    review_note: str | None = None
    amendments: int = 0
    amendment_ids: list[str] = Field(default_factory=list)  # request ids applied this phase
    budget_used_cents: int = 0
    evaluation: Evaluation | None = None
    lineage: list[PhaseSummary] = Field(default_factory=list)
    detail: str | None = None
    closed_at: datetime | None = None

    def unsigned(self) -> list[Party]:
        signed = {s.organisation_id for s in self.signatures}
        return [p for p in self.parties if p.organisation_id not in signed]


class ConventionInput(BaseModel):
    """Starts a convention's phase. `resume` carries the state through continue-as-new
    (a renewal, or a long phase whose history grew), `seq` the status projection's order."""

    convention_id: UUID
    network_id: UUID
    created_by: UUID
    title: str
    territory: str
    parties: list[Party]
    phase: PhaseSpec
    reminder_days: int = 7
    escalate_after: int = 2
    snapshot_months: int = 1
    resume: ConventionState | None = None
    seq: int = 0


def convention_workflow_id(convention_id: UUID) -> str:
    return f"convention-{convention_id}"


class PhaseRecord(BaseModel):
    """The store's copy of a phase (written when it starts, updated as it moves)."""

    convention_id: UUID
    workflow_id: str
    network_id: UUID
    created_by: UUID
    title: str
    territory: str
    parties: list[Party]
    phase: PhaseSpec
    step: ConventionStep


class SignatureRecord(BaseModel):
    convention_id: UUID
    phase_number: int
    organisation_id: UUID
    signatory_id: UUID
    signed_at: datetime
    workflow_id: str


class AmendmentRecord(BaseModel):
    convention_id: UUID
    phase_number: int
    workflow_id: str
    amendment: Amendment
    phase: PhaseSpec  # after the amendment


class ExpenseRecord(BaseModel):
    convention_id: UUID
    phase_number: int
    workflow_id: str
    expense: Expense


class ExpenseTotal(BaseModel):
    used_cents: int


class EvaluationRecord(BaseModel):
    convention_id: UUID
    phase_number: int
    evaluation: Evaluation


class PhaseStepRecord(BaseModel):
    convention_id: UUID
    phase_number: int
    step: ConventionStep
    detail: str | None = None


class PartyCheck(BaseModel):
    parties: list[PartyCreate]


class PartiesChecked(BaseModel):
    parties: list[Party]


# --- read models ----------------------------------------------------------------------------


class PhasePublic(BaseModel):
    number: int
    starts_on: date
    ends_on: date
    annual_budget_cents: int
    budget_cents: int
    targets: dict[KpiKey, int]
    priorities: list[str]
    status: ConventionStep
    signatures: list[Signature]
    evaluation: Evaluation | None
    detail: str | None = None  # why it ended: the closing or cancelling reason


class ExpenseLine(BaseModel):
    amount_cents: int
    label: str
    spent_on: date


class AmendmentLine(BaseModel):
    """An amendment as the audit trail keeps it: who, when, the targets and budget it set."""

    at: datetime
    author: str
    phase_number: int
    targets: dict[KpiKey, int]
    annual_budget_cents: int | None
    reason: str


class ConventionPublic(BaseModel):
    id: UUID
    workflow_id: str
    title: str
    territory: str
    status: ConventionStep
    phase_number: int
    parties: list[Party]
    phases: list[PhasePublic]
    latest_snapshot: KpiSnapshot | None
    created_at: datetime


# --- company visits and action projects -----------------------------------------------------


class ProjectKind(StrEnum):
    RECRUITMENT = "recruitment"
    POOLED_SERVICE = "pooled_service"
    TRAINING = "training"
    INVESTMENT = "investment"
    DIGITAL = "digital"
    FUNDING = "funding"
    OTHER = "other"


class ProjectStatus(StrEnum):
    IDENTIFIED = "identified"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    ABANDONED = "abandoned"


class CompanyRef(BaseModel):
    """A company outside the directory (not a member, or not yet)."""

    model_config = ConfigDict(extra="forbid")

    siret: Siret
    name: Annotated[str, FreeText(2, 200, one_line=True)]
    postcode: Postcode
    naf: Naf | None = None


class ActionProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ProjectKind
    title: Annotated[str, FreeText(3, 200, one_line=True)]
    status: ProjectStatus = ProjectStatus.IDENTIFIED
    investment_cents: int | None = Field(default=None, ge=0, le=10**12)

    @model_validator(mode="after")
    def _investment(self) -> ActionProjectCreate:
        if self.investment_cents is not None and self.kind != ProjectKind.INVESTMENT:
            raise ValueError("un montant d'investissement ne va qu'à un projet d'investissement")
        return self


class VisitCreate(BaseModel):
    """An adviser's visit to a company: a member (`company_id`) or a company outside the
    directory (`company`, with the territory it belongs to)."""

    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    company_id: UUID | None = None
    company: CompanyRef | None = None
    territory: Territory | None = None
    visited_on: BoundedDate
    themes: list[Annotated[str, FreeText(2, 100, one_line=True)]] = Field(
        default_factory=list, max_length=20
    )
    needs: Annotated[str, FreeText(0, 4000)] = ""
    projects: list[ActionProjectCreate] = Field(default_factory=list, max_length=30)

    @model_validator(mode="after")
    def _company(self) -> VisitCreate:
        if (self.company_id is None) == (self.company is None):
            raise ValueError("indiquez l'entreprise visitée : company_id ou company, l'un des deux")
        return self


class ActionProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ProjectStatus | None = None
    investment_cents: int | None = Field(default=None, ge=0, le=10**12)

    @model_validator(mode="after")
    def _something(self) -> ActionProjectUpdate:
        if self.status is None and self.investment_cents is None:
            raise ValueError("rien à modifier : status ou investment_cents")
        return self


class ActionProjectPublic(BaseModel):
    id: UUID
    visit_id: UUID
    kind: ProjectKind
    title: str
    status: ProjectStatus
    investment_cents: int | None
    campaign_id: UUID | None
    service_request_id: UUID | None
    created_at: datetime
    updated_at: datetime


class VisitPublic(BaseModel):
    id: UUID
    adviser_id: UUID
    adviser_name: str
    adviser_organisation_id: UUID
    company_id: UUID | None
    company_siret: str
    company_name: str
    postcode: str
    territory: str
    visited_on: date
    themes: list[str]
    needs: str
    projects: list[ActionProjectPublic]
    created_at: datetime
