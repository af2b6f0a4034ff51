"""The service catalogue, pools, members' requests, orders and invoice lines."""

from __future__ import annotations

from uuid import UUID, uuid4

import asyncpg

from domain.common import Page
from domain.pooling import (
    Eligible,
    InvoiceLine,
    OrderChange,
    OrderPlacement,
    Participant,
    PoolInput,
    PoolPublic,
    PoolState,
    RecordRequest,
    RequestRecord,
    RequestStatus,
    ServiceCreate,
    ServicePublic,
    ServiceRequestPublic,
    ineligibility,
)
from store.pool import Conn
from store.sql import Where, fetch_page

INSERT_SERVICE = """
INSERT INTO services (id, network_id, code, name, description, unit, min_participants,
                      min_quantity, window_days, fixed_cents, per_unit_cents, split_rule,
                      acceptance_days, provider_id, territories, sectors, max_quantity,
                      max_participants)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"""
SERVICE_SELECT = """
SELECT s.*, o.name AS provider_name FROM services s JOIN organisations o ON o.id = s.provider_id
"""
ELIGIBLE = "SELECT kind, status, territory, naf, headcount FROM organisations WHERE id = $1"
SET_SERVICE_ACTIVE = "UPDATE services SET active = $2 WHERE code = $1"

INSERT_POOL = """
INSERT INTO pools (id, service_id, period, status, closes_at) VALUES ($1, $2, $3, 'gathering', $4)
ON CONFLICT (id) DO NOTHING"""
INSERT_REQUEST = """
INSERT INTO service_requests (id, pool_id, member_id, idempotency_key, quantity, needed_by,
                              note, status, reason, created_by, headcount, territory, naf)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (member_id, idempotency_key) DO NOTHING"""
SYNC_POOL = """
UPDATE pools SET status = $2, total_cents = $3, quote_round = $4, order_reference = $5,
                 reason = $6, compensated = $7, updated_at = now()
WHERE id = $1"""
SYNC_REQUEST = """
UPDATE service_requests SET status = $2, quote_cents = $3, accepted_cents = $4, reason = $5,
                            rating = $6, rating_comment = $7, updated_at = now()
WHERE id = $1 AND pool_id = $8
  AND (status, quote_cents, accepted_cents, reason, rating, rating_comment)
      IS DISTINCT FROM ($2, $3, $4, $5, $6, $7)"""
INSERT_ORDER = """
INSERT INTO service_orders (pool_id, provider_id, total_cents, status) VALUES ($1, $2, $3, 'placed')
ON CONFLICT (pool_id) DO NOTHING"""
# An order never goes back from cancelled or delivered (a late retry is a no-op).
SET_ORDER = """
UPDATE service_orders SET status = $2, reference = coalesce($3, reference),
                          reason = coalesce($4, reason), updated_at = now()
WHERE pool_id = $1 AND status NOT IN ('cancelled', 'delivered')"""
INSERT_INVOICE_LINE = """
INSERT INTO invoice_lines (request_id, pool_id, member_id, description, amount_cents)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING"""

REQUEST_SELECT = """
SELECT r.id, r.pool_id, s.code AS service_code, s.name AS service_name, s.unit, p.period,
       r.member_id, o.name AS member_name, r.quantity, r.headcount, r.needed_by, r.note,
       r.status,
       p.status AS pool_status, r.quote_cents, r.accepted_cents,
       i.amount_cents AS invoiced_cents, r.reason, r.rating, r.created_at, r.updated_at
FROM service_requests r
JOIN pools p ON p.id = r.pool_id
JOIN services s ON s.id = p.service_id
JOIN organisations o ON o.id = r.member_id
LEFT JOIN invoice_lines i ON i.request_id = r.id
"""
# A list of requests: `{where}` the filters given, newest first.
LIST_REQUESTS = (
    REQUEST_SELECT + "WHERE {where} ORDER BY r.created_at DESC, r.id LIMIT {limit} OFFSET {offset}"
)
COUNT_REQUESTS = """
SELECT count(*) FROM (SELECT 1 FROM service_requests r WHERE {where} LIMIT {bound}) c"""
# A pool's figures: its requests counted through the index on (pool_id) that carries their
# status and quantity (migration 0016), pool by pool, never a scan of every request.
POOL_SELECT = """
SELECT p.id, s.code AS service_code, s.name AS service_name, o.name AS provider_name, p.period,
       p.status, p.closes_at, s.min_participants, s.min_quantity, s.max_participants,
       f.participants, f.quantity, p.total_cents,
       (SELECT coalesce(sum(amount_cents), 0) FROM invoice_lines i WHERE i.pool_id = p.id)
           AS invoiced_cents,
       p.quote_round, p.order_reference, p.reason, p.compensated, p.opened_at, p.updated_at
FROM pools p
JOIN services s ON s.id = p.service_id
JOIN organisations o ON o.id = s.provider_id
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE r.status IN ('joined', 'quoted', 'accepted', 'committed',
                                                'invoiced')) AS participants,
           coalesce(sum(r.quantity) FILTER (WHERE r.status IN ('joined', 'quoted', 'accepted',
                                                'committed', 'invoiced')), 0) AS quantity
    FROM service_requests r WHERE r.pool_id = p.id) f
"""
# The requests still in a pool, as its workflow splits among them: in the order they joined,
# with the quantity and headcount they joined with.
POOL_MEMBERS = """
SELECT r.id AS request_id, r.member_id, o.name AS member_name, r.quantity,
       coalesce(r.headcount, 0) AS headcount, r.status, r.quote_cents, r.accepted_cents
FROM service_requests r JOIN organisations o ON o.id = r.member_id
WHERE r.pool_id = $1 AND r.status IN ('joined', 'quoted', 'accepted')
ORDER BY r.created_at, r.id"""
POOLS_MEMBERS = """
SELECT r.pool_id, r.id AS request_id, r.member_id, o.name AS member_name, r.quantity,
       coalesce(r.headcount, 0) AS headcount, r.status, r.quote_cents, r.accepted_cents
FROM service_requests r JOIN organisations o ON o.id = r.member_id
WHERE r.pool_id = ANY($1) AND r.status IN ('joined', 'quoted', 'accepted')
ORDER BY r.pool_id, r.created_at, r.id"""
# A list of pools: the page's ids first (`{where}` the filters given), then their figures.
POOL_PAGE = """
SELECT p.id FROM pools p JOIN services s ON s.id = p.service_id WHERE {where}
ORDER BY p.updated_at DESC, p.id LIMIT {limit} OFFSET {offset}"""
COUNT_POOLS = """
SELECT count(*) FROM (SELECT 1 FROM pools p JOIN services s ON s.id = p.service_id
                      WHERE {where} LIMIT {bound}) c"""
POOLS_BY_ID = f"{POOL_SELECT} WHERE p.id = ANY($1) ORDER BY p.updated_at DESC, p.id"


class PoolingRepository:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    # --- catalogue ------------------------------------------------------------------------

    async def create_service(self, network_id: UUID, s: ServiceCreate) -> ServicePublic:
        service_id = uuid4()
        await self.conn.execute(
            INSERT_SERVICE,
            service_id,
            network_id,
            s.code,
            s.name,
            s.description,
            s.unit,
            s.pooling.min_participants,
            s.pooling.min_quantity,
            s.window_days,
            s.cost.fixed_cents,
            s.cost.per_unit_cents,
            s.split_rule,
            s.acceptance_days,
            s.provider_id,
            s.territories,
            s.sectors,
            s.max_quantity,
            s.max_participants,
        )
        service = await self.service(s.code)
        assert service is not None
        return service

    async def service(self, code: str) -> ServicePublic | None:
        row = await self.conn.fetchrow(SERVICE_SELECT + "WHERE s.code = $1", code)
        return _service(row) if row else None

    async def services(self, active_only: bool) -> list[ServicePublic]:
        where = "WHERE s.active " if active_only else ""
        rows = await self.conn.fetch(SERVICE_SELECT + where + "ORDER BY s.name")
        return [_service(r) for r in rows]

    async def set_service_active(self, code: str, active: bool) -> None:
        await self.conn.execute(SET_SERVICE_ACTIVE, code, active)

    async def eligible(self, organisation_id: UUID) -> Eligible | None:
        row = await self.conn.fetchrow(ELIGIBLE, organisation_id)
        return Eligible.model_validate(dict(row)) if row else None

    # --- pools and requests ---------------------------------------------------------------

    async def create_pool(self, p: PoolInput) -> None:
        await self.conn.execute(INSERT_POOL, p.pool_id, p.service.id, p.period, p.closes_at)

    async def record_request(self, r: RecordRequest) -> RequestRecord:
        """Record a member's request in the pool once (its idempotency key), refused if the
        member is not eligible (any more), with the headcount, territory and NAF code it had
        then: its share is split with those, whatever the organisation's record says later."""
        p, j = r.pool, r.join
        org = await self.conn.fetchrow(
            "SELECT name, kind, status, territory, naf, headcount FROM organisations "
            "WHERE id = $1 FOR SHARE",
            j.member_id,
        )
        refusal: str | None
        if org is None:
            refusal = "organisation inconnue"
        else:
            refusal = ineligibility(p.service, Eligible.model_validate(dict(org)))
        await self.conn.execute(
            INSERT_REQUEST,
            j.request_id,
            p.pool_id,
            j.member_id,
            j.idempotency_key,
            j.quantity,
            j.needed_by,
            j.note,
            RequestStatus.REFUSED if refusal else RequestStatus.JOINED,
            refusal,
            j.created_by,
            (org["headcount"] or 0) if org else 0,
            org["territory"] if org else None,
            org["naf"] if org else None,
        )
        # The row as stored: a retry answers as the first time, whatever changed since.
        stored = await self.conn.fetchrow(
            "SELECT pool_id, status, reason, headcount FROM service_requests WHERE id = $1",
            j.request_id,
        )
        if stored is None or stored["pool_id"] != p.pool_id:
            refusal = "cette clé d'idempotence est déjà celle d'une autre demande"
        elif stored["status"] == RequestStatus.REFUSED:
            refusal = stored["reason"]
        else:
            refusal = None
        return RequestRecord(
            request_id=j.request_id,
            member_id=j.member_id,
            member_name=org["name"] if org else "",
            headcount=(stored["headcount"] if stored else None) or 0,
            refusal=refusal,
        )

    async def sync(self, s: PoolState) -> None:
        await self.conn.execute(
            SYNC_POOL,
            s.pool_id,
            s.status,
            s.total_cents,
            s.quote_round,
            s.order_reference,
            s.reason,
            s.compensated,
        )
        await self.conn.executemany(
            SYNC_REQUEST,
            [
                (
                    p.request_id,
                    p.status,
                    p.quote_cents,
                    p.accepted_cents,
                    p.reason,
                    p.rating,
                    p.rating_comment,
                    s.pool_id,
                )
                for p in s.participants
            ],
        )

    async def place_order(self, o: OrderPlacement) -> bool:
        """True when this call placed it (False: placed already, by an earlier attempt)."""
        done = await self.conn.execute(INSERT_ORDER, o.pool_id, o.provider_id, o.total_cents)
        return done.endswith(" 1")

    async def set_order(self, o: OrderChange) -> None:
        await self.conn.execute(SET_ORDER, o.pool_id, o.status, o.reference, o.reason)

    async def order_status(self, pool_id: str) -> str | None:
        return await self.conn.fetchval(
            "SELECT status FROM service_orders WHERE pool_id = $1", pool_id
        )

    async def invoice(self, lines: list[InvoiceLine]) -> None:
        await self.conn.executemany(
            INSERT_INVOICE_LINE,
            [(i.request_id, i.pool_id, i.member_id, i.description, i.amount_cents) for i in lines],
        )

    async def invoice_lines(self, pool_id: str, member_id: UUID | None = None) -> list[InvoiceLine]:
        rows = await self.conn.fetch(
            "SELECT request_id, pool_id, member_id, description, amount_cents, "
            "created_at AS issued_at FROM invoice_lines "
            "WHERE pool_id = $1 AND ($2::uuid IS NULL OR member_id = $2) ORDER BY created_at, "
            "request_id",
            pool_id,
            member_id,
        )
        return [InvoiceLine.model_validate(dict(r)) for r in rows]

    # --- reads for the API ----------------------------------------------------------------

    async def request(self, request_id: UUID) -> ServiceRequestPublic | None:
        row = await self.conn.fetchrow(REQUEST_SELECT + "WHERE r.id = $1", request_id)
        return ServiceRequestPublic.model_validate(dict(row)) if row else None

    async def requests(
        self,
        *,
        member_id: UUID | None,
        pool_id: str | None,
        status: RequestStatus | None,
        limit: int,
        offset: int,
    ) -> Page[ServiceRequestPublic]:
        w = Where()
        w.when(member_id is not None, "r.member_id = {}", member_id)
        w.when(pool_id is not None, "r.pool_id = {}", pool_id)
        w.when(status is not None, "r.status = {}", status)
        rows, total, lower = await fetch_page(
            self.conn, w, LIST_REQUESTS, COUNT_REQUESTS, limit, offset
        )
        return Page[ServiceRequestPublic](
            items=[ServiceRequestPublic.model_validate(dict(r)) for r in rows],
            total=total,
            total_is_lower_bound=lower,
            limit=limit,
            offset=offset,
        )

    async def pool_members(self, pool_id: str) -> list[Participant]:
        rows = await self.conn.fetch(POOL_MEMBERS, pool_id)
        return [Participant.model_validate(dict(r)) for r in rows]

    async def members_of_pools(self, pool_ids: list[str]) -> dict[str, list[Participant]]:
        """`pool_members` of several pools at once."""
        out: dict[str, list[Participant]] = {}
        for r in await self.conn.fetch(POOLS_MEMBERS, pool_ids):
            out.setdefault(r["pool_id"], []).append(Participant.model_validate(dict(r)))
        return out

    async def pools_by_id(self, pool_ids: list[str]) -> dict[str, PoolPublic]:
        rows = await self.conn.fetch(POOLS_BY_ID, pool_ids)
        return {r["id"]: PoolPublic.model_validate(dict(r)) for r in rows}

    async def pool(self, pool_id: str) -> PoolPublic | None:
        row = await self.conn.fetchrow(POOL_SELECT + "WHERE p.id = $1", pool_id)
        return PoolPublic.model_validate(dict(row)) if row else None

    async def pools(
        self,
        *,
        status: str | None,
        service_code: str | None,
        provider_id: UUID | None,
        limit: int,
        offset: int,
    ) -> Page[PoolPublic]:
        w = Where()
        w.when(status is not None, "p.status = {}", status)
        w.when(service_code is not None, "s.code = {}", service_code)
        w.when(provider_id is not None, "s.provider_id = {}", provider_id)
        ids, total, lower = await fetch_page(self.conn, w, POOL_PAGE, COUNT_POOLS, limit, offset)
        rows = await self.conn.fetch(POOLS_BY_ID, [r["id"] for r in ids])
        return Page[PoolPublic](
            items=[PoolPublic.model_validate(dict(r)) for r in rows],
            total=total,
            total_is_lower_bound=lower,
            limit=limit,
            offset=offset,
        )


def _service(row: asyncpg.Record) -> ServicePublic:
    r = dict(row)
    return ServicePublic.model_validate(
        {
            **r,
            "pooling": {
                "min_participants": r["min_participants"],
                "min_quantity": r["min_quantity"],
            },
            "cost": {"fixed_cents": r["fixed_cents"], "per_unit_cents": r["per_unit_cents"]},
        }
    )
