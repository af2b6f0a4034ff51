"""The directory: every organisation of the territory's network."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from domain.common import FreeText
from domain.identifiers import Postcode, Siret

Name = Annotated[str, FreeText(2, 200, one_line=True)]
Territory = Annotated[str, FreeText(1, 100, one_line=True)]
# [0-9], not \d: Python's \d takes every script's digits (fullwidth, Arabic-Indic…).
Naf = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{2}\.?[0-9]{2}[A-Z]$")
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 .()-]{6,20}$")]


class OrganisationKind(StrEnum):
    MEMBER = "member"
    AGENCY = "agency"
    CHAMBER = "chamber"
    AUTHORITY = "authority"
    PROVIDER = "provider"
    ASSOCIATION = "association"


class OrganisationStatus(StrEnum):
    PENDING = "pending"  # known to the network, membership not yet active
    ACTIVE = "active"
    INACTIVE = "inactive"


class _OrganisationFields(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganisationCreate(_OrganisationFields):
    kind: OrganisationKind
    name: Name
    siret: Siret
    naf: Naf | None = Field(default=None, description="Code NAF/APE, ex. 52.29A")
    headcount: int | None = Field(default=None, ge=0, le=1_000_000)
    postcode: Postcode
    commune: Name | None = None
    territory: Territory | None = None
    email: EmailStr | None = None
    phone: Phone | None = None


class OrganisationUpdate(_OrganisationFields):
    """Every field optional; only the fields sent are changed. `null` clears an optional
    detail but not the name, postcode or status."""

    name: Name | None = None
    naf: Naf | None = None
    headcount: int | None = Field(default=None, ge=0, le=1_000_000)
    postcode: Postcode | None = None
    commune: Name | None = None
    territory: Territory | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    status: OrganisationStatus | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> OrganisationUpdate:
        for name in ("name", "postcode", "status"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} ne peut pas être vide")
        return self


# What decides eligibility (territory, sector), a share of a bill (headcount) or who an
# organisation is (name, and its kind, SIRET and status, which no update changes): only the
# network's staff change them, audited; an organisation proposes.
STAFF_ONLY_FIELDS = frozenset({"name", "naf", "headcount", "territory", "status"})
FIELD_LABELS = {
    "name": "nom",
    "naf": "code NAF",
    "headcount": "effectif",
    "postcode": "code postal",
    "commune": "commune",
    "territory": "territoire",
    "email": "courriel",
    "phone": "téléphone",
    "status": "statut",
}


class ChangeStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class ChangeRequestCreate(BaseModel):
    """An organisation's proposal to change what only the network's staff change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    naf: Naf | None = None
    headcount: int | None = Field(default=None, ge=0, le=1_000_000)
    territory: Territory | None = None
    reason: Annotated[str, FreeText(3, 500)]

    @model_validator(mode="after")
    def _something(self) -> ChangeRequestCreate:
        if not self.changes():
            raise ValueError(
                "indiquez au moins un changement (nom, code NAF, effectif, territoire)"
            )
        return self

    def changes(self) -> dict[str, object]:
        return {
            k: v
            for k, v in self.model_dump(exclude={"reason"}, exclude_unset=True).items()
            if v is not None
        }


class ChangeDecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    note: Annotated[str, FreeText(0, 500)] | None = None


class ChangeRequestPublic(BaseModel):
    id: UUID
    organisation_id: UUID
    organisation_name: str
    changes: dict[str, object]
    reason: str
    status: ChangeStatus
    proposed_by: UUID
    proposed_by_name: str
    decided_by: UUID | None
    decision_note: str | None
    created_at: datetime
    decided_at: datetime | None


class OrganisationPublic(BaseModel):
    id: UUID
    kind: OrganisationKind
    name: str
    siret: str
    naf: str | None
    headcount: int | None
    postcode: str
    commune: str | None
    territory: str | None
    email: str | None
    phone: str | None
    status: OrganisationStatus
    created_at: datetime
    updated_at: datetime


class OrganisationFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, FreeText(0, 100)] | None = None
    kind: OrganisationKind | None = None
    territory: Territory | None = None
    status: OrganisationStatus | None = None
    # A sector: the start of a NAF code (« 56 » restaurants, « 52.29 », « 52.29A »).
    naf: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{2}(\.?[0-9]{1,2}[A-Z]?)?$"),
        ]
        | None
    ) = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)
