"""Recruitment campaigns: the network relays an employer's offer to job agencies, takes their
referrals, screens and pseudonymises candidates, and follows the employer's decisions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from domain.actions import ReferralActionKind
from domain.auth import Role
from domain.common import REQUEST_ID_PATTERN, BoundedDatetime, FreeText
from domain.csv_export import Cell
from domain.formats import PARIS
from domain.identifiers import Postcode

RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]
Text = Annotated[str, FreeText(2, 200, one_line=True)]
Reason = Annotated[str, FreeText(3, 500)]
Skill = Annotated[str, FreeText(1, 60, one_line=True)]


# Campaign ids are derived from the launcher's organisation and request id: a retried
# launch finds the same campaign.
CAMPAIGN_NS = uuid.UUID("5b0c1c3e-8e0a-4f49-9d55-2f6c1f0e7a10")


def campaign_id_for(network_id: UUID, request_id: str) -> UUID:
    return uuid.uuid5(CAMPAIGN_NS, f"{network_id}:{request_id}")


def position_ids_for(campaign_id: UUID, count: int) -> list[UUID]:
    return [uuid.uuid5(campaign_id, str(i)) for i in range(count)]


def campaign_workflow_id(campaign_id: UUID) -> str:
    return f"campaign-{campaign_id}"


def referral_id_for(campaign_id: UUID, agency_id: UUID, request_id: str) -> UUID:
    return uuid.uuid5(campaign_id, f"{agency_id}:{request_id}")


def referral_workflow_id(campaign_id: UUID, agency_id: UUID, request_id: str) -> str:
    """A retried referral (same agency, same request id) lands on the same workflow."""
    return f"referral-{campaign_id}-{agency_id}-{request_id}"


# --- normalisation and dedup -------------------------------------------------------------


def normalise_email(value: str) -> str:
    return value.strip().lower()


def normalise_phone(value: str) -> str:
    """French numbers to 10 digits ("+33 6 12 34 56 78" → "0612345678"); others to +digits."""
    digits = re.sub(r"[ \t\u00a0\u202f.\-()]", "", value)
    if digits.startswith("+33"):
        digits = "0" + digits[3:]
    elif digits.startswith("0033"):
        digits = "0" + digits[4:]
    if re.fullmatch(r"0[1-9][0-9]{8}", digits):
        return digits
    if re.fullmatch(r"\+[0-9]{8,15}", digits):
        return digits
    raise ValueError("numéro de téléphone invalide (ex. 06 12 34 56 78 ou +33 6 12 34 56 78)")


Phone = Annotated[str, AfterValidator(normalise_phone)]


def pseudonym(secret: bytes, referral_id: UUID) -> str:
    """40 bits in base 32: in a campaign of 5,000 candidates, two share a pseudonym with a
    probability near 1e-5."""
    digest = hmac.new(secret, f"pseudonym|{referral_id}".encode(), hashlib.sha256).digest()
    return "C-" + base64.b32encode(digest[:5]).decode()


# --- campaigns -----------------------------------------------------------------------------


class ContractType(StrEnum):
    CDI = "cdi"
    CDD = "cdd"
    INTERIM = "interim"
    APPRENTICESHIP = "apprenticeship"
    PROFESSIONALISATION = "professionalisation"
    SEASONAL = "seasonal"


class CampaignStatus(StrEnum):
    OPENING = "opening"
    OPEN = "open"  # agencies refer candidates
    CLOSING = "closing"  # deadline passed, interviews under way finish
    CLOSED = "closed"
    FILLED = "filled"
    CANCELLED = "cancelled"


TERMINAL_CAMPAIGN = (CampaignStatus.CLOSED, CampaignStatus.FILLED, CampaignStatus.CANCELLED)


def intake_refusal(
    *,
    status: CampaignStatus,
    deadline: datetime,
    now: datetime,
    invited: bool = True,
    position_ok: bool = True,
) -> str | None:
    """Why a campaign takes no referral from this agency now (None: it does). The one rule,
    answered early by the API and checked again when the referral is recorded."""
    if not invited:
        return "votre agence n'est pas invitée sur cette campagne"
    if status == CampaignStatus.FILLED:
        return "les candidatures sont closes : tous les postes de cette campagne sont pourvus"
    if status == CampaignStatus.CANCELLED:
        return "les candidatures sont closes : cette campagne a été annulée"
    if status != CampaignStatus.OPEN or now >= deadline:
        return (
            "les candidatures sont closes pour cette campagne depuis le "
            f"{deadline.astimezone(PARIS):%d/%m/%Y à %H:%M} (heure de Paris)"
        )
    if not position_ok:
        return "ce poste n'appartient pas à la campagne"
    return None


TerritoryCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{2,5}$"),
]


class PositionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text
    count: int = Field(ge=1, le=1000)
    contract: ContractType
    place_postcode: Postcode
    place_commune: Text | None = None


class CampaignCreate(BaseModel):
    """API input: staff or a manager launch a campaign for a member employer."""

    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    employer_id: UUID
    title: Text
    positions: list[PositionCreate] = Field(min_length=1, max_length=200)
    territory_postcodes: list[TerritoryCode] = Field(
        min_length=1,
        max_length=200,
        description="Territoire local : codes postaux ou préfixes (ex. 13015, 13016, 130)",
    )
    agency_ids: list[UUID] = Field(min_length=1, max_length=50)
    deadline: BoundedDatetime = Field(description="Date limite de candidature (avec fuseau)")
    decision_sla_days: int = Field(default=5, ge=1, le=60)
    grace_days: int = Field(default=14, ge=0, le=90)

    @model_validator(mode="after")
    def _coherent(self) -> CampaignCreate:
        if len(set(self.agency_ids)) != len(self.agency_ids):
            raise ValueError("agency_ids : une agence est invitée deux fois")
        return self


class PositionPublic(BaseModel):
    id: UUID
    title: str
    count: int
    filled: int
    contract: ContractType
    place_postcode: str
    place_commune: str | None


class CampaignPublic(BaseModel):
    id: UUID
    workflow_id: str
    employer_id: UUID
    employer_name: str
    network_id: UUID
    title: str
    status: CampaignStatus
    deadline: datetime
    decision_sla_days: int
    grace_days: int
    territory_postcodes: list[str]
    agency_ids: list[UUID]
    positions: list[PositionPublic]
    created_at: datetime
    closed_at: datetime | None


class CampaignInput(BaseModel):
    """Workflow input. Created from CampaignCreate with ids fixed by the API."""

    campaign_id: UUID
    network_id: UUID
    created_by: UUID
    spec: CampaignCreate
    position_ids: list[UUID]
    # Carried over by continue-as-new.
    status: CampaignStatus = CampaignStatus.OPENING
    filled: dict[str, int] = Field(default_factory=dict)
    hired_referrals: list[str] = Field(default_factory=list)
    status_seq: int = 0


class CampaignState(BaseModel):
    campaign_id: UUID
    status: CampaignStatus
    filled: dict[str, int]
    targets: dict[str, int]
    deadline: datetime
    closed_at: datetime | None = None
    detail: str | None = None

    @property
    def all_filled(self) -> bool:
        return all(self.filled.get(p, 0) >= n for p, n in self.targets.items())


class CampaignCancelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    reason: Reason


class CampaignCancel(BaseModel):
    request_id: str
    user_id: UUID
    reason: str


class HireRecorded(BaseModel):
    """Signal from a referral to its campaign."""

    referral_id: UUID
    position_id: UUID


class InterviewSettled(BaseModel):
    """Signal from a referral to its campaign: an interview ended without a hire, so a
    campaign in its grace period may close now."""

    referral_id: UUID


# --- referrals -----------------------------------------------------------------------------


class ReferralStep(StrEnum):
    REGISTERING = "registering"
    REFUSED = "refused"  # campaign closed, agency not invited...
    DUPLICATE = "duplicate"
    SCREENING = "screening"
    SCREENED_OUT = "screened_out"
    SHORTLISTED = "shortlisted"
    INTERVIEW_REQUESTED = "interview_requested"  # waiting for the candidate's consent
    INTERVIEW = "interview"  # consent given, identity revealed, employer decides
    HIRED = "hired"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    NOT_RETAINED = "not_retained"  # campaign closed before a decision


OPEN_REFERRAL = (
    ReferralStep.REGISTERING,
    ReferralStep.SCREENING,
    ReferralStep.SHORTLISTED,
    ReferralStep.INTERVIEW_REQUESTED,
    ReferralStep.INTERVIEW,
)
# Where a referral ends: nothing moves it again.
CLOSED_REFERRAL = (
    ReferralStep.HIRED,
    ReferralStep.REJECTED,
    ReferralStep.WITHDRAWN,
    ReferralStep.NOT_RETAINED,
    ReferralStep.SCREENED_OUT,
    ReferralStep.DUPLICATE,
)


class ReferralCreate(BaseModel):
    """API input: an agency refers a candidate. Identity and contact are encrypted at rest
    and never shown to the employer before the candidate's consent."""

    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    position_id: UUID | None = None
    first_name: Annotated[str, FreeText(1, 80, one_line=True)]
    last_name: Annotated[str, FreeText(1, 80, one_line=True)]
    email: Annotated[EmailStr, BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v)]
    phone: Phone | None = None
    postcode: Postcode
    commune: Text | None = None
    skills: list[Skill] = Field(default_factory=list, max_length=30)
    experience_years: int = Field(default=0, ge=0, le=60)
    cv_text: Annotated[str, FreeText(0, 20_000)] = ""


class ReferralInput(BaseModel):
    """Workflow input. No personal data in clear: identity, contact and CV arrive sealed
    (AES-GCM, `RELAIS_DATA_KEY`), and email and phone only as keyed hashes. So an erasure in
    Postgres leaves nothing readable in Temporal's history either."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    referral_id: UUID
    campaign_id: UUID
    agency_id: UUID
    request_id: str
    position_id: UUID | None = None
    postcode: str
    commune: str | None = None
    skills: list[str] = Field(default_factory=list)
    experience_years: int = 0
    email_key: bytes
    phone_key: bytes | None = None
    identity_sealed: bytes
    cv_sealed: bytes | None = None
    # The same hashes under the older data keys still configured (after a key rotation, a
    # person referred before it is recognised).
    older_email_keys: list[bytes] = Field(default_factory=list)
    older_phone_keys: list[bytes] = Field(default_factory=list)


class Registration(BaseModel):
    referral_id: UUID
    step: ReferralStep
    pseudonym: str | None = None
    duplicate_of_agency: str | None = None
    detail: str | None = None
    # What the referral workflow needs to know of its campaign.
    network_id: UUID | None = None
    employer_id: UUID | None = None
    decision_sla_days: int | None = None


class ReferralRegistered(BaseModel):
    """The API's answer to a referral: new (screening) or a duplicate credited to the agency
    that referred the person first."""

    referral_id: UUID
    pseudonym: str | None
    status: ReferralStep
    duplicate_of_agency: str | None = None
    detail: str | None = None

    @property
    def duplicate(self) -> bool:
        return self.status == ReferralStep.DUPLICATE

    @classmethod
    def of(
        cls, referral_id: UUID, pseudonym: str | None, duplicate_of: str | None
    ) -> ReferralRegistered:
        if duplicate_of is None:
            return cls(referral_id=referral_id, pseudonym=pseudonym, status=ReferralStep.SCREENING)
        return cls(
            referral_id=referral_id,
            pseudonym=pseudonym,
            status=ReferralStep.DUPLICATE,
            duplicate_of_agency=duplicate_of,
            detail=(
                f"Doublon : cette personne a déjà été proposée par {duplicate_of} ; "
                "la candidature reste créditée à cette agence."
            ),
        )


class RegisterReferral(BaseModel):
    workflow_id: str
    input: ReferralInput


class CampaignStatusChange(BaseModel):
    campaign_id: UUID
    status: CampaignStatus
    at: datetime
    reason: str | None = None


class RelayOffer(BaseModel):
    campaign_id: UUID
    agency_id: UUID


class CampaignRef(BaseModel):
    campaign_id: UUID


class ReferralStepChange(BaseModel):
    referral_id: UUID
    step: ReferralStep
    at: datetime
    reason: str | None = None


class HireRequest(BaseModel):
    referral_id: UUID
    campaign_id: UUID
    position_id: UUID | None
    at: datetime
    reason: str


class HireResult(BaseModel):
    position_id: UUID | None
    # Histories recorded before the activity raised `HireRefused` answer a refusal here.
    refusal: str | None = None


class ErasureInput(BaseModel):
    """Erase one candidate on request (`referral_id`), or every candidate not hired whose
    campaign closed more than `months` ago."""

    referral_id: UUID | None = None
    months: int = 6


class ErasureResult(BaseModel):
    erased: int


class RegisterRequest(BaseModel):
    """Update sent together with the start (update-with-start)."""

    request_id: str


class ScreeningCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    retained: bool
    reason: Reason


class InterviewRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: RequestId


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    given: bool


class DecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    hired: bool
    reason: Reason
    position_id: UUID | None = Field(
        default=None, description="Poste pourvu (obligatoire si hired et plusieurs postes)"
    )


class WithdrawalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    reason: Reason


class ReferralAction(BaseModel):
    """What a person does on a referral, as the workflow receives it."""

    kind: ReferralActionKind
    request_id: str
    user_id: UUID
    organisation_id: UUID
    role: Role
    retained: bool | None = None
    given: bool | None = None
    hired: bool | None = None
    reason: str | None = None
    position_id: UUID | None = None

    @property
    def key(self) -> str:
        """Names this action: a replay of it has the same key, another person's does not."""
        return f"{self.kind}:{self.organisation_id}:{self.request_id}"


class ReferralState(BaseModel):
    referral_id: UUID
    campaign_id: UUID
    agency_id: UUID
    step: ReferralStep
    pseudonym: str | None = None
    registered_at: datetime | None = None
    decided_at: datetime | None = None
    reminders_sent: int = 0
    escalated: bool = False
    reason: str | None = None
    hired_position_id: UUID | None = None


class CampaignClosed(BaseModel):
    """Signal from a campaign to its open referrals."""

    status: CampaignStatus


class ReferralPublic(BaseModel):
    """A referral as a reader may see it: `identity` only for the network, the referring
    agency, or the employer after the candidate's consent."""

    id: UUID
    campaign_id: UUID
    agency_id: UUID
    agency_name: str
    pseudonym: str
    status: ReferralStep
    position_id: UUID | None
    postcode: str
    commune: str | None
    skills: list[str]
    experience_years: int
    duplicate: bool
    created_at: datetime
    consent_at: datetime | None
    reason: str | None
    identity: CandidateIdentity | None = None
    updated_at: datetime | None = Field(default=None, description="Dernier changement d'étape")


class CandidateIdentity(BaseModel):
    first_name: str
    last_name: str
    email: str
    phone: str | None
    cv_text: str


ReferralPublic.model_rebuild()


# --- report --------------------------------------------------------------------------------


class HireCounts(BaseModel):
    """A campaign's hires, counted where they are (SQL): no personal data."""

    hired: int = 0
    # the candidate lives in one of the campaign's postcodes (or departement prefixes of 2-3
    # digits, e.g. "13")
    local: int = 0
    by_position: dict[UUID, int] = Field(default_factory=dict)
    median_days: float | None = None  # from referral to hire


class AgencyCount(BaseModel):
    """One agency's referrals in a campaign, counted where they are (SQL)."""

    agency_id: UUID
    referrals: int  # duplicates aside
    duplicates: int
    shortlisted: int
    hired: int


class PositionReport(BaseModel):
    position_id: UUID
    title: str
    target: int
    hired: int


class AgencyReport(BaseModel):
    agency_id: UUID
    agency_name: str
    referrals: int
    duplicates: int
    shortlisted: int
    hired: int
    conversion: float = Field(description="embauches / candidatures (hors doublons)")


class CampaignReport(BaseModel):
    campaign_id: UUID
    title: str
    status: CampaignStatus
    target: int
    hired: int
    local_hires: int
    local_share: float
    positions: list[PositionReport]
    agencies: list[AgencyReport]
    median_days_to_hire: float | None
    rejection_reasons: dict[str, int]


def build_report(
    campaign: CampaignPublic,
    hires: HireCounts,
    counts: list[AgencyCount],
    reasons: dict[str, int],
    agency_names: dict[UUID, str],
) -> CampaignReport:
    """A campaign's report from what was counted where the referrals are: its hires, each
    agency's counts, the employer's rejection reasons (most given first) — the same work for a
    campaign of ten referrals or of fifty thousand."""
    by_agency = {c.agency_id: c for c in counts}
    agencies = []
    for agency_id in campaign.agency_ids:
        c = by_agency.get(agency_id) or AgencyCount(
            agency_id=agency_id, referrals=0, duplicates=0, shortlisted=0, hired=0
        )
        agencies.append(
            AgencyReport(
                agency_id=agency_id,
                agency_name=agency_names.get(agency_id, str(agency_id)),
                referrals=c.referrals,
                duplicates=c.duplicates,
                shortlisted=c.shortlisted,
                hired=c.hired,
                conversion=round(c.hired / c.referrals, 4) if c.referrals else 0.0,
            )
        )
    target = sum(p.count for p in campaign.positions)
    return CampaignReport(
        campaign_id=campaign.id,
        title=campaign.title,
        status=campaign.status,
        target=target,
        hired=hires.hired,
        local_hires=hires.local,
        local_share=round(hires.local / hires.hired, 4) if hires.hired else 0.0,
        positions=[
            PositionReport(
                position_id=p.id,
                title=p.title,
                target=p.count,
                hired=hires.by_position.get(p.id, 0),
            )
            for p in campaign.positions
        ],
        agencies=agencies,
        median_days_to_hire=(
            round(hires.median_days, 2) if hires.median_days is not None else None
        ),
        rejection_reasons=reasons,
    )


REPORT_COLUMNS = [
    "section",
    "libellé",
    "objectif",
    "candidatures",
    "doublons",
    "présélectionnés",
    "embauches",
    "refus",
    "conversion (%)",
    "part locale (%)",
    "délai médian (jours)",
]


def report_csv_rows(report: CampaignReport) -> list[list[Cell]]:
    """The report flattened for a spreadsheet (domain.csv_export writes it): French headers,
    one figure per column."""

    def row(section: str, label: str = "", **figures: Cell) -> list[Cell]:
        keys = ["target", "referrals", "duplicates", "shortlisted", "hired", "rejected"]
        keys += ["conversion", "local_share", "median_days"]
        return [section, label, *(figures.get(k) for k in keys)]

    rows: list[list[Cell]] = [list(REPORT_COLUMNS)]
    for p in report.positions:
        rows.append(row("poste", p.title, target=p.target, hired=p.hired))
    for a in report.agencies:
        rows.append(
            row(
                "agence",
                a.agency_name,
                referrals=a.referrals,
                duplicates=a.duplicates,
                shortlisted=a.shortlisted,
                hired=a.hired,
                conversion=round(100 * a.conversion, 2),
            )
        )
    rows.append(
        row(
            "total",
            report.title,
            target=report.target,
            hired=report.hired,
            local_share=round(100 * report.local_share, 2),
            median_days=report.median_days_to_hire,
        )
    )
    rows.append(
        row(
            "embauches locales",
            hired=report.local_hires,
            local_share=round(100 * report.local_share, 2),
        )
    )
    for reason, n in report.rejection_reasons.items():
        rows.append(row("motif de refus", reason, rejected=n))
    return rows
