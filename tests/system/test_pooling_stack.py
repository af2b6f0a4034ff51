"""Twelve small companies pool a shared accountant on the embedded stack (`relais dev`),
from their requests to invoices that sum to the provider's price."""

from __future__ import annotations

import concurrent.futures as cf
import time
from datetime import UTC, datetime

import pytest

from domain.pooling import in_next_month

pytestmark = pytest.mark.system

NETWORK = "Entreprendre au Nord de Marseille"
PROVIDER = "Cabinet Comptable Mutualisé du Nord"


def _json(r):
    assert r.status_code < 300, r.text
    return r.json()


def test_twelve_companies_pool_a_shared_accountant(stack):
    stack.start()
    tokens = stack.tokens()
    staff = tokens[f"staff:{NETWORK}"]
    manager = tokens[f"manager:{NETWORK}"]
    provider = tokens[f"partner:{PROVIDER}"]
    service = _json(stack.get("/api/services/comptable-partage", staff))
    assert service["pooling"]["min_participants"] == 12

    members = _json(stack.get("/api/organisations?kind=member&status=active&limit=12", staff))
    assert len(members["items"]) == 12
    invited = stack.people(
        *((m["id"], "member", f"compta-{i}@example.fr", f"Gérante {i}")
          for i, m in enumerate(members["items"]))
    )  # fmt: skip
    member_tokens = {
        m["id"]: invited[f"compta-{i}@example.fr"] for i, m in enumerate(members["items"])
    }
    today = datetime.now(UTC).date()
    needed_by = in_next_month(today, 2).isoformat()

    def request(org_id: str, days: int) -> dict:
        body = {"request_id": "compta-2026", "quantity": days, "needed_by": needed_by}
        url = "/api/services/comptable-partage/requests"
        first = _json(stack.post(url, member_tokens[org_id], body))
        again = _json(stack.post(url, member_tokens[org_id], body))  # a retry: same request
        assert again["id"] == first["id"]
        return first

    days = {org_id: 1 + i % 3 for i, org_id in enumerate(member_tokens)}
    with cf.ThreadPoolExecutor(6) as pool:
        requests = list(pool.map(lambda o: request(o, days[o]), member_tokens))
    assert len({r["pool_id"] for r in requests}) == 1
    pool_id = requests[0]["pool_id"]

    def wait(org_id: str, request_id: str, status: str) -> dict:
        for _ in range(300):
            r = _json(stack.get(f"/api/service-requests/{request_id}", member_tokens[org_id]))
            if r["status"] == status:
                return r
            time.sleep(0.1)
        raise AssertionError(f"{request_id} never reached {status}: {r}")

    quoted = [wait(r["member_id"], r["id"], "quoted") for r in requests]
    total = 120_000 + 42_000 * sum(days.values())
    assert sum(q["quote_cents"] for q in quoted) == total

    def accept(q: dict) -> dict:
        url = f"/api/service-requests/{q['id']}/quote"
        body = {"accept": True, "quote_cents": q["quote_cents"]}
        return _json(stack.post(url, member_tokens[q["member_id"]], body))

    with cf.ThreadPoolExecutor(6) as pool:
        list(pool.map(accept, quoted))
    for r in requests:
        wait(r["member_id"], r["id"], "committed")

    assert _json(stack.get(f"/api/pools/{pool_id}", provider))["status"] == "ordered"
    confirmed = stack.post(
        f"/api/pools/{pool_id}/order", provider, {"confirmed": True, "reference": "CCMN-2026-12"}
    )
    assert _json(confirmed)["status"] == "confirmed"
    delivered = _json(stack.post(f"/api/pools/{pool_id}/delivery", provider, {"delivered": True}))
    assert delivered["status"] == "rating"

    detail = _json(stack.get(f"/api/pools/{pool_id}", manager))
    lines = detail["invoice_lines"]
    assert len(lines) == 12 and sum(line["amount_cents"] for line in lines) == total
    assert detail["invoiced_cents"] == total == detail["total_cents"]
    # Each company sees its own invoice line and nothing of the others'.
    for r in requests:
        mine = _json(stack.get("/api/service-requests", member_tokens[r["member_id"]]))
        assert [x["id"] for x in mine["items"]] == [r["id"]]
        assert mine["items"][0]["invoiced_cents"] == next(
            line["amount_cents"] for line in lines if line["request_id"] == r["id"]
        )
    member_view = stack.get(f"/api/pools/{pool_id}", member_tokens[requests[0]["member_id"]])
    assert member_view.status_code == 404
    for r in requests:
        url = f"/api/service-requests/{r['id']}/rating"
        _json(stack.post(url, member_tokens[r["member_id"]], {"stars": 4}))
    for _ in range(100):
        if _json(stack.get(f"/api/pools/{pool_id}", manager))["status"] == "completed":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the pool never completed")
    processes = _json(stack.get("/api/processes?process=pooling", manager))["items"]
    assert any(p["workflow_id"] == pool_id and p["status"] == "completed" for p in processes)
