"""Who acts: users belong to one organisation and have one role."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    MANAGER = "manager"
    MEMBER = "member"
    AGENCY = "agency"
    PARTNER = "partner"


# Roles that act for the whole network and so see every organisation's records.
NETWORK_ROLES = frozenset({Role.ADMIN, Role.STAFF, Role.MANAGER})


class Principal(BaseModel):
    """The authenticated caller of an API route."""

    user_id: UUID
    organisation_id: UUID
    role: Role
    name: str
    # The session the caller came with (pages); None for an API token.
    session_id: UUID | None = None

    @property
    def sees_everything(self) -> bool:
        return self.role in NETWORK_ROLES

    @property
    def scope(self) -> UUID | None:
        """The organisation the caller's lists are narrowed to (None: the network sees all)."""
        return None if self.sees_everything else self.organisation_id

    def may_see(self, organisation_id: UUID) -> bool:
        return self.sees_everything or organisation_id == self.organisation_id


class UserPublic(BaseModel):
    id: UUID
    organisation_id: UUID
    organisation_name: str
    organisation_kind: str | None = None
    role: Role
    name: str
    email: str | None = None
