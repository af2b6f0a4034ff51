"""A realistic campaign on the embedded stack: the seed's 40 hires for one employer, through
three agencies and a few hundred referrals, with personal data never stored in clear."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from relais.settings import Settings
from relais.temporal import connect
from workflows.recruitment import ERASURE_SCHEDULE_ID

pytestmark = pytest.mark.system

AGENCIES = ("France Travail Marseille Nord", "Massajobs", "Maison de l'emploi de Marseille")
PER_AGENCY = 100
SECRET_EMAIL = "camille.secret-candidate@example.fr"


async def history_sizes(port: str, ids: list[str]) -> dict[str, int]:
    client = await connect(Settings(dev_mode=True, temporal_address=f"127.0.0.1:{port}"))
    return {w: len((await client.get_workflow_handle(w).fetch_history()).events) for w in ids}


async def erasure_schedule(port: str):
    client = await connect(Settings(dev_mode=True, temporal_address=f"127.0.0.1:{port}"))
    return await client.get_schedule_handle(ERASURE_SCHEDULE_ID).describe()


def _json(r):
    assert r.status_code < 300, r.text
    return r.json()


def test_forty_hires_through_three_agencies(stack):
    stack.start()
    tokens = stack.tokens()
    staff = tokens["staff:Entreprendre au Nord de Marseille"]
    employer = tokens["member:Logistique des Arnavaux"]
    agency_tokens = {AGENCIES[0]: tokens[f"agency:{AGENCIES[0]}"]}
    orgs = _json(stack.get("/api/organisations?kind=agency", staff))["items"]
    agency_ids = {o["name"]: o["id"] for o in orgs}
    invited = stack.people(
        *((agency_ids[name], "agency", f"conseil-{i}@example.fr", f"Conseillère {i}")
          for i, name in enumerate(AGENCIES[1:]))
    )  # fmt: skip
    for i, name in enumerate(AGENCIES[1:]):
        agency_tokens[name] = invited[f"conseil-{i}@example.fr"]
    employer_id = _json(stack.get("/api/me", employer))["organisation_id"]

    positions = [
        {
            "title": f"{job} – équipe {i + 1}",
            "count": count,
            "contract": contract,
            "place_postcode": "13014",
        }
        for i, (job, count, contract) in enumerate(
            [("Préparateur de commandes", 2, "cdi")] * 8
            + [("Cariste", 1, "cdd")] * 8
            + [("Agent de quai", 2, "interim")] * 4
            + [("Chef d'équipe", 1, "cdi")] * 4
            + [("Apprenti logisticien", 1, "apprenticeship")] * 4
        )
    ]
    assert sum(p["count"] for p in positions) == 40 and len(positions) == 28
    campaign = _json(
        stack.post(
            "/api/campaigns",
            staff,
            {
                "request_id": "id-logistics-2026",
                "employer_id": employer_id,
                "title": "Recrutements entrepôt des Arnavaux",
                "positions": positions,
                "territory_postcodes": ["13013", "13014", "13015", "13016"],
                "agency_ids": [agency_ids[a] for a in AGENCIES],
                "deadline": (datetime.now(UTC) + timedelta(days=45)).isoformat(),
                "decision_sla_days": 5,
            },
        )
    )
    cid = campaign["id"]

    rng = random.Random(7)
    people = [
        (
            f"candidat{n}@example.fr",
            rng.choice(["13013", "13014", "13015", "13016", "13127", "84000"]),
        )
        for n in range(PER_AGENCY * len(AGENCIES))
    ]
    people[0] = (SECRET_EMAIL, "13015")
    jobs = []
    for a, agency in enumerate(AGENCIES):
        for k in range(PER_AGENCY):
            email, postcode = people[a * PER_AGENCY + k]
            if k % 20 == 19:  # 5 % of referrals name someone another agency referred first
                email = people[((a + 1) % 3) * PER_AGENCY + k - 1][0]
            jobs.append(
                (
                    agency,
                    {
                        "request_id": f"{a}-{k}",
                        "first_name": "Camille",
                        "last_name": f"N{k}",
                        "email": email,
                        "postcode": postcode,
                        "skills": ["CACES"],
                        "experience_years": k % 10,
                    },
                )
            )

    def refer(job):
        agency, body = job
        return agency, stack.post(f"/api/campaigns/{cid}/referrals", agency_tokens[agency], body)

    with cf.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(refer, jobs))
    assert all(r.status_code in (200, 201) for _, r in results), [
        r.text for _, r in results if r.status_code >= 300
    ][:3]
    created = [(a, r.json()) for a, r in results if r.status_code == 201]
    duplicates = [r.json() for _, r in results if r.status_code == 200]
    assert len(duplicates) >= 12 and len(created) + len(duplicates) == 300

    # Staff shortlist 60, the employer interviews 50, agencies record consent, 40 hires.
    shortlisted = created[:60]
    with cf.ThreadPoolExecutor(8) as pool:
        for r in pool.map(
            lambda ar: stack.post(
                f"/api/referrals/{ar[1]['referral_id']}/screening",
                staff,
                {
                    "request_id": f"s{ar[1]['referral_id']}",
                    "retained": True,
                    "reason": "profil adapté",
                },
            ),
            shortlisted,
        ):
            assert r.status_code == 200, r.text
        interviews = shortlisted[:50]
        for r in pool.map(
            lambda ar: stack.post(
                f"/api/referrals/{ar[1]['referral_id']}/interview-request",
                employer,
                {"request_id": f"i{ar[1]['referral_id']}"},
            ),
            interviews,
        ):
            assert r.status_code == 200, r.text
        for r in pool.map(
            lambda ar: stack.post(
                f"/api/referrals/{ar[1]['referral_id']}/consent",
                agency_tokens[ar[0]],
                {"request_id": f"c{ar[1]['referral_id']}", "given": True},
            ),
            interviews,
        ):
            assert r.status_code == 200, r.text
    # Each hire names the position it fills (the campaign has several): place after place.
    places = [p["id"] for p in campaign["positions"] for _ in range(p["count"])]
    for n, (_, ref) in enumerate(interviews):
        hired = n < 40
        r = stack.post(
            f"/api/referrals/{ref['referral_id']}/decision",
            employer,
            {
                "request_id": f"d{ref['referral_id']}",
                "hired": hired,
                "reason": "recrutée" if hired else "profil junior",
                **({"position_id": places[n]} if hired else {}),
            },
        )
        if hired:
            assert r.status_code == 200 and r.json()["step"] == "hired", r.text

    report = _json(stack.get(f"/api/campaigns/{cid}/report", staff))
    assert (report["target"], report["hired"]) == (40, 40)
    assert all(p["hired"] == p["target"] for p in report["positions"])
    assert sum(a["referrals"] for a in report["agencies"]) == len(created)
    assert sum(a["duplicates"] for a in report["agencies"]) == len(duplicates)
    assert 0 < report["local_share"] <= 1
    deadline = time.monotonic() + 60  # the last hire's signal closes the campaign
    while (final := _json(stack.get(f"/api/campaigns/{cid}", staff)))["status"] != "filled":
        assert time.monotonic() < deadline, (final, stack.tail())
        time.sleep(0.2)

    # Histories stay small, and the Temporal database never holds personal data in clear.
    sample = [f"campaign-{cid}"] + [
        f"referral-{cid}-{agency_ids[a]}-{body['request_id']}" for a, body in jobs[:5]
    ]
    sizes = asyncio.run(history_sizes(stack.env["RELAIS_DEV_TEMPORAL_PORT"], sample))
    assert all(0 < n < 10_240 for n in sizes.values()), sizes
    # The daily erasure of candidates not hired is scheduled on the embedded stack.
    schedule = asyncio.run(erasure_schedule(stack.env["RELAIS_DEV_TEMPORAL_PORT"]))
    assert schedule.schedule.spec.intervals[0].every == timedelta(days=1)
    assert stack.ctrl_c() == 0
    for f in [
        *stack.home.glob("temporal.db*"),
        stack.home.parent / "dev.log",
        stack.home / "temporal.log",
    ]:
        assert SECRET_EMAIL.encode() not in f.read_bytes(), f.name
