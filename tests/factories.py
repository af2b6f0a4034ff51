"""Small builders for test data (valid SIRETs, organisations, users with tokens)."""

from __future__ import annotations

import itertools
from uuid import UUID

import asyncpg

from domain.auth import Role
from domain.identifiers import luhn_check_digit
from domain.organisations import (
    OrganisationCreate,
    OrganisationKind,
    OrganisationPublic,
    OrganisationStatus,
)
from store.organisations import OrganisationRepository
from store.users import UserRepository

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


async def make_user(pool: asyncpg.Pool, org_id: UUID, role: Role) -> tuple[UUID, str]:
    async with pool.acquire() as c:
        users = UserRepository(c)
        user_id = await users.create_user(org_id, role, f"Utilisateur {role.value}")
        return user_id, await users.issue_token(user_id, "test")


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
