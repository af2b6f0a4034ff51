"""Demo data for the embedded stack: a business association of northern Marseille, its member
companies, the job agencies and chambers it works with, and one user per role.

Names, SIRETs and people are fictitious; SIRETs pass the Luhn checks like real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import unicodedata
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain.auth import Role
from domain.booking import ResourceCreate, ResourceKind
from domain.convention import (
    ActionProjectCreate,
    ConventionInput,
    ConventionStep,
    KpiKey,
    PartyCreate,
    PartyRole,
    PhaseSpec,
    ProjectKind,
    SignatureAct,
    SnapshotAsk,
    VisitCreate,
    convention_workflow_id,
)
from domain.identifiers import luhn_check_digit
from domain.onboarding import MemberOnboardingInput
from domain.organisations import (
    OrganisationCreate,
    OrganisationFilter,
    OrganisationKind,
    OrganisationStatus,
)
from domain.people import LinkPurpose
from domain.pooling import (
    JoinRequest,
    PoolingRule,
    ServiceCost,
    ServiceCreate,
    ServiceUnit,
    SplitRule,
    in_next_month,
    pool_for,
)
from domain.recruitment import (
    CampaignCreate,
    CampaignInput,
    ContractType,
    PositionCreate,
    ReferralCreate,
)
from relais.settings import Settings
from store.booking import BookingRepository
from store.convention import ConventionRepository
from store.crypto import Sealer
from store.organisations import OrganisationRepository
from store.people import link_url
from store.pooling import PoolingRepository
from store.recruitment import sealed_referral
from store.sessions import SessionRepository
from store.users import UserRepository
from workflows.clients import update_with_retry
from workflows.convention import ConventionWorkflow, start_convention
from workflows.onboarding import start_onboarding
from workflows.pooling import join_pool
from workflows.recruitment import refer, start_campaign

MARKER = "demo_loaded"
PROCESSES_MARKER = "demo_processes_started"
TERRITORY = "Marseille Nord"

# (name, NAF, headcount, postcode, commune)
MEMBERS = [
    ("Logistique des Arnavaux", "52.10B", 310, "13014", "Marseille 14e"),
    ("Boulangerie du Canet", "10.71C", 9, "13014", "Marseille 14e"),
    ("Transports Phocéens Nord", "49.41A", 64, "13015", "Marseille 15e"),
    ("Garage des Aygalades", "45.20A", 7, "13015", "Marseille 15e"),
    ("Menuiserie Saint-Louis", "16.23Z", 14, "13015", "Marseille 15e"),
    ("Bocaux de Provence", "10.39A", 6, "13015", "Marseille 15e"),
    ("Datacentre de la Madrague", "63.11Z", 120, "13016", "Marseille 16e"),
    ("Seafood Méditerranée Négoce", "46.38A", 45, "13016", "Marseille 16e"),
    ("Chantier naval de l'Estaque", "30.11Z", 38, "13016", "Marseille 16e"),
    ("Tuilerie de Séon", "23.32Z", 22, "13016", "Marseille 16e"),
    ("Pressing de Saint-Antoine", "96.01B", 4, "13015", "Marseille 15e"),
    ("Imprimerie du Merlan", "18.12Z", 18, "13014", "Marseille 14e"),
    ("Traiteur Sainte-Marthe", "56.21Z", 12, "13014", "Marseille 14e"),
    ("Électricité Générale Nord", "43.21A", 27, "13013", "Marseille 13e"),
    ("Plomberie de Château-Gombert", "43.22A", 8, "13013", "Marseille 13e"),
    ("Clinique vétérinaire de la Rose", "75.00Z", 11, "13013", "Marseille 13e"),
    ("Nettoyage Industriel Septèmes", "81.22Z", 85, "13240", "Septèmes-les-Vallons"),
    ("Froid et Climatisation du Rove", "43.22B", 16, "13740", "Le Rove"),
    ("Ateliers Métalliques de Saint-Henri", "25.11Z", 33, "13016", "Marseille 16e"),
    ("Cabinet d'architecture Les Crottes", "71.11Z", 5, "13015", "Marseille 15e"),
    ("Épicerie fine du Panier Nord", "47.29Z", 3, "13015", "Marseille 15e"),
    ("Messagerie Express Capelette Nord", "53.20Z", 52, "13014", "Marseille 14e"),
    ("Recyclage des Arnavaux", "38.32Z", 41, "13014", "Marseille 14e"),
    ("Auto-école de Saint-Joseph", "85.53Z", 6, "13014", "Marseille 14e"),
    ("Pharmacie du Vallon des Tuves", "47.73Z", 10, "13015", "Marseille 15e"),
    ("Conserverie de Mourepiane", "10.20Z", 29, "13016", "Marseille 16e"),
    ("Studio numérique Euroméditerranée", "62.01Z", 19, "13015", "Marseille 15e"),
    ("Bâtiment Rénovation Saint-Barthélemy", "41.20B", 24, "13014", "Marseille 14e"),
    ("Coopérative du bâtiment Medin", "43.99C", 31, "13015", "Marseille 15e"),
    ("Hôtel des Docks Nord", "55.10Z", 23, "13016", "Marseille 16e"),
]
# Companies that have asked to join and are being onboarded when the demo starts.
PENDING = {"Pressing de Saint-Antoine", "Bocaux de Provence"}

OTHERS = [
    (
        OrganisationKind.ASSOCIATION,
        "Entreprendre au Nord de Marseille",
        "94.11Z",
        6,
        "13015",
        "Marseille 15e",
    ),
    (
        OrganisationKind.AGENCY,
        "France Travail Marseille Nord",
        "84.13Z",
        80,
        "13015",
        "Marseille 15e",
    ),
    (OrganisationKind.AGENCY, "Massajobs", "78.10Z", 12, "13001", "Marseille 1er"),
    (
        OrganisationKind.AGENCY,
        "Maison de l'emploi de Marseille",
        "84.13Z",
        40,
        "13003",
        "Marseille 3e",
    ),
    (
        OrganisationKind.CHAMBER,
        "Chambre de métiers et de l'artisanat – délégation 13",
        "94.11Z",
        150,
        "13001",
        "Marseille 1er",
    ),
    (
        OrganisationKind.CHAMBER,
        "CCI métropolitaine Aix-Marseille-Provence",
        "94.11Z",
        400,
        "13001",
        "Marseille 1er",
    ),
    (
        OrganisationKind.AUTHORITY,
        "Mairie des 15e et 16e arrondissements",
        "84.11Z",
        200,
        "13015",
        "Marseille 15e",
    ),
    (
        OrganisationKind.PROVIDER,
        "Cabinet Comptable Mutualisé du Nord",
        "69.20Z",
        9,
        "13014",
        "Marseille 14e",
    ),
    (
        OrganisationKind.PROVIDER,
        "Conciergerie d'entreprises La Grappe",
        "96.09Z",
        5,
        "13015",
        "Marseille 15e",
    ),
    (
        OrganisationKind.PROVIDER,
        "Navettes Solidaires du Littoral",
        "49.39B",
        14,
        "13016",
        "Marseille 16e",
    ),
    (
        OrganisationKind.PROVIDER,
        "Diagnostic Énergie Provence",
        "71.12B",
        7,
        "13013",
        "Marseille 13e",
    ),
]

AGENCY_NAMES = (
    "France Travail Marseille Nord",
    "Massajobs",
    "Maison de l'emploi de Marseille",
)

CMA = "Chambre de métiers et de l'artisanat – délégation 13"
# (role, organisation name, person)
USERS = [
    (Role.ADMIN, "Entreprendre au Nord de Marseille", "Alexandre Fabre"),
    (Role.STAFF, "Entreprendre au Nord de Marseille", "Sonia Meziane"),
    (Role.MANAGER, "Entreprendre au Nord de Marseille", "Claire Rinaldi"),
    (Role.MEMBER, "Logistique des Arnavaux", "Karim Haddad"),
    (Role.AGENCY, "France Travail Marseille Nord", "Julie Morel"),
    (Role.PARTNER, "CCI métropolitaine Aix-Marseille-Provence", "Thomas Girard"),
    (Role.MEMBER, "Pressing de Saint-Antoine", "Leïla Amrani"),
    (Role.PARTNER, "Cabinet Comptable Mutualisé du Nord", "Hélène Castel"),
    (Role.PARTNER, CMA, "Yannick Roux"),
    (Role.PARTNER, "Mairie des 15e et 16e arrondissements", "Nadia Benali"),
]

NETWORK = "Entreprendre au Nord de Marseille"
# (code, name, unit, min participants, min quantity, window days, fixed, per unit (cents),
#  split, acceptance days, provider)
CATALOGUE = [
    ("comptable-partage", "Comptable partagé", ServiceUnit.DAY, 12, 0, 60, 120_000, 42_000,
     SplitRule.HEADCOUNT_WEIGHTED, 7, "Cabinet Comptable Mutualisé du Nord"),
    ("conciergerie", "Conciergerie d'entreprise", ServiceUnit.MONTH, 5, 0, 45, 90_000, 15_000,
     SplitRule.EQUAL, 7, "Conciergerie d'entreprises La Grappe"),
    ("navette-salaries", "Navette des salariés (gare – zone d'activités)", ServiceUnit.SEAT, 3,
     40, 45, 200_000, 3_500, SplitRule.PRO_RATA_QUANTITY, 10, "Navettes Solidaires du Littoral"),
    ("diagnostic-energie", "Diagnostic énergétique des locaux", ServiceUnit.ITEM, 8, 0, 90,
     160_000, 45_000, SplitRule.PRO_RATA_QUANTITY, 14, "Diagnostic Énergie Provence"),
]  # fmt: skip
RESOURCES = [
    (ResourceKind.ROOM, "Salle de réunion Estaque", "Maison des entreprises, 13016"),
    (ResourceKind.ROOM, "Salle de formation Saint-Louis", "Maison des entreprises, 13015"),
    (ResourceKind.VEHICLE, "Utilitaire partagé 12 m³", "Parking des Arnavaux, 13014"),
]
# Members whose requests already wait in next month's conciergerie pool.
DEMO_POOL_MEMBERS = ("Logistique des Arnavaux", "Pressing de Saint-Antoine")


def demo_siret(n: int) -> str:
    siren = f"{81234000 + 97 * n:08d}"
    siren += luhn_check_digit(siren)
    nic = f"{n % 9000 + 10:04d}"
    return siren + nic + luhn_check_digit(siren + nic)


def _create(kind, name, naf, headcount, postcode, commune, n) -> OrganisationCreate:
    return OrganisationCreate(
        kind=kind,
        name=name,
        siret=demo_siret(n),
        naf=naf,
        headcount=headcount,
        postcode=postcode,
        commune=commune,
        territory=TERRITORY,
        # Demo addresses (example.fr): the outbox's mail lands in the dev mailbox.
        email=f"contact@{_slug(name)}.example.fr",
    )


def _slug(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "-".join(w for w in re.split(r"[^a-z0-9]+", plain) if w)[:40]


async def load_demo(pool: asyncpg.Pool, tokens_file: Path) -> dict[str, UUID] | None:
    """Load once. Returns the organisations by name, or None when already loaded."""
    rows = [(OrganisationKind.MEMBER, *m) for m in MEMBERS] + OTHERS
    tokens: list[dict[str, str]] = []
    async with pool.acquire() as c, c.transaction():
        inserted = await c.execute(
            "INSERT INTO relais_meta (key, value) VALUES ($1, 'yes') ON CONFLICT DO NOTHING",
            MARKER,
        )
        if inserted != "INSERT 0 1":
            return None
        orgs, users = OrganisationRepository(c), UserRepository(c)
        ids: dict[str, UUID] = {}
        for n, (kind, name, naf, headcount, postcode, commune) in enumerate(rows, start=1):
            status = OrganisationStatus.PENDING if name in PENDING else OrganisationStatus.ACTIVE
            org = await orgs.create(
                _create(kind, name, naf, headcount, postcode, commune, n), status=status
            )
            ids[name] = org.id
        for role, org_name, person in USERS:
            user_id = await users.create_user(ids[org_name], role, person, email=demo_email(person))
            token = await users.issue_token(
                user_id, "démo", expires_at=datetime.now(UTC) + timedelta(days=365)
            )
            tokens.append(
                {"role": role.value, "name": person, "organisation": org_name, "token": token}
            )
        services = PoolingRepository(c)
        for code, name, unit, n, q, window, fixed, per_unit, split, days, provider in CATALOGUE:
            await services.create_service(
                ids[NETWORK],
                ServiceCreate(
                    code=code,
                    name=name,
                    unit=unit,
                    pooling=PoolingRule(min_participants=n, min_quantity=q),
                    window_days=window,
                    cost=ServiceCost(fixed_cents=fixed, per_unit_cents=per_unit),
                    split_rule=split,
                    acceptance_days=days,
                    provider_id=ids[provider],
                ),
            )
        for resource_kind, name, location in RESOURCES:
            await BookingRepository(c).create_resource(
                ids[NETWORK], ResourceCreate(kind=resource_kind, name=name, location=location)
            )
        # Written before the commit: tokens are only ever printed from this file.
        await asyncio.to_thread(_write_private, tokens_file, json.dumps(tokens, indent=2))
    return ids


def _write_private(path: Path, text: str) -> None:
    # Created 0600 from the start: the tokens are never readable by others, even briefly.
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def read_tokens(path: Path) -> list[dict[str, str]]:
    return json.loads(path.read_text("utf-8")) if path.exists() else []


def demo_email(person: str) -> str:
    """A demo person's address (example.fr: what is sent lands in the dev mailbox)."""
    return f"{_slug(person).replace('-', '.')}@example.fr"


# Printed links are for the developer who just started the stack: longer than a mailed
# link's 15 minutes, still one use each.
DEMO_LINK_LIFE = timedelta(hours=12)
DEMO_USER = """
SELECT u.id, u.email FROM users u JOIN organisations o ON o.id = u.organisation_id
WHERE o.name = $1 AND u.name = $2 AND u.role = $3"""
SET_EMAIL = "UPDATE users SET email = $2 WHERE id = $1 AND email IS NULL"


async def demo_sign_in_links(pool: asyncpg.Pool, base_url: str) -> list[dict[str, str]]:
    """A fresh one-time sign-in link per demo user, for the banner (a demo loaded before
    people had addresses gets theirs now)."""
    out = []
    async with pool.acquire() as c, c.transaction():
        sessions = SessionRepository(c)
        for role, org_name, person in USERS:
            row = await c.fetchrow(DEMO_USER, org_name, person, role)
            if row is None:
                continue
            if row["email"] is None:
                await c.execute(SET_EMAIL, row["id"], demo_email(person))
            _, secret, _ = await sessions.create_link(
                row["id"], LinkPurpose.SIGN_IN, DEMO_LINK_LIFE
            )
            out.append(
                {
                    "role": role.value,
                    "name": person,
                    "organisation": org_name,
                    "link": link_url(base_url, secret),
                }
            )
    return out


DEMO_ONBOARDINGS = (
    ("Pressing de Saint-Antoine", "Leïla Amrani", "leila.amrani@example.fr"),
    ("Bocaux de Provence", "Thomas Palmieri", "thomas.palmieri@example.fr"),
)


DEMO_CANDIDATES = [
    ("Yasmine", "Belkacem", "13015", ["CACES 1", "préparation de commandes"], 4),
    ("Kevin", "Roux", "13014", ["CACES 3"], 7),
    ("Aïcha", "Diallo", "13016", ["logistique", "SAP"], 2),
    ("Lucas", "Ferrand", "13127", ["préparation de commandes"], 1),
    ("Nour", "Haddad", "13013", ["chef d'équipe", "CACES 1"], 10),
    ("Mathis", "Garnier", "84000", ["cariste"], 3),
]


async def _org_id(pool: asyncpg.Pool, name: str) -> UUID | None:
    async with pool.acquire() as c:
        page = await OrganisationRepository(c).list(OrganisationFilter(q=name, limit=1))
    return page.items[0].id if page.items else None


async def _demo_campaign(pool: asyncpg.Pool, client: Client, settings: Settings) -> None:
    """The first seed, in small: the association relays a logistics employer's offer to the
    three agencies, and France Travail has referred a few candidates."""
    sealer = Sealer(settings.data_keys)
    employer = await _org_id(pool, "Logistique des Arnavaux")
    network = await _org_id(pool, "Entreprendre au Nord de Marseille")
    agencies = [a for n in AGENCY_NAMES if (a := await _org_id(pool, n)) is not None]
    async with pool.acquire() as c:
        staff = await c.fetchval(
            "SELECT id FROM users WHERE organisation_id = $1 AND role = 'staff' LIMIT 1", network
        )
    if not (employer and network and staff and len(agencies) == len(AGENCY_NAMES)):
        return
    campaign_id = uuid.uuid5(uuid.NAMESPACE_URL, "relais-demo-campaign")
    spec = CampaignCreate(
        request_id="demo-campaign",
        employer_id=employer,
        title="Préparateurs et caristes – entrepôt des Arnavaux",
        positions=[
            PositionCreate(
                title="Préparateur de commandes",
                count=6,
                contract=ContractType.CDI,
                place_postcode="13014",
                place_commune="Marseille",
            ),
            PositionCreate(
                title="Cariste", count=2, contract=ContractType.INTERIM, place_postcode="13014"
            ),
            PositionCreate(
                title="Apprenti logisticien",
                count=1,
                contract=ContractType.APPRENTICESHIP,
                place_postcode="13014",
            ),
        ],
        territory_postcodes=["13013", "13014", "13015", "13016"],
        agency_ids=agencies,
        deadline=datetime.now(UTC) + timedelta(days=30),
        decision_sla_days=5,
    )
    await start_campaign(
        client,
        settings.task_queue,
        CampaignInput(
            campaign_id=campaign_id,
            network_id=network,
            created_by=staff,
            spec=spec,
            position_ids=[uuid.uuid5(campaign_id, str(i)) for i in range(len(spec.positions))],
        ),
        request_id="demo-campaign",
    )
    for n, (first, last, postcode, skills, years) in enumerate(DEMO_CANDIDATES):
        data = ReferralCreate(
            request_id=f"demo-{n}",
            first_name=first,
            last_name=last,
            email=f"{first}.{last}@example.fr".lower().replace("ï", "i"),
            postcode=postcode,
            skills=skills,
            experience_years=years,
        )
        await refer(
            client,
            settings.task_queue,
            sealed_referral(
                sealer, uuid.uuid5(campaign_id, data.request_id), campaign_id, agencies[0], data
            ),
        )


async def _demo_pool(pool: asyncpg.Pool, client: Client, settings: Settings) -> None:
    """Two members already wait in next month's conciergerie pool (5 needed)."""
    async with pool.acquire() as c:
        service = await PoolingRepository(c).service("conciergerie")
    if service is None:
        return
    today = datetime.now(UTC).date()
    needed_by = in_next_month(today, 10)
    for name in DEMO_POOL_MEMBERS:
        member = await _org_id(pool, name)
        async with pool.acquire() as c:
            user = await c.fetchval(
                "SELECT id FROM users WHERE organisation_id = $1 AND role = 'member'", member
            )
        if member is None or user is None:
            continue
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await join_pool(
                client,
                settings.task_queue,
                pool_for(service, needed_by),
                JoinRequest(
                    request_id=uuid.uuid5(uuid.NAMESPACE_URL, f"relais-demo-pool-{name}"),
                    idempotency_key="demo-conciergerie",
                    member_id=member,
                    quantity=1,
                    needed_by=needed_by,
                    created_by=user,
                ),
            )


# The second seed, in small: a chamber, the association and a town hall run their convention
# phase by phase; the CMA's adviser visits companies. (party, role, signatory)
CONVENTION_PARTIES = [
    (NETWORK, PartyRole.OPERATOR, "Claire Rinaldi"),
    (CMA, PartyRole.PARTNER, "Yannick Roux"),
    ("CCI métropolitaine Aix-Marseille-Provence", PartyRole.PARTNER, "Thomas Girard"),
    ("Mairie des 15e et 16e arrondissements", PartyRole.FUNDER, "Nadia Benali"),
]
# (company, days ago, themes, needs, projects: (kind, title, investment in cents or None))
DEMO_VISITS: list[tuple[str, int, list[str], str, list[tuple[ProjectKind, str, int | None]]]] = [
    ("Menuiserie Saint-Louis", 75, ["transmission", "recrutement"],
     "Dirigeant à 2 ans de la retraite ; cherche un repreneur et un apprenti.",
     [(ProjectKind.RECRUITMENT, "Recruter un apprenti menuisier", None),
      (ProjectKind.FUNDING, "Prêt d'honneur pour le repreneur", None)]),
    ("Bocaux de Provence", 40, ["investissement", "énergie"],
     "Nouvelle ligne de stérilisation ; factures d'énergie en hausse.",
     [(ProjectKind.INVESTMENT, "Autoclave et ligne de remplissage", 18_000_000),
      (ProjectKind.POOLED_SERVICE, "Diagnostic énergétique mutualisé", None)]),
    ("Garage des Aygalades", 12, ["numérique", "formation"],
     "Prise de rendez-vous en ligne ; deux mécaniciens à former à l'électrique.",
     [(ProjectKind.DIGITAL, "Site et prise de rendez-vous", None),
      (ProjectKind.TRAINING, "Habilitation véhicules électriques", None)]),
]  # fmt: skip


async def _demo_convention(pool: asyncpg.Pool, client: Client, settings: Settings) -> None:
    """Phase 4 of the convention, for last year and this one, signed by every party;
    the CMA adviser's visits are counted in its figures."""
    async with pool.acquire() as c:
        rows = await c.fetch(
            "SELECT u.id, u.name, u.organisation_id, o.name AS org FROM users u "
            "JOIN organisations o ON o.id = u.organisation_id"
        )
        users = {r["name"]: r for r in rows}
        network = await _org_id(pool, NETWORK)
        if network is None or any(name not in users for _, _, name in CONVENTION_PARTIES):
            return
        parties = await ConventionRepository(c).check_parties(
            [
                PartyCreate(
                    organisation_id=users[name]["organisation_id"],
                    role=role,
                    signatory_id=users[name]["id"],
                )
                for _, role, name in CONVENTION_PARTIES
            ]
        )
        staff = await c.fetchval(
            "SELECT id FROM users WHERE organisation_id = $1 AND role = 'staff' LIMIT 1", network
        )
    assert not isinstance(parties, str), parties
    today = datetime.now(UTC).date()
    adviser = users["Yannick Roux"]
    for n, (company, days_ago, themes, needs, projects) in enumerate(DEMO_VISITS):
        org_id = await _org_id(pool, company)
        async with pool.acquire() as c, c.transaction():
            org = await OrganisationRepository(c).get(org_id) if org_id else None
            if org is None:
                continue
            visit = VisitCreate(
                request_id=f"demo-visit-{n}",
                company_id=org.id,
                visited_on=today - timedelta(days=days_ago),
                themes=themes,
                needs=needs,
                projects=[
                    ActionProjectCreate(kind=kind, title=title, investment_cents=cents)
                    for kind, title, cents in projects
                ],
            )
            visit_id = uuid.uuid5(uuid.NAMESPACE_URL, f"relais-demo-visit-{n}")
            await ConventionRepository(c).record_visit(
                visit_id,
                adviser["id"],
                adviser["organisation_id"],
                visit,
                {"id": org.id, "siret": org.siret, "name": org.name, "postcode": org.postcode,
                 "territory": org.territory},
                [uuid.uuid5(visit_id, str(i)) for i in range(len(projects))],
            )  # fmt: skip
    convention_id = uuid.uuid5(uuid.NAMESPACE_URL, "relais-demo-convention")
    await start_convention(
        client,
        settings.task_queue,
        ConventionInput(
            convention_id=convention_id,
            network_id=network,
            created_by=staff,
            title="Cap Développement Nord",
            territory=TERRITORY,
            parties=parties,
            phase=PhaseSpec(
                number=4,
                starts_on=date(today.year - 1, 1, 1),
                ends_on=date(today.year, 12, 31),
                annual_budget_cents=16_500_000,
                targets={
                    KpiKey.COMPANIES_MET: 190,
                    KpiKey.ACTION_PROJECTS: 60,
                    KpiKey.CAMPAIGNS: 6,
                    KpiKey.RECRUITMENTS: 40,
                    KpiKey.INVESTMENT_PROJECTS: 10,
                    KpiKey.INVESTMENT_CENTS: 150_000_000,
                    KpiKey.TRAININGS: 15,
                },
                priorities=[
                    "Recrutement local et apprentissage",
                    "Transmission-reprise des entreprises artisanales",
                    "Transition énergétique des ateliers",
                ],
            ),
        ),
        request_id="demo-convention",
    )
    handle = client.get_workflow_handle_for(
        ConventionWorkflow.run, convention_workflow_id(convention_id)
    )
    for _, _, name in CONVENTION_PARTIES:
        await update_with_retry(
            handle,
            ConventionWorkflow.sign,
            SignatureAct(user_id=users[name]["id"], organisation_id=users[name]["organisation_id"]),
        )
    for _ in range(50):  # the last signature answers once signed; the phase starts next
        if (await handle.query(ConventionWorkflow.state)).step != ConventionStep.SIGNED:
            break
        await asyncio.sleep(0.1)
    with contextlib.suppress(WorkflowUpdateFailedError):  # the phase may be over already
        await update_with_retry(handle, ConventionWorkflow.refresh, SnapshotAsk(user_id=staff))


async def start_demo_processes(pool: asyncpg.Pool, client: Client, settings: Settings) -> None:
    """Processes under way when the demo opens: two companies mid-onboarding, and a
    recruitment campaign with its first referrals. Done once, after the data; a crash in
    between is mended at the next start (every start here is idempotent)."""
    async with pool.acquire() as c:
        if await c.fetchval("SELECT 1 FROM relais_meta WHERE key = $1", PROCESSES_MARKER):
            return
    for name, contact, email in DEMO_ONBOARDINGS:
        org_id = await _org_id(pool, name)
        if org_id is None:
            continue
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await start_onboarding(
                client,
                settings.task_queue,
                MemberOnboardingInput(
                    organisation_id=org_id,
                    contact_name=contact,
                    contact_email=email,
                    started_by="demo",
                ),
            )
    await _demo_campaign(pool, client, settings)
    await _demo_pool(pool, client, settings)
    await _demo_convention(pool, client, settings)
    async with pool.acquire() as c:
        await c.execute(
            "INSERT INTO relais_meta (key, value) VALUES ($1, 'yes') ON CONFLICT DO NOTHING",
            PROCESSES_MARKER,
        )
