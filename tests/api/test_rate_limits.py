"""Issue 18, findings 12 and 14: what costs most (reports, exports, KPI snapshots) and what
says most about people (a referral's « doublon » answer) is rate-limited per person and per
client, and every duplicate answer is audited."""

# The fixtures of tests/api are imported (F401) to be taken as arguments by name (F811).
# ruff: noqa: F401, F811

from __future__ import annotations

import pytest

from tests.api.test_recruitment import campaign_body, candidate, other_agency


@pytest.fixture
async def api_settings(settings, dev_env):
    return settings.model_copy(
        update={
            "temporal_address": dev_env.client.service_client.config.target_host,
            "rate_referrals_per_hour": 3,
            "rate_reports_per_10min": 2,
        }
    )


async def test_referrals_per_agency_and_duplicate_answers_are_limited_and_audited(
    client,
    actors,
    other_agency,
    db,
):
    staff, agency = actors["staff"], actors["agency"]
    c = (
        await client.post(
            "/api/campaigns", json=campaign_body(actors, other_agency), headers=staff.headers
        )
    ).json()
    url = f"/api/campaigns/{c['id']}/referrals"
    first = await client.post(url, json=candidate("r-1"), headers=other_agency.headers)
    assert first.status_code == 201, first.text
    # The same person from another agency: a duplicate, credited to the first, audited.
    dup = await client.post(url, json=candidate("r-2"), headers=agency.headers)
    assert dup.status_code == 200 and dup.json()["status"] == "duplicate"
    audits = await db.fetch(
        "SELECT actor, data FROM audit_events WHERE action = 'referral.duplicate_answered'"
    )
    assert [a["actor"] for a in audits] == [str(agency.user_id)]
    assert "Inès" not in str(audits[0]["data"]) and "ines" not in str(audits[0]["data"])

    answers = [await client.post(url, json=_person(i), headers=agency.headers) for i in (3, 4, 5)]
    assert [a.status_code for a in answers] == [201, 201, 429], [a.text for a in answers]
    assert "réessayez dans" in answers[2].json()["detail"]
    assert int(answers[2].headers["Retry-After"]) > 0
    # Another agency keeps its own count.
    r = await client.post(url, json=_person(6), headers=other_agency.headers)
    assert r.status_code == 201


def _person(i: int) -> dict:
    return candidate(f"r-{i}", email=f"p{i}@example.fr", phone=None)


async def test_reports_and_exports_are_limited_per_person(client, actors, other_agency):
    staff, manager = actors["staff"], actors["manager"]
    c = (
        await client.post(
            "/api/campaigns", json=campaign_body(actors, other_agency), headers=staff.headers
        )
    ).json()
    codes = [
        (await client.get(f"/api/campaigns/{c['id']}/{path}", headers=staff.headers)).status_code
        for path in ("report", "report.csv", "report")
    ]
    assert codes == [200, 200, 429]
    r = await client.get(f"/api/campaigns/{c['id']}/report", headers=manager.headers)
    assert r.status_code == 200  # another person's own count
