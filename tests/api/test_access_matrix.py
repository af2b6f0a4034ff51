"""Every route of the API against every role: which roles a route refuses outright (403),
declared here route by route from the design, and checked against the running app. A new
route must be declared (the test lists the API's OpenAPI operations). Refusals by object
(another organisation's campaign, request, convention… answered 404, like a missing one) are
in `test_object_access.py`, route by route."""

from __future__ import annotations

import uuid

ALL = {"admin", "staff", "manager", "member", "agency", "partner"}
NETWORK = {"admin", "staff", "manager"}
OPERATORS = {"admin", "staff"}  # who operates the network's processes day to day
MANAGERS = {"admin", "manager"}

# operation → the roles that may call it (all others get 403 whatever the object)
ALLOWED: dict[str, set[str]] = {
    "GET /health": ALL,
    "GET /health/live": ALL,
    "GET /health/ready": ALL,
    "GET /metrics": ALL,
    "POST /codec/decode": {"admin"},  # operators' codec endpoint (Temporal UI and CLI)
    "POST /codec/encode": {"admin"},
    "POST /api/organisations": OPERATORS,
    "GET /api/organisations": ALL,
    "GET /api/organisations/{organisation_id}": ALL,
    "PATCH /api/organisations/{organisation_id}": ALL - {"manager"},  # own org, or operators
    "POST /api/organisations/{organisation_id}/change-requests": ALL - {"manager"},
    "GET /api/organisation-changes": ALL,  # the network's all, an organisation's own
    "POST /api/organisation-changes/{change_id}/decision": OPERATORS,
    "POST /api/onboardings": OPERATORS,
    "GET /api/onboardings/{organisation_id}": ALL,
    "POST /api/onboardings/{organisation_id}/charter": OPERATORS | {"member"},
    "POST /api/onboardings/{organisation_id}/cancel": OPERATORS,
    "GET /api/processes": ALL,
    "GET /api/processes/{workflow_id}": ALL,
    "GET /api/processes/counts": ALL,
    "GET /api/tasks": ALL,
    "GET /api/tasks/{task_id}": ALL,
    "POST /api/tasks/{task_id}/complete": ALL,  # the task's assignee, by object
    "GET /api/me": ALL,
    "POST /api/campaigns": NETWORK,
    "GET /api/campaigns": ALL,
    "GET /api/campaigns/{campaign_id}": ALL,
    "POST /api/campaigns/{campaign_id}/cancel": NETWORK,
    "GET /api/campaigns/{campaign_id}/report": ALL,
    "GET /api/campaigns/{campaign_id}/report.csv": ALL,
    "POST /api/campaigns/{campaign_id}/referrals": {"agency"},
    "GET /api/campaigns/{campaign_id}/referrals": ALL,
    "GET /api/referrals/{referral_id}": ALL,
    "POST /api/referrals/{referral_id}/screening": NETWORK,
    "POST /api/referrals/{referral_id}/interview-request": NETWORK | {"member"},
    "POST /api/referrals/{referral_id}/consent": OPERATORS | {"agency"},
    "POST /api/referrals/{referral_id}/decision": NETWORK | {"member"},
    "POST /api/referrals/{referral_id}/withdrawal": OPERATORS | {"agency"},
    "DELETE /api/referrals/{referral_id}/personal-data": OPERATORS,
    "GET /api/services": ALL,
    "POST /api/services": OPERATORS,
    "GET /api/services/{code}": ALL,
    "GET /api/services/{code}/estimate": NETWORK | {"member"},  # a member's own, or named
    "POST /api/services/{code}/withdraw": OPERATORS,
    "POST /api/services/{code}/requests": OPERATORS | {"member"},
    "GET /api/service-requests": NETWORK | {"member"},
    "GET /api/service-requests/{request_id}": ALL,
    "POST /api/service-requests/{request_id}/quote": OPERATORS | {"member"},
    "POST /api/service-requests/{request_id}/withdraw": OPERATORS | {"member"},
    "POST /api/service-requests/{request_id}/rating": OPERATORS | {"member"},
    "GET /api/pools": NETWORK | {"partner"},  # a provider's partners see their own pools
    "GET /api/pools/{pool_id}": ALL,
    "POST /api/pools/{pool_id}/order": ALL,  # the pool's provider or operators, by object
    "POST /api/pools/{pool_id}/delivery": ALL,
    "GET /api/resources": ALL,
    "POST /api/resources": OPERATORS,
    "GET /api/resources/{resource_id}/reservations": ALL,
    "GET /api/resources/{resource_id}/week": ALL,
    "POST /api/resources/{resource_id}/reservations": OPERATORS | {"member"},
    "GET /api/reservations": NETWORK | {"member"},
    "POST /api/reservations/{reservation_id}/cancel": OPERATORS | {"member"},
    "GET /api/reservations/{reservation_id}.ics": NETWORK | {"member"},  # its company, by object
    "POST /api/conventions": NETWORK,
    "GET /api/conventions": ALL,  # each sees the conventions its organisation is party to
    "GET /api/conventions/{convention_id}": ALL,
    "GET /api/conventions/{convention_id}/state": ALL,
    "POST /api/conventions/{convention_id}/signature": ALL,  # its signatories, by object
    "POST /api/conventions/{convention_id}/amendments": MANAGERS,
    "POST /api/conventions/{convention_id}/expenses": NETWORK,
    "POST /api/conventions/{convention_id}/snapshots": NETWORK,
    "GET /api/conventions/{convention_id}/snapshots": ALL,
    "POST /api/conventions/{convention_id}/review": MANAGERS,
    "POST /api/conventions/{convention_id}/decision": MANAGERS,
    "POST /api/conventions/{convention_id}/cancel": MANAGERS,
    "GET /api/conventions/{convention_id}/evaluation": ALL,
    "GET /api/conventions/{convention_id}/evaluation.csv": ALL,
    "POST /api/visits": NETWORK | {"partner"},  # advisers; a partner of a chamber, by org
    "GET /api/visits": NETWORK | {"partner", "member"},
    "GET /api/visits/{visit_id}": ALL,
    "PATCH /api/action-projects/{project_id}": NETWORK | {"partner"},
    "POST /api/action-projects/{project_id}/campaign": NETWORK,
    "POST /api/action-projects/{project_id}/service-requests/{code}": NETWORK,
}
UNAUTHENTICATED = ("GET /health", "GET /health/live", "GET /health/ready", "GET /metrics")
IDS = (
    "organisation_id", "campaign_id", "referral_id", "request_id", "pool_id", "resource_id",
    "reservation_id", "convention_id", "visit_id", "project_id", "workflow_id", "change_id",
)  # fmt: skip


async def test_every_route_refuses_exactly_the_roles_the_design_excludes(client, actors):
    paths = (await client.get("/openapi.json")).json()["paths"]
    operations = [f"{m.upper()} {p}" for p, ops in paths.items() for m in ops]
    assert sorted(operations) == sorted(ALLOWED), "declare each new route in ALLOWED"
    wrong = []
    for op in operations:
        method, path = op.split(" ", 1)
        url = path.replace("{code}", "inconnu")
        for name in IDS:
            url = url.replace("{" + name + "}", str(uuid.uuid4()))
        for role, actor in actors.items():
            body = {"json": {}} if method in ("POST", "PATCH") else {}
            r = await client.request(method, url, headers=actor.headers, **body)
            assert r.status_code < 500, (op, role, r.text)
            refused = r.status_code == 403
            if refused == (role in ALLOWED[op]):
                wrong.append(f"{op} as {role}: {r.status_code}")
            if r.status_code >= 400:  # a sentence a person can read, in French
                assert r.json()["detail"], (op, role)
        anonymous = await client.request(method, url, **({"json": {}} if method != "GET" else {}))
        if op not in UNAUTHENTICATED:
            assert anonymous.status_code == 401, (op, anonymous.status_code)
    assert not wrong, "\n".join(wrong)
