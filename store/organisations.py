"""Directory of organisations."""

from __future__ import annotations

import builtins
from uuid import UUID, uuid4

import asyncpg

from domain.common import Page
from domain.organisations import (
    ChangeRequestPublic,
    OrganisationCreate,
    OrganisationFilter,
    OrganisationPublic,
    OrganisationStatus,
    OrganisationUpdate,
)
from domain.processes import TimelineEvent
from store.pool import Conn
from store.sql import Where, count_bound, fetch_page, like_literal

COLUMNS = (
    "id, kind, name, siret, naf, headcount, postcode, commune, territory, email, phone, "
    "status, created_at, updated_at"
)
INSERT = f"""
INSERT INTO organisations (id, kind, name, siret, naf, headcount, postcode, commune, territory,
                           email, phone, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING {COLUMNS}"""
GET = f"SELECT {COLUMNS} FROM organisations WHERE id = $1"
GET_BY_SIRET = f"SELECT {COLUMNS} FROM organisations WHERE siret = $1"
# A list's filters, each given only when set (store.sql.Where). `q`: each word typed starts a
# word of the name or the commune, accents and case aside (migration 0015's GIN index); digits
# alone are also a SIRET's first digits.
SEARCH = "organisation_words(name, commune) @@ organisation_query({0})"
# The same test out of the index's reach (`|| ''` is not the indexed expression): for a word
# many organisations hold, the names are walked in order and the walk stops at the page.
SEARCH_WALKED = "(organisation_words(name, commune) || ''::tsvector) @@ organisation_query({0})"
FILTERS = {
    "kind": "kind = {}",
    "territory": "lower(territory) = lower({})",
    "status": "status = {}",
    "naf": "replace(coalesce(naf, ''), '.', '') LIKE replace({}, '.', '') || '%'",
}
LIST = f"""SELECT {COLUMNS} FROM organisations WHERE {{where}}
ORDER BY name, id LIMIT {{limit}} OFFSET {{offset}}"""
# A search's few matches found through the index, then sorted: ordered by `name || ''`, which
# no index gives, so the planner never walks the names testing each against a word that few
# or none hold (52 ms at 20,000 organisations for a word none has, 0.1 ms this way).
LIST_FOUND = f"""SELECT {COLUMNS} FROM organisations WHERE {{where}}
ORDER BY name || '', id LIMIT {{limit}} OFFSET {{offset}}"""
COUNT = "SELECT count(*) FROM (SELECT 1 FROM organisations WHERE {where} LIMIT {bound}) c"
# An organisation's history: what was done to its record (created, changed, its membership).
HISTORY = """
SELECT a.at, 'audit' AS kind, a.action,
       CASE WHEN u.id IS NOT NULL THEN u.name
            WHEN a.actor ~ '^[0-9a-f-]{36}$' THEN 'un utilisateur' ELSE a.actor END AS actor,
       NULL AS detail, a.data
FROM audit_events a
LEFT JOIN users u ON u.id = CASE WHEN a.actor ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                                 THEN a.actor::uuid END
WHERE a.entity_type IN ('organisation', 'organisations') AND a.entity_id = $1
ORDER BY a.at DESC LIMIT $2"""
# The network an organisation works with: the one of its latest convention, else the one
# network whose staff use this Relais (a territory has one); when staff of several networks
# are here and no convention says which, none: a project is never handed to another network.
NETWORK_OF = """
SELECT coalesce(
    (SELECT c.network_id FROM conventions c
     JOIN convention_parties p ON p.convention_id = c.id AND p.organisation_id = $1
     ORDER BY c.created_at DESC LIMIT 1),
    (SELECT min(u.organisation_id::text)::uuid FROM users u
     WHERE u.role = 'staff' AND u.status = 'active'
     HAVING count(DISTINCT u.organisation_id) = 1))"""
# A company visited before it joined the directory: its visits become its own (and their
# projects launchable for it).
CLAIM_VISITS = """
UPDATE company_visits SET company_id = $1 WHERE company_siret = $2 AND company_id IS NULL"""
SET_STATUS = "UPDATE organisations SET status = $2, updated_at = now() WHERE id = $1"

UPDATABLE = (
    "name",
    "naf",
    "headcount",
    "postcode",
    "commune",
    "territory",
    "email",
    "phone",
    "status",
)


class OrganisationRepository:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def create(
        self,
        data: OrganisationCreate,
        *,
        status: OrganisationStatus = OrganisationStatus.ACTIVE,
        id: UUID | None = None,
    ) -> OrganisationPublic:
        row = await self.conn.fetchrow(
            INSERT,
            id or uuid4(),
            data.kind,
            data.name,
            data.siret,
            data.naf,
            data.headcount,
            data.postcode,
            data.commune,
            data.territory,
            data.email,
            data.phone,
            status,
        )
        assert row is not None  # INSERT … RETURNING answers the row or raises
        return OrganisationPublic.model_validate(dict(row))

    async def get(self, id: UUID) -> OrganisationPublic | None:
        row = await self.conn.fetchrow(GET, id)
        return OrganisationPublic.model_validate(dict(row)) if row else None

    async def get_by_siret(self, siret: str) -> OrganisationPublic | None:
        row = await self.conn.fetchrow(GET_BY_SIRET, siret)
        return OrganisationPublic.model_validate(dict(row)) if row else None

    async def list(
        self, f: OrganisationFilter, *, only_id: UUID | None = None
    ) -> Page[OrganisationPublic]:
        def where(search: str) -> Where:
            w = Where()
            digits = f.q.replace(" ", "") if f.q else ""
            if digits.isdigit():
                w.add(f"({search} OR siret LIKE {{1}} || '%')", f.q, like_literal(digits))
            elif f.q:
                w.add(search, f.q)
            for name, fragment in FILTERS.items():
                w.when(getattr(f, name) is not None, fragment, getattr(f, name))
            return w.when(only_id is not None, "id = {}", only_id)

        if not f.q:
            rows, total, lower = await fetch_page(
                self.conn, where(""), LIST, COUNT, f.limit, f.offset
            )
        else:
            # Counted first, through the index: few matches are sorted, many are met walking
            # the names in order.
            w, bound = where(SEARCH), count_bound(f.limit, f.offset)
            counted = Where(*w.args)
            total = await self.conn.fetchval(
                COUNT.format(where=w.sql, bound=counted.param(bound + 1)), *counted.args
            )
            total, lower = min(total, bound), total > bound
            if lower:
                w = where(SEARCH_WALKED)
            page = Where(*w.args)
            sql = (LIST if lower else LIST_FOUND).format(
                where=w.sql, limit=page.param(f.limit), offset=page.param(f.offset)
            )
            rows = await self.conn.fetch(sql, *page.args)
        return Page[OrganisationPublic](
            items=[OrganisationPublic.model_validate(dict(r)) for r in rows],
            total=total,
            total_is_lower_bound=lower,
            limit=f.limit,
            offset=f.offset,
        )

    async def update(self, id: UUID, data: OrganisationUpdate) -> OrganisationPublic | None:
        changes = data.model_dump(exclude_unset=True)
        if not changes:
            return await self.get(id)
        # Column names come from the fixed UPDATABLE tuple, never from input.
        cols = [c for c in UPDATABLE if c in changes]
        sets = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(cols))
        sql = (
            f"UPDATE organisations SET {sets}, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
        )
        row = await self.conn.fetchrow(sql, id, *(changes[c] for c in cols))
        return OrganisationPublic.model_validate(dict(row)) if row else None

    async def history(self, id: UUID, limit: int = 50) -> builtins.list[TimelineEvent]:
        rows = await self.conn.fetch(HISTORY, str(id), limit)
        return [TimelineEvent.model_validate(dict(r)) for r in rows]

    async def claim_visits(self, id: UUID, siret: str) -> None:
        await self.conn.execute(CLAIM_VISITS, id, siret)

    async def network_of(self, id: UUID) -> UUID | None:
        found: UUID | None = await self.conn.fetchval(NETWORK_OF, id)
        return found

    async def set_status(self, id: UUID, status: OrganisationStatus) -> None:
        await self.conn.execute(SET_STATUS, id, status)


CHANGE_COLUMNS = """
c.id, c.organisation_id, o.name AS organisation_name, c.changes, c.reason, c.status,
c.proposed_by, u.name AS proposed_by_name, c.decided_by, c.decision_note, c.created_at,
c.decided_at"""
CHANGE_FROM = """
FROM organisation_changes c JOIN organisations o ON o.id = c.organisation_id
JOIN users u ON u.id = c.proposed_by"""
INSERT_CHANGE = """
INSERT INTO organisation_changes (id, organisation_id, changes, reason, proposed_by)
VALUES ($1, $2, $3, $4, $5)"""
GET_CHANGE = f"SELECT {CHANGE_COLUMNS} {CHANGE_FROM} WHERE c.id = $1"
# $1: one organisation's (None: every one), $2: pending only.
LIST_CHANGES = f"""
SELECT {CHANGE_COLUMNS} {CHANGE_FROM}
WHERE ($1::uuid IS NULL OR c.organisation_id = $1) AND (NOT $2::bool OR c.status = 'pending')
ORDER BY c.created_at DESC, c.id LIMIT $3"""
DECIDE_CHANGE = """
UPDATE organisation_changes SET status = $2, decided_by = $3, decision_note = $4,
       decided_at = now()
WHERE id = $1 AND status = 'pending'"""


def _change(row: asyncpg.Record) -> ChangeRequestPublic:
    return ChangeRequestPublic.model_validate(dict(row))


class ChangeRepository:
    """Organisations' proposals to change what only the network's staff change."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def propose(
        self, organisation_id: UUID, changes: dict[str, object], reason: str, by: UUID
    ) -> ChangeRequestPublic:
        change_id = uuid4()
        await self.conn.execute(
            INSERT_CHANGE,
            change_id,
            organisation_id,
            changes,
            reason,
            by,  # jsonb codec
        )
        found = await self.get(change_id)
        if found is None:
            raise RuntimeError("a change request just inserted is gone")
        return found

    async def get(self, change_id: UUID) -> ChangeRequestPublic | None:
        row = await self.conn.fetchrow(GET_CHANGE, change_id)
        return _change(row) if row else None

    async def list(
        self, organisation_id: UUID | None, *, pending_only: bool, limit: int = 100
    ) -> builtins.list[ChangeRequestPublic]:
        rows = await self.conn.fetch(LIST_CHANGES, organisation_id, pending_only, limit)
        return [_change(r) for r in rows]

    async def decide(self, change_id: UUID, status: str, by: UUID, note: str | None) -> bool:
        """Settle a pending proposal; False if it was settled already (a concurrent decision)."""
        return await self.conn.execute(DECIDE_CHANGE, change_id, status, by, note) == "UPDATE 1"
