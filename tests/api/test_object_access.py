"""Object-level access, route by route: one real object of each kind belonging to (or
involving) organisation A — its member company, its employment agency, its chamber, its
provider — then every route that takes an object id called on those ids by the users of
other organisations (a second member, agency, chamber, provider). Each answers exactly as
for a missing object — 404 with the same sentence, or the route's own 403 for a role it
refuses whatever the object (`test_access_matrix.ALLOWED`) — and nothing changes, in Postgres
or in the workflows' histories. A's own users read the same ids (so a 404 is not a broken
route), lists leave A's objects out, and a manager's inbox task is refused to the staff.
A new route taking an id must be declared here (the test lists the app's routes)."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

import api.pages
import api.routes
from api.app import create_app
from domain.auth import Role
from domain.organisations import OrganisationKind, OrganisationStatus
from tests.api.conftest import Actor
from tests.api.test_access_matrix import ALLOWED
from tests.api.test_convention import _create, _phase, _sign, _until, convention_body, today
from tests.api.test_inbox import complete
from tests.api.test_onboarding import _wait_step
from tests.api.test_pooling import _wait, next_month, service_body
from tests.api.test_recruitment import campaign_body, candidate
from tests.factories import make_org, make_user, session_for

Body = dict[str, Any] | Callable[["World"], dict[str, Any]] | None


@dataclass(frozen=True)
class Route:
    kind: str  # which of A's objects the path's id names
    body: Body = None  # a valid body: the id check, not the body's validation, must answer
    form: bool = False  # a dashboard page: cookie session, form body
    cookie: bool = False
    owner_reads: bool = True  # False: A's object is not yet what the page shows (no invoice)


@dataclass(frozen=True)
class Obj:
    id: str
    owner: Actor  # who in A's world reads it: its GETs answer 200
    label: str


@dataclass(frozen=True)
class Outsider:
    role: Role
    actor: Actor


@dataclass
class World:
    actors: dict[str, Actor]
    outsiders: dict[str, Outsider]
    objects: dict[str, list[Obj]] = field(default_factory=dict)
    service_code: str = ""
    workflow_ids: list[str] = field(default_factory=list)

    def add(self, kind: str, id_: Any, owner: Actor, label: str = "") -> str:
        self.objects.setdefault(kind, []).append(Obj(str(id_), owner, label or kind))
        return str(id_)


REQ = "intrus-1"  # a request id no refused call may record
DECISION = {"request_id": REQ, "hired": False, "reason": "trop loin"}

# route → the object its id names and a valid body. GETs are also read by the object's owner.
ROUTES: dict[str, Route] = {
    "GET /api/organisations/{organisation_id}": Route("organisation"),
    "PATCH /api/organisations/{organisation_id}": Route("organisation", {"headcount": 1}),
    "POST /api/organisations/{organisation_id}/change-requests": Route(
        "organisation", {"headcount": 1, "reason": "nouvel effectif"}
    ),
    "POST /api/organisation-changes/{change_id}/decision": Route("change", {"approve": True}),
    "GET /api/onboardings/{organisation_id}": Route("onboarding"),
    "POST /api/onboardings/{organisation_id}/charter": Route("onboarding", {"request_id": REQ}),
    "POST /api/onboardings/{organisation_id}/cancel": Route(
        "onboarding", {"request_id": REQ, "reason": "doublon"}
    ),
    "GET /api/processes/{workflow_id}": Route("process"),
    "GET /api/tasks/{task_id}": Route("task"),
    "POST /api/tasks/{task_id}/complete": Route("task", {"data": {"request_id": REQ}}),
    "GET /api/campaigns/{campaign_id}": Route("campaign"),
    "POST /api/campaigns/{campaign_id}/cancel": Route(
        "campaign", {"request_id": REQ, "reason": "poste supprimé"}
    ),
    "GET /api/campaigns/{campaign_id}/report": Route("campaign"),
    "GET /api/campaigns/{campaign_id}/report.csv": Route("campaign"),
    "POST /api/campaigns/{campaign_id}/referrals": Route("campaign", candidate(REQ)),
    "GET /api/campaigns/{campaign_id}/referrals": Route("campaign"),
    "GET /api/referrals/{referral_id}": Route("referral"),
    "POST /api/referrals/{referral_id}/screening": Route(
        "referral", {"request_id": REQ, "retained": False, "reason": "hors profil"}
    ),
    "POST /api/referrals/{referral_id}/interview-request": Route("referral", {"request_id": REQ}),
    "POST /api/referrals/{referral_id}/consent": Route(
        "referral", {"request_id": REQ, "given": True}
    ),
    "POST /api/referrals/{referral_id}/decision": Route("referral", DECISION),
    "POST /api/referrals/{referral_id}/withdrawal": Route(
        "referral", {"request_id": REQ, "reason": "a trouvé ailleurs"}
    ),
    "DELETE /api/referrals/{referral_id}/personal-data": Route("referral"),
    "GET /api/service-requests/{request_id}": Route("service_request"),
    "POST /api/service-requests/{request_id}/quote": Route(
        "service_request", {"accept": True, "quote_cents": 1}
    ),
    "POST /api/service-requests/{request_id}/withdraw": Route(
        "service_request", {"reason": "plus besoin"}
    ),
    "POST /api/service-requests/{request_id}/rating": Route("service_request", {"stars": 1}),
    "GET /api/pools/{pool_id}": Route("pool"),
    "POST /api/pools/{pool_id}/order": Route("pool", {"confirmed": True, "reference": "CMD-9"}),
    "POST /api/pools/{pool_id}/delivery": Route("pool", {"delivered": True}),
    "POST /api/reservations/{reservation_id}/cancel": Route("reservation", {"reason": "x"}),
    "GET /api/reservations/{reservation_id}.ics": Route("reservation"),
    "GET /api/conventions/{convention_id}": Route("convention"),
    "GET /api/conventions/{convention_id}/state": Route("convention"),
    "POST /api/conventions/{convention_id}/signature": Route("convention", {}),
    "POST /api/conventions/{convention_id}/amendments": Route(
        "convention", {"request_id": REQ, "targets": {"companies_met": 1}, "reason": "Comité"}
    ),
    "POST /api/conventions/{convention_id}/expenses": Route(
        "convention",
        lambda w: {
            "request_id": REQ,
            "amount_cents": 100,
            "label": "Salle",
            "spent_on": today().isoformat(),
        },
    ),
    "POST /api/conventions/{convention_id}/snapshots": Route("convention"),
    "GET /api/conventions/{convention_id}/snapshots": Route("convention"),
    "POST /api/conventions/{convention_id}/review": Route("convention", {"note": "bonne revue"}),
    "POST /api/conventions/{convention_id}/decision": Route(
        "convention", {"close_reason": "fin du programme"}
    ),
    "POST /api/conventions/{convention_id}/cancel": Route("convention", {"reason": "abandon"}),
    "GET /api/conventions/{convention_id}/evaluation": Route("convention"),
    "GET /api/conventions/{convention_id}/evaluation.csv": Route("convention"),
    "GET /api/visits/{visit_id}": Route("visit"),
    "PATCH /api/action-projects/{project_id}": Route("project", {"status": "done"}),
    "POST /api/action-projects/{project_id}/campaign": Route(
        "project",
        lambda w: campaign_body(
            w.actors,
            w.actors["agency"],
            request_id=REQ,
            agency_ids=[str(w.actors["agency"].organisation_id)],
        ),
    ),
    "POST /api/action-projects/{project_id}/service-requests/{code}": Route(
        "project",
        lambda w: {"request_id": REQ, "quantity": 1, "needed_by": next_month().isoformat()},
    ),
    # Pages (outside the OpenAPI schema): the dashboard's, by cookie, and the printable
    # evaluation, by token.
    "GET /processus/{workflow_id}": Route("process", cookie=True),
    "POST /mes-taches/{task_id}": Route("task", {"request_id": REQ}, form=True, cookie=True),
    "GET /mes-taches/{task_id}": Route("task", cookie=True),
    "GET /candidats/proposer/{campaign_id}": Route("invited_campaign", cookie=True),
    "GET /candidats/campagne/{campaign_id}": Route("invited_campaign", cookie=True),
    "POST /candidats/proposer/{campaign_id}": Route(
        "invited_campaign", {**candidate(REQ), "skills": "CACES 1"}, form=True, cookie=True
    ),
    "POST /candidats/{referral_id}/consentement": Route(
        "referral", {"request_id": REQ, "given": "true"}, form=True, cookie=True
    ),
    "POST /candidats/{referral_id}/retrait": Route(
        "referral", {"request_id": REQ, "reason": "a trouvé ailleurs"}, form=True, cookie=True
    ),
    "GET /selection/{campaign_id}": Route("campaign", cookie=True),
    # (both ids of these paths get the same value: a referral's id, also missing as a campaign)
    "POST /selection/{campaign_id}/{referral_id}/entretien": Route(
        "referral", {"request_id": REQ}, form=True, cookie=True
    ),
    "POST /selection/{campaign_id}/{referral_id}/pas-interesse": Route(
        "referral", {"request_id": REQ, "reason": "trop loin"}, form=True, cookie=True
    ),
    "POST /selection/{campaign_id}/{referral_id}/decision": Route(
        "referral", {**DECISION, "hired": "false"}, form=True, cookie=True
    ),
    "GET /conventions/{convention_id}/evaluation": Route("convention"),
    "GET /conventions/{convention_id}": Route("convention", cookie=True),
    "POST /conventions/{convention_id}/depenses": Route(
        "convention", {"request_id": REQ, "amount": "1", "label": "intrus"}, form=True, cookie=True
    ),
    "POST /conventions/{convention_id}/avenants": Route(
        "convention", {"request_id": REQ, "reason": "intrus"}, form=True, cookie=True
    ),
    "POST /conventions/{convention_id}/indicateurs": Route("convention", form=True, cookie=True),
    "GET /conventions/{convention_id}/evaluation.csv": Route("convention"),
    # Campaigns' pages, by cookie; the printable report and its CSV.
    "GET /campagnes/{campaign_id}": Route("campaign", cookie=True),
    # The network's page: the campaign's employer is refused it as anyone outside the network.
    "GET /campagnes/{campaign_id}/etape": Route("campaign", cookie=True, owner_reads=False),
    "POST /campagnes/{campaign_id}/annulation": Route(
        "campaign",
        {"request_id": REQ, "reason": "poste supprimé", "confirm": "oui"},
        form=True,
        cookie=True,
    ),
    "GET /campagnes/{campaign_id}/bilan": Route("campaign", cookie=True),
    "GET /campagnes/{campaign_id}/bilan.csv": Route("campaign"),
    "GET /campagnes/candidatures/{referral_id}": Route("referral", cookie=True),
    "POST /campagnes/candidatures/{referral_id}/tri": Route(
        "referral",
        {"request_id": REQ, "retained": "false", "reason": "hors profil"},
        form=True,
        cookie=True,
    ),
    "POST /campagnes/candidatures/{referral_id}/effacement": Route(
        "referral", {"confirm": "oui"}, form=True, cookie=True
    ),
    # The directory's and the visits' pages, by cookie.
    "GET /annuaire/{organisation_id}": Route("organisation", cookie=True),
    "GET /annuaire/{organisation_id}/modifier": Route("organisation", cookie=True),
    "POST /annuaire/{organisation_id}/modifier": Route(
        "organisation", {"phone": "04 91 00 00 00"}, form=True, cookie=True
    ),
    "POST /annuaire/{organisation_id}/demande": Route(
        "organisation", {"headcount": "1", "reason": "nouvel effectif"}, form=True, cookie=True
    ),
    "POST /annuaire/{organisation_id}/adhesion": Route(
        "organisation",
        {"contact_name": "Marc Durand", "contact_email": "marc@example.fr"},
        form=True,
        cookie=True,
    ),
    "POST /annuaire/{organisation_id}/demandes/{change_id}": Route(
        "change", {"approve": "true"}, form=True, cookie=True
    ),
    "GET /visites/{visit_id}": Route("visit", cookie=True),
    "POST /visites/{visit_id}/projets/{project_id}/campagne": Route(
        "project",
        {
            "title": "Cariste",
            "position": "Cariste",
            "count": "1",
            "contract": "cdi",
            "place_postcode": "13015",
            "postcodes": "13015",
            "deadline": "2099-01-01",
        },
        form=True,
        cookie=True,
    ),
    "POST /visites/{visit_id}/projets/{project_id}/etat": Route(
        "project", {"status": "done"}, form=True, cookie=True
    ),
    "POST /visites/{visit_id}/projets/{project_id}/service": Route(
        "project",
        {"code": "compta", "quantity": "1", "needed_by": "2099-01-01"},
        form=True,
        cookie=True,
    ),
    # People: one's own sessions and tokens (another's is missing), and the operators'
    # disabling of a user (refused to every other role, whatever the user).
    "POST /mon-compte/sessions/{session_id}/fin": Route("session", form=True, cookie=True),
    "POST /mon-compte/jetons/{token_id}/revocation": Route("api_token", form=True, cookie=True),
    "POST /utilisateurs/{user_id}/desactivation": Route("user", form=True, cookie=True),
    # Pooled services' pages: a member's request, quote, invoice; a pool; a provider's order.
    "GET /services/{request_id}": Route("service_request", cookie=True),
    "POST /services/{request_id}/devis": Route(
        "service_request", {"accept": "true", "quote_cents": "1"}, form=True, cookie=True
    ),
    "POST /services/{request_id}/retrait": Route(
        "service_request", {"reason": "plus besoin"}, form=True, cookie=True
    ),
    "POST /services/{request_id}/evaluation": Route(
        "service_request", {"stars": "1"}, form=True, cookie=True
    ),
    # A's request is not invoiced: its owner, too, reads « Facture introuvable ».
    "GET /factures/{request_id}": Route("service_request", cookie=True, owner_reads=False),
    # The network's view of a pool: its provider (A's owner) reads it at /commandes.
    "GET /mutualisations/{pool_id}": Route("pool", cookie=True, owner_reads=False),
    "GET /commandes/{pool_id}": Route("pool", cookie=True),
    "POST /commandes/{pool_id}/reponse": Route(
        "pool", {"confirmed": "true", "reference": "CMD-9"}, form=True, cookie=True
    ),
    "POST /commandes/{pool_id}/livraison": Route(
        "pool", {"delivered": "true"}, form=True, cookie=True
    ),
    # Bookings' pages: a reservation's .ics and its cancellation.
    "GET /reservations/{reservation_id:uuid}.ics": Route("reservation", cookie=True),
    "POST /reservations/{reservation_id:uuid}/annulation": Route(
        "reservation", {"reason": "x"}, form=True, cookie=True
    ),
}
# Pages refusing some roles outright, as ALLOWED declares it for the JSON API.
EMPLOYER_PAGES = {"admin", "staff", "manager", "member"}
PAGE_ALLOWED: dict[str, set[str]] = {
    "POST /conventions/{convention_id}/depenses": {"admin", "staff", "manager"},
    "POST /conventions/{convention_id}/avenants": {"admin", "manager"},
    "POST /conventions/{convention_id}/indicateurs": {"admin", "staff", "manager"},
    "POST /utilisateurs/{user_id}/desactivation": {"admin", "staff"},
    "GET /candidats/proposer/{campaign_id}": {"agency"},
    "GET /candidats/campagne/{campaign_id}": {"agency"},
    "GET /campagnes/{campaign_id}/etape": {"admin", "staff", "manager"},
    "POST /candidats/proposer/{campaign_id}": {"agency"},
    "POST /candidats/{referral_id}/consentement": {"agency"},
    "POST /candidats/{referral_id}/retrait": {"agency"},
    "GET /selection/{campaign_id}": EMPLOYER_PAGES,
    "POST /selection/{campaign_id}/{referral_id}/entretien": EMPLOYER_PAGES,
    "POST /selection/{campaign_id}/{referral_id}/pas-interesse": EMPLOYER_PAGES,
    "POST /selection/{campaign_id}/{referral_id}/decision": EMPLOYER_PAGES,
    "GET /reservations/{reservation_id:uuid}.ics": {"admin", "staff", "manager", "member"},
    "POST /reservations/{reservation_id:uuid}/annulation": {"admin", "staff", "member"},
    "POST /annuaire/{organisation_id}/adhesion": {"admin", "staff"},
}

# Routes taking an id that names nothing an organisation owns.
NOT_ORG_OWNED = {
    # The service catalogue is public to every signed-in user; withdrawing is the staff's.
    "GET /api/services/{code}",
    "POST /api/services/{code}/withdraw",
    # The same, from the catalogue's pages.
    "GET /catalogue/{code}/demande",
    "POST /catalogue/{code}/demande",
    "POST /catalogue/{code}/retrait",
    # Makes a request for the caller's own company (a member naming another gets 403
    # whatever it names): the code is a catalogue entry.
    "POST /api/services/{code}/requests",
    # What the caller's own company would pay (staff name one): a catalogue entry's terms.
    "GET /api/services/{code}/estimate",
    # Rooms and vehicles are the network's: everyone sees their busy slots (another member's
    # name and reason hidden, checked below) and books for its own company.
    "GET /api/resources/{resource_id}/reservations",
    "POST /api/resources/{resource_id}/reservations",
    "GET /api/resources/{resource_id}/week",
    "GET /reservations/{resource_id:uuid}",
    "POST /reservations/{resource_id:uuid}",
}
# Not listed: `GET /api/organisations/{organisation_id}` is not a public directory — the code
# shows an organisation to its own users and the network only (`Principal.may_see`), so it is
# in ROUTES like any owned object.

# The id of an object that does not exist, per kind (the answer A's ids must match).
MISSING: dict[str, Callable[[], str]] = {
    "process": lambda: f"campaign-{uuid.uuid4()}",
    "pool": lambda: "pool-inconnu-2030-01",
}

# Every table, to prove that a refused call changed nothing (one digest of its rows each).
# When a session or a token was last used is the sign-in's bookkeeping, not data a call
# changes (written at most once a minute: a long run would see it move).
# Every table but the rate limits' counters: every call counts there, A's owners' reads of
# their own reports included (what the limiter is for), and they hold no data.
TABLES = """
SELECT quote_ident(table_name) FROM information_schema.tables
WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
  AND table_name <> 'rate_limits' ORDER BY 1"""
DIGEST = """
SELECT md5(coalesce(string_agg(r, '|' ORDER BY r), ''))
FROM (SELECT (to_jsonb(t) - 'last_seen_at' - 'last_used_at')::text AS r FROM {} t) rows"""


def _expected(op: str, role: Role) -> int:
    """What a missing object answers: the route's 403 for a role it refuses, else 404."""
    allowed = ALLOWED.get(op, PAGE_ALLOWED.get(op))
    return 403 if allowed is not None and role.value not in allowed else 404


def _url(op: str, world: World, object_id: str) -> str:
    path = op.split(" ", 1)[1].replace("{code}", world.service_code)
    return re.sub(r"\{[a-z_]+(:[a-z]+)?\}", object_id, path)  # `{id:uuid}`: a page's


def _auth(route: Route, actor: Actor) -> dict[str, str]:
    assert actor.session is not None
    return actor.session.headers if route.cookie else actor.headers


async def _call(client, op: str, route: Route, world: World, object_id: str, actor: Actor):
    method = op.split(" ", 1)[0]
    body = route.body(world) if callable(route.body) else route.body
    kwargs: dict[str, Any] = {"headers": _auth(route, actor)}
    if route.form:  # a page's form carries its session's CSRF token
        assert actor.session is not None
        body = {**(body or {}), "csrf": actor.session.csrf}
    if body is not None:
        kwargs["data" if route.form else "json"] = body
    return await client.request(method, _url(op, world, object_id), **kwargs)


def _detail(r) -> str | None:
    if not r.headers.get("content-type", "").startswith("application/json"):
        return None  # a page: its status says it
    return r.json().get("detail")


async def _snapshot(db, temporal, world: World) -> tuple:
    """Postgres' rows and each workflow's history length, once two readings agree (the
    workflows' last activities done)."""
    last = None
    for _ in range(60):
        tables = [
            (name, await db.fetchval(DIGEST.format(name)))  # a name from the catalogue
            for name in [r[0] for r in await db.fetch(TABLES)]
        ]
        lengths = [
            (await temporal.get_workflow_handle(wid).describe()).history_length
            for wid in world.workflow_ids
        ]
        now = (tables, lengths)
        if now == last:
            return now
        last = now
        await asyncio.sleep(0.2)
    raise AssertionError("A's processes never settled")


async def _actor(db, kind: OrganisationKind, role: Role, name: str, **kw) -> Actor:
    org = await make_org(db, kind, name=name, **kw)
    user_id, token = await make_user(db, org.id, role)
    return Actor(user_id, org.id, token, await session_for(db, user_id))


async def _post(client, url: str, body: dict, actor: Actor, expected: int = 201) -> dict:
    r = await client.post(url, json=body, headers=actor.headers)
    assert r.status_code == expected, (url, r.text)
    return r.json()


async def _open_task(client, actor: Actor, action: str, workflow_id: str) -> dict:
    for _ in range(100):
        r = await client.get("/api/tasks", headers=actor.headers)
        found = [t for t in r.json() if t["action"] == action and t["workflow_id"] == workflow_id]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {action} task in {workflow_id}")


def _parties(*actors: Actor) -> list[dict]:
    roles = ("operator", "partner", "funder")
    return [
        {
            "organisation_id": str(a.organisation_id),
            "role": roles[min(i, 2)],
            "signatory_id": str(a.user_id),
        }
        for i, a in enumerate(actors)
    ]


@pytest.fixture
async def world(client, actors, db) -> World:
    """Organisation A's objects, one of each kind (of some kinds several), built through
    the API, with the four outsiders of organisations B."""
    staff, manager, member, agency, partner = (
        actors[r] for r in ("staff", "manager", "member", "agency", "partner")
    )
    provider = await _actor(db, OrganisationKind.PROVIDER, Role.PARTNER, "Cabinet du Port")
    newcomer = await _actor(
        db, OrganisationKind.MEMBER, Role.MEMBER, "Pressing Saint-Louis",
        status=OrganisationStatus.PENDING,
    )  # fmt: skip
    outsiders = {
        "member": Outsider(
            Role.MEMBER, await _actor(db, OrganisationKind.MEMBER, Role.MEMBER, "Garage Castel")
        ),
        "agency": Outsider(
            Role.AGENCY, await _actor(db, OrganisationKind.AGENCY, Role.AGENCY, "Emploi Sud")
        ),
        "partner (chambre)": Outsider(
            Role.PARTNER, await _actor(db, OrganisationKind.CHAMBER, Role.PARTNER, "CCI Var")
        ),
        "partner (prestataire)": Outsider(
            Role.PARTNER,
            await _actor(db, OrganisationKind.PROVIDER, Role.PARTNER, "Autre prestataire"),
        ),
    }
    w = World({**actors, "provider": provider, "newcomer": newcomer}, outsiders)
    for a, label in ((member, "membre"), (agency, "agence"), (partner, "chambre")):
        w.add("organisation", a.organisation_id, a, label)
    w.add("organisation", provider.organisation_id, provider, "prestataire")
    change = await _post(
        client,
        f"/api/organisations/{member.organisation_id}/change-requests",
        {"headcount": 14, "reason": "deux embauches"},
        member,
    )
    w.add("change", change["id"], member)

    # Recruitment: a campaign for A's company, A's agency invited; a shortlisted referral.
    body = campaign_body(actors, agency, agency_ids=[str(agency.organisation_id)])
    campaign = await _post(client, "/api/campaigns", body, staff)
    w.add("campaign", campaign["id"], member)
    w.add("invited_campaign", campaign["id"], agency)  # the agency's referral form
    referral = await _post(
        client, f"/api/campaigns/{campaign['id']}/referrals", candidate(), agency
    )
    w.add("referral", referral["referral_id"], agency)
    screening = {"request_id": "tri-1", "retained": True, "reason": "profil adapté"}
    await _post(
        client, f"/api/referrals/{referral['referral_id']}/screening", screening, staff, 200
    )

    # A pooled service of A's provider, requested by A's company and quoted at once.
    rule = {"min_participants": 1, "min_quantity": 0}
    service = await _post(
        client, "/api/services", service_body(provider.organisation_id, pooling=rule), staff
    )
    w.service_code = service["code"]
    need = {"request_id": "besoin-1", "quantity": 2, "needed_by": next_month().isoformat()}
    request = await _post(client, f"/api/services/{service['code']}/requests", need, member)
    await _wait(client, request["id"], member.headers, "quoted")
    w.add("service_request", request["id"], member)
    w.add("pool", request["pool_id"], provider)

    # A room booked by A's company.
    room = await _post(client, "/api/resources", {"kind": "room", "name": "Salle Estaque"}, staff)
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    slot = {
        "request_id": "salle-1",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
    }
    booking = await _post(client, f"/api/resources/{room['id']}/reservations", slot, member)
    w.add("reservation", booking["id"], member)

    # Conventions with A's chamber and company: one evaluated (its past phase), one awaiting
    # their signatures.
    parties = _parties(manager, partner, member)
    past = _phase(
        convention_body(actors),
        starts_on=(today() - timedelta(days=365)).isoformat(),
        ends_on=(today() - timedelta(days=1)).isoformat(),
    )
    evaluated = await _create(client, actors, request_id="bilan", parties=parties, phase=past)
    for signatory in (partner, member, manager):
        assert (await _sign(client, evaluated, signatory)).status_code == 200
    await _until(client, evaluated, partner, lambda s: s["step"] == "evaluating", "evaluated")
    w.add("convention", evaluated["id"], partner)
    pending = await _create(client, actors, request_id="a-signer", parties=parties)

    # A visit by A's chamber to A's company, with two action projects.
    visit_body = {
        "request_id": "visite-1",
        "company_id": str(member.organisation_id),
        "visited_on": today().isoformat(),
        "needs": "Deux boulangers, un comptable partagé.",
        "projects": [
            {"kind": "recruitment", "title": "Recruter deux boulangers"},
            {"kind": "pooled_service", "title": "Comptable partagé"},
        ],
    }
    visit = await _post(client, "/api/visits", visit_body, partner)
    w.add("visit", visit["id"], partner)
    for p in visit["projects"]:
        w.add("project", p["id"], partner, p["kind"])

    # The onboarding of A's newcomer, awaiting its charter.
    onboarding = {
        "organisation_id": str(newcomer.organisation_id),
        "contact_name": "Marc Durand",
        "contact_email": "marc@example.fr",
    }
    await _post(client, "/api/onboardings", onboarding, staff, 202)
    await _wait_step(client, newcomer.organisation_id, newcomer.headers, "awaiting_charter")
    w.add("onboarding", newcomer.organisation_id, newcomer)
    w.add("organisation", newcomer.organisation_id, newcomer, "adhérente en cours")

    # Their processes (each read by an organisation of A that owns it or has a task in it)
    # and every open task, read by its assignee.
    owners = {
        "campaign-": member,
        "referral-": agency,
        "pool-": member,
        "booking-": member,
        "convention-": partner,
        "onboarding-": newcomer,
    }
    expected_tasks = Counter(
        refer_candidates=1,  # A's agency
        request_interview=1,  # A's company, for the shortlisted referral
        accept_quote=1,  # A's company
        sign_convention=3,  # the pending convention's parties
        decide_convention=1,  # the network's managers
        accept_charter=1,  # A's newcomer
        launch_project=2,  # the chamber's visit's projects, handed to the network's staff
    )
    for _ in range(100):  # the last activities may still be recording them
        procs = (await client.get("/api/processes", headers=staff.headers)).json()["items"]
        open_tasks = (await client.get("/api/tasks", headers=staff.headers)).json()
        if len(procs) == 7 and Counter(t["action"] for t in open_tasks) == expected_tasks:
            break
        await asyncio.sleep(0.1)
    assert len(procs) == 7, procs
    assert Counter(t["action"] for t in open_tasks) == expected_tasks, open_tasks
    for p in procs:
        wid = p["workflow_id"]
        owner = next(a for prefix, a in owners.items() if wid.startswith(prefix))
        w.add("process", wid, owner, wid.split("-")[0])
        w.workflow_ids.append(wid)
    assert f"convention-{pending['id']}" in w.workflow_ids
    by_org = {a.organisation_id: a for a in (*w.actors.values(), manager)}
    for t in open_tasks:
        w.add("task", t["id"], by_org[uuid.UUID(t["assignee_organisation_id"])], t["action"])

    # A's people: their sessions, API tokens and accounts.
    for a in (member, agency, partner):
        for sid in await db.fetch("SELECT id FROM sessions WHERE user_id = $1", a.user_id):
            w.add("session", sid["id"], a)
        for tid in await db.fetch("SELECT id FROM api_tokens WHERE user_id = $1", a.user_id):
            w.add("api_token", tid["id"], a)
        w.add("user", a.user_id, a)
    return w


async def test_other_organisations_get_what_a_missing_object_gets(client, world, db, dev_env):
    before = await _snapshot(db, dev_env.client, world)
    wrong = []
    for op, route in ROUTES.items():
        method = op.split(" ", 1)[0]
        objects = world.objects[route.kind]
        if method == "GET" and route.owner_reads:  # A's own users read each object: the route
            # and id are right
            for obj in objects:
                r = await _call(client, op, route, world, obj.id, obj.owner)
                if r.status_code != 200:
                    wrong.append(f"{op} [{obj.label}] by its owner: {r.status_code} {r.text}")
        for who, outsider in world.outsiders.items():
            missing_id = MISSING.get(route.kind, lambda: str(uuid.uuid4()))()
            missing = await _call(client, op, route, world, missing_id, outsider.actor)
            expected = _expected(op, outsider.role)
            if missing.status_code != expected:
                wrong.append(f"{op} missing as {who}: {missing.status_code} {missing.text}")
            for obj in objects:
                r = await _call(client, op, route, world, obj.id, outsider.actor)
                if (r.status_code, _detail(r)) != (expected, _detail(missing)):
                    wrong.append(
                        f"{op} [{obj.label}] as {who}: {r.status_code} {r.text[:160]} "
                        f"(missing: {missing.status_code} {_detail(missing)})"
                    )
    assert not wrong, "\n".join(wrong)
    after = await _snapshot(db, dev_env.client, world)
    changed = [a[0] for a, b in zip(after[0], before[0], strict=True) if a != b]
    assert after == before, f"a refused call changed data: {changed}"


async def test_lists_leave_out_other_organisations_objects(client, world, actors, db):
    staff, member, agency = actors["staff"], actors["member"], actors["agency"]
    b = {k: o.actor for k, o in world.outsiders.items()}
    # B's own objects, so that its lists are not empty by construction: a campaign for B's
    # company with B's agency, a visit by B's chamber, a convention B signs, a booking.
    body = campaign_body(
        actors, b["agency"], employer_id=str(b["member"].organisation_id),
        agency_ids=[str(b["agency"].organisation_id)],
    )  # fmt: skip
    own_campaign = await _post(client, "/api/campaigns", body, staff)
    visit = {
        "request_id": "visite-b",
        "company_id": str(b["member"].organisation_id),
        "visited_on": today().isoformat(),
        "projects": [{"kind": "training", "title": "CACES"}],
    }
    own_visit = await _post(client, "/api/visits", visit, b["partner (chambre)"])
    parties = _parties(actors["manager"], b["partner (chambre)"], b["member"])
    own_convention = await _create(client, actors, request_id="conv-b", parties=parties)
    # A campaign both agencies were invited to: each sees its own referrals only.
    shared_body = campaign_body(
        actors, agency, request_id="partagee",
        agency_ids=[str(agency.organisation_id), str(b["agency"].organisation_id)],
    )  # fmt: skip
    shared = await _post(client, "/api/campaigns", shared_body, staff)
    a_referral = await _post(
        client, f"/api/campaigns/{shared['id']}/referrals", candidate(), agency
    )
    # A's objects (its organisations' ids show legitimately in the shared campaign).
    a_ids = {o.id for kind, objs in world.objects.items() if kind != "organisation" for o in objs}
    a_ids.add(a_referral["referral_id"])
    for t in await _tasks_of(client, staff):
        if t["workflow_id"].startswith(f"referral-{shared['id']}"):
            a_ids |= {t["id"], t["workflow_id"]}
    own = {
        "member": {own_campaign["id"], own_visit["id"], own_convention["id"]},
        "agency": {own_campaign["id"]},
        "partner (chambre)": {own_visit["id"], own_convention["id"]},
        "partner (prestataire)": set(),
    }

    lists = [
        "/api/campaigns",
        f"/api/campaigns/{shared['id']}/referrals",
        "/api/service-requests",
        "/api/pools",
        "/api/conventions",
        "/api/visits",
        f"/api/visits?company_id={member.organisation_id}",
        "/api/processes",
        f"/api/processes?organisation_id={member.organisation_id}",
        "/api/processes/counts",
        "/api/tasks",
        "/api/reservations",
        "/api/organisations",
    ]
    wrong = []
    for who, outsider in world.outsiders.items():
        seen = ""
        for url in lists:
            op = "GET " + url.split("?")[0].replace(shared["id"], "{campaign_id}")
            r = await client.get(url, headers=outsider.actor.headers)
            if r.status_code == 403 and _expected(op, outsider.role) == 403:
                continue  # the role is refused the whole list
            if r.status_code == 404 and "{" in op and outsider.role != Role.AGENCY:
                continue  # the shared campaign is not theirs: its referrals neither
            if r.status_code != 200:
                wrong.append(f"{url} as {who}: {r.status_code} {r.text[:160]}")
                continue
            if leaked := sorted(i for i in a_ids if i in r.text):
                wrong.append(f"{url} as {who} shows A's {leaked}")
            seen += r.text
        if missing := own[who] - {i for i in own[who] if i in seen}:
            wrong.append(f"{who} does not see its own {sorted(missing)}")
    assert not wrong, "\n".join(wrong)
    for outsider in world.outsiders.values():
        r = await client.get("/api/organisations", headers=outsider.actor.headers)
        assert [o["id"] for o in r.json()["items"]] == [str(outsider.actor.organisation_id)]

    # A's users do see theirs in the same lists (the lists are not empty for everyone).
    for actor, url, obj in (
        (member, "/api/campaigns", world.objects["campaign"][0].id),
        (member, "/api/service-requests", world.objects["service_request"][0].id),
        (world.actors["provider"], "/api/pools", world.objects["pool"][0].id),
        (actors["partner"], "/api/conventions", world.objects["convention"][0].id),
        (actors["partner"], "/api/visits", world.objects["visit"][0].id),
        (member, "/api/reservations", world.objects["reservation"][0].id),
        (agency, f"/api/campaigns/{shared['id']}/referrals", a_referral["referral_id"]),
        (
            agency,
            "/api/processes",
            next(o.id for o in world.objects["process"] if o.label == "referral"),
        ),
    ):
        assert obj in (await client.get(url, headers=actor.headers)).text, (url, obj)

    # B's agency, invited to the shared campaign, still cannot reach A's referral there.
    rid = a_referral["referral_id"]
    for url, body in (
        (f"/api/referrals/{rid}", None),
        (f"/api/referrals/{rid}/consent", {"request_id": REQ, "given": True}),
        (f"/api/referrals/{rid}/withdrawal", {"request_id": REQ, "reason": "ailleurs"}),
    ):
        method = "POST" if body else "GET"
        r = await client.request(method, url, json=body, headers=b["agency"].headers)
        assert r.status_code == 404 and r.json()["detail"] == "Candidature introuvable.", url

    # A shared room shows A's booking to B as a busy slot, without A's name or reason.
    room = (await client.get("/api/resources", headers=b["member"].headers)).json()[0]
    slots = await client.get(
        f"/api/resources/{room['id']}/reservations", headers=b["member"].headers
    )
    [slot] = slots.json()["items"]
    assert slot["id"] == world.objects["reservation"][0].id
    assert (slot["member_id"], slot["member_name"], slot["reason"]) == (None, None, None)


def _of(world: World, kind: str, label: str) -> str:
    return next(o.id for o in world.objects[kind] if o.label == label)


async def _tasks_of(client, actor: Actor) -> list[dict]:
    r = await client.get("/api/tasks", headers=actor.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_every_route_taking_an_id_is_declared(settings):
    with_ids = {
        f"{m.upper()} {p}"
        for p, ops in create_app(settings).openapi()["paths"].items()
        if "{" in p
        for m in ops
    }
    pages = {  # every route of every router, those left out of the schema included
        f"{m} {r.path}"
        for package in (api.routes, api.pages)
        for module in pkgutil.iter_modules(package.__path__)
        for router in vars(importlib.import_module(f"{package.__name__}.{module.name}")).values()
        if isinstance(router, APIRouter)
        for r in router.routes
        if isinstance(r, APIRoute) and "{" in r.path
        for m in r.methods
    }
    assert with_ids <= pages, "a route of the app is outside api/routes and api/pages"
    with_ids |= pages
    undeclared = with_ids - ROUTES.keys() - NOT_ORG_OWNED
    assert not undeclared, f"declare in ROUTES or NOT_ORG_OWNED: {sorted(undeclared)}"
    assert not (ROUTES.keys() | NOT_ORG_OWNED) - with_ids, "a declared route no longer exists"
    assert not ROUTES.keys() & NOT_ORG_OWNED


REVIEW_PHASE = {"starts_on": -150, "ends_on": 50}  # days from today: its midpoint is past
DECISION_PHASE = {"starts_on": -365, "ends_on": -1}  # over: evaluated at once


@pytest.mark.parametrize(
    ("action", "phase", "data", "step"),
    [
        ("review_convention", REVIEW_PHASE, {"note": "Bon avancement"}, "active"),
        ("decide_convention", DECISION_PHASE, {"close_reason": "Programme terminé"}, "closed"),
    ],
)
async def test_a_managers_task_is_refused_to_the_staff(
    client, actors, db, action, phase, data, step
):
    staff, manager = actors["staff"], actors["manager"]
    dates = {k: (today() + timedelta(days=d)).isoformat() for k, d in phase.items()}
    conv = await _create(
        client, actors, request_id=action, phase=_phase(convention_body(actors), **dates)
    )
    for signatory in (actors["partner"], manager):
        assert (await _sign(client, conv, signatory)).status_code == 200
    task = await _open_task(client, manager, action, f"convention-{conv['id']}")
    assert task["assignee_role"] == "manager"
    audit = await db.fetchval("SELECT count(*) FROM audit_events")

    # The staff sees the network's task in its inbox but may not do a manager's act.
    assert task["id"] in {t["id"] for t in await _tasks_of(client, staff)}
    r = await complete(client, staff, task, data)
    assert r.status_code == 403, r.text
    # In French, role names included (issue 18: the 403s named roles in English).
    assert r.json()["detail"] == (
        "Action réservée : administration, direction (votre rôle : équipe du réseau)."
    )
    r = await client.get(f"/api/tasks/{task['id']}", headers=staff.headers)
    assert r.json()["closed_at"] is None
    assert await db.fetchval("SELECT count(*) FROM audit_events") == audit

    r = await complete(client, manager, task, data)
    assert r.status_code == 200, r.text
    await _until(client, conv, manager, lambda s: s["step"] == step, step)
    for _ in range(100):
        closed = (await client.get(f"/api/tasks/{task['id']}", headers=manager.headers)).json()
        if closed["closed_at"]:
            break
        await asyncio.sleep(0.1)
    assert closed["closed_at"] is not None
