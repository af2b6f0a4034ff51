"""People: who may hold which role, users' status and notification preference, the inputs of
their acts (invitations, sign-in, passwords, sessions, API tokens) and the mails they get."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field, field_validator

from domain.auth import NETWORK_ROLES, Role
from domain.common import FreeText
from domain.organisations import OrganisationKind

# The network that runs Relais is its association: only its people hold the network's
# roles (admin, staff, manager), which see every organisation's records.
NETWORK_KINDS = frozenset({OrganisationKind.ASSOCIATION})

SIGN_IN_LINK_LIFE = timedelta(minutes=15)
INVITATION_LIFE = timedelta(days=7)
# A session opened by a mail link this recently may set a password without the old one:
# the person has just proved they read that mailbox.
FRESH_LINK_SESSION = timedelta(minutes=15)
PASSWORD_MIN = 12
TOKEN_MAX_DAYS = 366


def role_refusal(role: Role, kind: OrganisationKind) -> str | None:
    """Why a user of an organisation of this kind may not hold this role (None: they may)."""
    if role in NETWORK_ROLES and kind not in NETWORK_KINDS:
        return (
            "Les rôles du réseau (administration, équipe, direction) sont réservés aux "
            "personnes de l'association qui anime le réseau."
        )
    return None


class UserStatus(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    DISABLED = "disabled"


class NotifyPreference(StrEnum):
    IMMEDIATE = "immediate"  # a mail for each task that opens
    DAILY = "daily"  # one mail a day listing the overdue tasks
    NONE = "none"


class SessionMethod(StrEnum):
    LINK = "link"
    INVITATION = "invitation"
    PASSWORD = "password"  # noqa: S105 (a method name)


class LinkPurpose(StrEnum):
    SIGN_IN = "sign_in"
    INVITATION = "invitation"


def safe_next(path: str | None) -> str | None:
    """Where to go after signing in: a path of Relais only (never another site, never the
    sign-in pages themselves), else None."""
    if not path or len(path) > 500 or not path.startswith("/"):
        return None
    if path.startswith(("//", "/\\")) or any(ord(c) < 32 or c == "\\" for c in path):
        return None
    if path.startswith(("/connexion", "/deconnexion")):
        return None
    return path


def normalise_email(value: str) -> str:
    """Addresses are one per person whatever their case."""
    return value.strip().lower()


Email = Annotated[EmailStr, Field(max_length=254)]
Password = Annotated[str, Field(min_length=1, max_length=200)]


# --- acts ------------------------------------------------------------------------------


class InvitationCreate(BaseModel):
    """Invite a person: the network's operators name any organisation and role (within the
    network-role rule); anyone else invites colleagues of their own organisation, with
    their own role."""

    email: Email
    name: Annotated[str, FreeText(2, 120, one_line=True)]
    organisation_id: UUID | None = None
    role: Role | None = None

    @field_validator("email")
    @classmethod
    def _lower(cls, v: str) -> str:
        return normalise_email(v)


class LinkRequest(BaseModel):
    email: Email
    next_path: str | None = None

    @field_validator("email")
    @classmethod
    def _lower(cls, v: str) -> str:
        return normalise_email(v)


class LinkSignIn(BaseModel):
    token: Annotated[str, Field(min_length=10, max_length=200)]


class PasswordSignIn(BaseModel):
    email: Email
    password: Password
    next_path: str | None = None

    @field_validator("email")
    @classmethod
    def _lower(cls, v: str) -> str:
        return normalise_email(v)


class PasswordSet(BaseModel):
    password: Annotated[str, Field(min_length=PASSWORD_MIN, max_length=200)]
    current: str | None = Field(default=None, max_length=200)


class NameSet(BaseModel):
    name: Annotated[str, FreeText(2, 120, one_line=True)]


class NotifySet(BaseModel):
    notify: NotifyPreference


class ApiTokenCreate(BaseModel):
    name: Annotated[str, FreeText(2, 80, one_line=True)]
    expires_in_days: int = Field(default=90, ge=1, le=TOKEN_MAX_DAYS)


class SignedIn(BaseModel):
    """A new session: the secret goes into the cookie, and nowhere else."""

    session_id: UUID
    secret: str
    user_id: UUID
    next_path: str | None = None
    expires_at: datetime


# --- what people read ----------------------------------------------------------------


class UserRow(BaseModel):
    id: UUID
    organisation_id: UUID
    organisation_name: str
    organisation_kind: OrganisationKind
    role: Role
    name: str
    email: str | None
    status: UserStatus
    notify: NotifyPreference
    has_password: bool
    last_sign_in_at: datetime | None
    created_at: datetime


class SessionPublic(BaseModel):
    id: UUID
    method: SessionMethod
    user_agent: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    current: bool = False


class ApiTokenPublic(BaseModel):
    id: UUID
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiTokenCreated(BaseModel):
    """Shown once: only a hash of `token` is kept."""

    token: str
    public: ApiTokenPublic


class Invited(BaseModel):
    user_id: UUID
    email: str
    link_expires_at: datetime


# --- mails -------------------------------------------------------------------------------

LINK_MASK = "[lien personnel masqué]"


def invitation_mail(
    name: str, organisation: str, inviter: str | None, link: str, expires_at: datetime
) -> tuple[str, str]:
    by = f"{inviter} vous invite" if inviter else "Vous êtes invité(e)"
    return (
        "Votre accès à Relais",
        f"Bonjour {name},\n\n"
        f"{by} à rejoindre Relais pour {organisation}.\n\n"
        f"Pour activer votre compte, ouvrez ce lien (valable jusqu'au "
        f"{expires_at:%d/%m/%Y à %H:%M} UTC, une seule fois) :\n{link}\n\n"
        "Si vous n'attendiez pas cette invitation, ignorez ce message.",
    )


def sign_in_mail(name: str, link: str, minutes: int) -> tuple[str, str]:
    return (
        "Votre lien de connexion à Relais",
        f"Bonjour {name},\n\n"
        f"Voici votre lien de connexion, valable {minutes} minutes et une seule fois :\n"
        f"{link}\n\n"
        "Si vous n'avez rien demandé, ignorez ce message : personne ne peut se connecter "
        "sans ce lien.",
    )


def task_mail(title: str, due_at: datetime, link: str) -> tuple[str, str]:
    """A task for the person's organisation and role (the greeting is added per person)."""
    return (
        f"À faire : {title}",
        f"Une tâche vous attend sur Relais : {title}.\n"
        f"Échéance : {due_at:%d/%m/%Y} (UTC).\n\n"
        f"Ouvrir la tâche : {link}\n\n"
        "Vous recevez ce courriel parce que vous avez choisi d'être prévenu(e) à chaque "
        "tâche ; changez ce choix sur « Mon compte ».",
    )


def digest_mail(name: str, count: int, lines: list[str], link: str) -> tuple[str, str]:
    listed = "\n".join(f"- {line}" for line in lines)
    return (
        f"Relais : {count} tâche(s) en retard",
        f"Bonjour {name},\n\nCes tâches ont passé leur échéance :\n{listed}\n\n"
        f"Les traiter : {link}\n\n"
        "Vous recevez ce récapitulatif quotidien selon votre choix sur « Mon compte ».",
    )


# --- the daily digest (workflow payloads) ----------------------------------------------


class DigestInput(BaseModel):
    """The daily run; `day` is the day it is for (today's, UTC, when not given)."""

    day: date | None = None


class DigestRun(BaseModel):
    day: date


class DigestResult(BaseModel):
    queued: int = 0
