"""Small builders for test data (valid SIRETs, organisations, users with tokens and
sessions, a campaign's parties and its start)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import asyncpg
from temporalio.client import Client

from api.security import csrf_token
from domain.auth import Role
from domain.identifiers import luhn_check_digit
from domain.onboarding import MemberOnboardingInput
from domain.organisations import (
    OrganisationCreate,
    OrganisationKind,
    OrganisationPublic,
    OrganisationStatus,
)
from domain.people import SessionMethod
from domain.recruitment import CampaignCreate, CampaignInput, CampaignState
from store.organisations import OrganisationRepository
from store.sessions import SessionRepository
from store.users import UserRepository
from workflows.recruitment import start_campaign

_counter = itertools.count(1)


def siret(n: int | None = None) -> str:
    """A SIRET that passes both Luhn checks, different at each call."""
    n = next(_counter) if n is None else n
    siren = f"{7000000 + n:08d}"
    siren += luhn_check_digit(siren)
    nic = "0001"
    return siren + nic + luhn_check_digit(siren + nic)


async def make_org(
    pool: asyncpg.Pool,
    kind: OrganisationKind = OrganisationKind.MEMBER,
    *,
    name: str | None = None,
    status: OrganisationStatus = OrganisationStatus.ACTIVE,
    territory: str = "Marseille Nord",
    postcode: str = "13015",
) -> OrganisationPublic:
    async with pool.acquire() as c:
        return await OrganisationRepository(c).create(
            OrganisationCreate(
                kind=kind,
                name=name or f"Entreprise {next(_counter)}",
                siret=siret(),
                postcode=postcode,
                territory=territory,
                headcount=12,
            ),
            status=status,
        )


async def make_user(
    pool: asyncpg.Pool, org_id: UUID, role: Role, *, email: str | None = None, name: str = ""
) -> tuple[UUID, str]:
    """An active user and an API token. Without `email` the user gets no mail about tasks
    (tests that count mail count the processes' own)."""
    async with pool.acquire() as c:
        users = UserRepository(c)
        user_id = await users.create_user(
            org_id, role, name or f"Utilisateur {role.value}", email=email
        )
        return user_id, await users.issue_token(user_id, "test")


@dataclass(frozen=True)
class Session:
    """A signed-in browser: the session cookie's secret and its forms' CSRF token."""

    secret: str
    csrf: str
    cookie_name: str = "relais_session"  # dev mode's name (no `__Host-` over plain http)

    @property
    def cookies(self) -> dict[str, str]:
        return {self.cookie_name: self.secret}

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"{self.cookie_name}={self.secret}"}


async def session_for(
    pool: asyncpg.Pool, user_id: UUID, method: SessionMethod = SessionMethod.LINK
) -> Session:
    """A session opened by the store code a sign-in uses, for tests that are not about
    signing in (those go through the link or the password)."""
    async with pool.acquire() as c:
        _, secret, _ = await SessionRepository(c).create(
            user_id, method, "tests", timedelta(hours=8)
        )
    return Session(secret, csrf_token(secret))


def onboarding_input(
    org_id: UUID, email: str = "nadia@example.fr", **kw: object
) -> MemberOnboardingInput:
    """A member's onboarding as staff start it; `kw` sets its reminder and expiry delays."""
    return MemberOnboardingInput(
        organisation_id=org_id,
        contact_name="Nadia Benali",
        contact_email=email,
        started_by="test",
        **kw,
    )


@dataclass
class Parties:
    """A campaign's people: the network (staff), a member employer and two agencies, one
    user each."""

    network: OrganisationPublic
    employer: OrganisationPublic
    agencies: list[OrganisationPublic]
    staff: UUID
    member: UUID
    agency_users: list[UUID]


async def recruitment_parties(pool: asyncpg.Pool) -> Parties:
    network = await make_org(pool, OrganisationKind.ASSOCIATION, name="Réseau Nord")
    employer = await make_org(pool, name="Logistique des Arnavaux")
    agencies = [
        await make_org(pool, OrganisationKind.AGENCY, name=n)
        for n in ("France Travail", "Massajobs")
    ]
    staff, _ = await make_user(pool, network.id, Role.STAFF)
    member, _ = await make_user(pool, employer.id, Role.MEMBER)
    agency_users = [(await make_user(pool, a.id, Role.AGENCY))[0] for a in agencies]
    return Parties(network, employer, agencies, staff, member, agency_users)


async def launch_campaign(
    client: Client,
    task_queue: str,
    network_id: UUID,
    staff: UUID,
    spec: CampaignCreate,
    *,
    indexed: bool = True,
) -> tuple[CampaignInput, CampaignState]:
    """Start a campaign as the API does, with new ids for it and each of its positions; its
    input and its state once open."""
    input = CampaignInput(
        campaign_id=uuid.uuid4(),
        network_id=network_id,
        created_by=staff,
        spec=spec,
        position_ids=[uuid.uuid4() for _ in spec.positions],
    )
    state = await start_campaign(
        client, task_queue, input, request_id=spec.request_id, indexed=indexed
    )
    return input, state


VISIT_COLUMNS = [
    "id",
    "adviser_id",
    "adviser_organisation_id",
    "company_siret",
    "company_name",
    "postcode",
    "territory",
    "visited_on",
]
PROJECT_COLUMNS = ["id", "visit_id", "ord", "kind", "title", "status", "investment_cents"]


async def store_visits(
    conn: asyncpg.Connection, visits: list[tuple], projects: list[tuple]
) -> None:
    """Company visits and their action projects in bulk (COPY), as rows of VISIT_COLUMNS and
    PROJECT_COLUMNS: a territory's activity for KPI counts."""
    await conn.copy_records_to_table("company_visits", records=visits, columns=VISIT_COLUMNS)
    await conn.copy_records_to_table("action_projects", records=projects, columns=PROJECT_COLUMNS)
