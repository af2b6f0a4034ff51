"""Campaigns, positions, invited agencies and referrals."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict

from domain.common import Page
from domain.recruitment import (
    CLOSED_REFERRAL,
    OPEN_REFERRAL,
    TERMINAL_CAMPAIGN,
    AgencyCount,
    CampaignInput,
    CampaignPublic,
    CampaignReport,
    CampaignStatus,
    CandidateIdentity,
    HireCounts,
    PositionPublic,
    ReferralCreate,
    ReferralInput,
    ReferralPublic,
    ReferralRegistered,
    ReferralStep,
    build_report,
    campaign_workflow_id,
    normalise_email,
)
from store.crypto import Sealer
from store.pool import Conn
from store.sql import Where, fetch_page, like_literal

INSERT_CAMPAIGN = """
INSERT INTO campaigns (id, workflow_id, employer_id, network_id, created_by, title, status,
                       deadline, decision_sla_days, grace_days, territory_postcodes)
VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9, $10)
ON CONFLICT (id) DO NOTHING"""
INSERT_POSITION = """
INSERT INTO campaign_positions (id, campaign_id, ord, title, count, contract, place_postcode,
                                place_commune)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO NOTHING"""
INSERT_AGENCY = """
INSERT INTO campaign_agencies (campaign_id, agency_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"""
MARK_RELAYED = """
UPDATE campaign_agencies SET relayed_at = coalesce(relayed_at, now())
WHERE campaign_id = $1 AND agency_id = $2"""
# $5: the terminal statuses (domain.recruitment.TERMINAL_CAMPAIGN).
SET_STATUS = """
UPDATE campaigns SET status = $2,
       closed_at = CASE WHEN $2 = ANY($5::text[]) THEN coalesce(closed_at, $3) ELSE closed_at END,
       cancel_reason = coalesce($4, cancel_reason)
WHERE id = $1 AND status <> ALL($5::text[])  -- a late retry: no-op
"""
CAMPAIGN_SELECT = """
SELECT c.id, c.workflow_id, c.employer_id, o.name AS employer_name, c.network_id, c.title,
       c.status, c.deadline, c.decision_sla_days, c.grace_days, c.territory_postcodes,
       c.created_at, c.closed_at,
       (SELECT coalesce(array_agg(agency_id ORDER BY agency_id), '{}')
          FROM campaign_agencies a WHERE a.campaign_id = c.id) AS agency_ids,
       (SELECT coalesce(json_agg(json_build_object(
                 'id', p.id, 'title', p.title, 'count', p.count, 'filled', p.filled,
                 'contract', p.contract, 'place_postcode', p.place_postcode,
                 'place_commune', p.place_commune) ORDER BY p.ord), '[]')
          FROM campaign_positions p WHERE p.campaign_id = c.id) AS positions
FROM campaigns c JOIN organisations o ON o.id = c.employer_id"""
GET_CAMPAIGN = f"{CAMPAIGN_SELECT} WHERE c.id = $1"
CAMPAIGNS_BY_ID = f"{CAMPAIGN_SELECT} WHERE c.id = ANY($1) ORDER BY c.created_at DESC, c.id"
# Campaigns, newest first; `{where}` the filters given.
CAMPAIGN_AGENCY = """EXISTS (SELECT 1 FROM campaign_agencies a
                           WHERE a.campaign_id = c.id AND a.agency_id = {})"""
LIST_CAMPAIGNS = """
SELECT c.id FROM campaigns c WHERE {where}
ORDER BY c.created_at DESC, c.id LIMIT {limit} OFFSET {offset}"""
COUNT_CAMPAIGNS = """
SELECT count(*) FROM (SELECT 1 FROM campaigns c WHERE {where} LIMIT {bound}) n"""
INTAKE_CHECK = """
SELECT c.status, c.deadline, c.network_id, c.employer_id, c.decision_sla_days,
       EXISTS (SELECT 1 FROM campaign_agencies a WHERE a.campaign_id = c.id AND a.agency_id = $2)
         AS invited,
       ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM campaign_positions p
                                    WHERE p.campaign_id = c.id AND p.id = $3)) AS position_ok
FROM campaigns c WHERE c.id = $1
FOR SHARE OF c"""

LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
REFERRAL_BY_WORKFLOW = """
SELECT r.id, r.status, r.pseudonym, d.agency_id AS dup_agency, o.name AS dup_agency_name
FROM referrals r
LEFT JOIN referrals d ON d.id = r.duplicate_of
LEFT JOIN organisations o ON o.id = d.agency_id
WHERE r.workflow_id = $1"""
# Who may see a referral: its agency, its campaign's employer (once shortlisted), the network.
REFERRAL_ACCESS = """
SELECT r.id, r.workflow_id, r.campaign_id, r.agency_id, c.employer_id, r.shortlisted_at,
       r.consent_at
FROM referrals r JOIN campaigns c ON c.id = r.campaign_id WHERE r.id = $1"""
# Any earlier referral sharing the email or the phone leads to the person's original, even
# through a duplicate (A: email1+phone1, B: email2+phone1, C: email2 → all one person).
# Each key is looked up apart (an index each, referrals_email and referrals_phone).
ORIGINAL_FOR = """
SELECT orig.id, o.name AS agency_name
FROM (SELECT duplicate_of, id FROM referrals
      WHERE campaign_id = $1 AND email_key = ANY($2::bytea[])
      UNION ALL
      SELECT duplicate_of, id FROM referrals
      WHERE campaign_id = $1 AND phone_key = ANY($3::bytea[])) r
JOIN referrals orig ON orig.id = coalesce(r.duplicate_of, r.id)
JOIN organisations o ON o.id = orig.agency_id
ORDER BY orig.created_at LIMIT 1"""
INSERT_REFERRAL = """
INSERT INTO referrals (id, campaign_id, agency_id, workflow_id, position_id, pseudonym,
                       email_key, phone_key, duplicate_of, status, postcode, commune, skills,
                       experience_years, identity_enc, cv_enc)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"""
SET_REFERRAL = """
UPDATE referrals SET status = $2,
       shortlisted_at = CASE WHEN $2 = 'shortlisted' THEN coalesce(shortlisted_at, $3)
                             ELSE shortlisted_at END,
       consent_at = CASE WHEN $2 = 'interview' THEN coalesce(consent_at, $3) ELSE consent_at END,
       decided_at = CASE WHEN $2 IN ('hired', 'rejected') THEN coalesce(decided_at, $3)
                         ELSE decided_at END,
       reason = coalesce($4, reason),
       updated_at = now()
WHERE id = $1
  AND status <> ALL($5::text[])  -- a late retry never reopens a closed referral
"""
FILL_POSITION = """
UPDATE campaign_positions SET filled = filled + 1
WHERE id = $1 AND campaign_id = $2 AND filled < count"""
MARK_HIRED = """
UPDATE referrals SET status = 'hired', hired_position_id = $2, decided_at = $3, reason = $4,
       updated_at = now()
WHERE id = $1 AND status <> 'hired'"""
FIRST_OPEN_POSITION = """
SELECT id FROM campaign_positions WHERE campaign_id = $1 AND filled < count ORDER BY ord LIMIT 1"""
REFERRAL_COLUMNS = """
r.id, r.campaign_id, r.agency_id, o.name AS agency_name, r.pseudonym, r.status, r.position_id,
r.postcode, r.commune, r.skills, r.experience_years, (r.duplicate_of IS NOT NULL) AS duplicate,
r.created_at, r.consent_at, r.reason, r.identity_enc, r.cv_enc, r.shortlisted_at, r.updated_at"""
# A campaign's ($1) referrals, first referred first; `{where}` the filters given.
LIST_REFERRALS = f"""
SELECT {REFERRAL_COLUMNS}
FROM referrals r JOIN organisations o ON o.id = r.agency_id
WHERE r.campaign_id = $1 AND {{where}}
ORDER BY r.created_at, r.id LIMIT {{limit}} OFFSET {{offset}}"""
# The same filters over the counters the referrals' triggers keep (migration 0014): an exact
# total whatever the campaign's size.
COUNT_REFERRALS = """
SELECT coalesce(sum(n), 0)::bigint FROM referral_counts r WHERE r.campaign_id = $1 AND {where}"""
GET_REFERRAL = f"""
SELECT {REFERRAL_COLUMNS}, r.workflow_id
FROM referrals r JOIN organisations o ON o.id = r.agency_id WHERE r.id = $1"""
OPEN_REFERRAL_WORKFLOWS = """
SELECT workflow_id FROM referrals
WHERE campaign_id = $1 AND status = ANY($2) AND workflow_id > $3
ORDER BY workflow_id LIMIT $4"""
COUNT_IN_INTERVIEW = """
SELECT count(*) FROM referrals WHERE campaign_id = $1 AND status = ANY($2)"""
# A campaign's ($1) referrals counted by agency, step and duplicate (the campaign page's
# board and per-agency figures), from the counters the referrals' triggers keep (migration
# 0014): a few dozen rows, whatever the campaign's size.
STAGE_COUNTS = """
SELECT agency_id, status, duplicate, sum(n)::bigint AS n
FROM referral_counts WHERE campaign_id = $1 GROUP BY 1, 2, 3 HAVING sum(n) <> 0"""
# A campaign's ($1) report, counted where its referrals are: its hires in one aggregate (by
# position and in all, those living in the campaign's postcodes $2, the median days to hire;
# read from the covering index referrals_hired), each agency's counts and the employer's
# reasons for a rejection from the counters (the network's screening notes stay out).
REPORT_HIRES = """
SELECT GROUPING(hired_position_id) = 1 AS total, hired_position_id, count(*) AS hired,
       count(*) FILTER (WHERE postcode LIKE ANY ($2)) AS local,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM decided_at - created_at))
           FILTER (WHERE decided_at IS NOT NULL) / 86400 AS median_days
FROM referrals WHERE campaign_id = $1 AND status = 'hired'
GROUP BY ROLLUP (hired_position_id)"""
REPORT_AGENCIES = """
SELECT agency_id,
       coalesce(sum(n) FILTER (WHERE NOT duplicate), 0)::bigint AS referrals,
       coalesce(sum(n) FILTER (WHERE duplicate), 0)::bigint AS duplicates,
       coalesce(sum(n) FILTER (WHERE NOT duplicate AND shortlisted), 0)::bigint AS shortlisted,
       coalesce(sum(n) FILTER (WHERE NOT duplicate AND status = 'hired'), 0)::bigint AS hired
FROM referral_counts WHERE campaign_id = $1 GROUP BY agency_id"""
REPORT_REASONS = """
SELECT reason, n FROM referral_reasons WHERE campaign_id = $1 AND n > 0
ORDER BY n DESC, reason"""
AGENCY_NAMES = """
SELECT o.id, o.name FROM campaign_agencies a JOIN organisations o ON o.id = a.agency_id
WHERE a.campaign_id = $1"""
# One person on request: this referral and every other one of the same person in the
# campaign (same email or phone hash).
ERASE_ONE = """
UPDATE referrals r SET identity_enc = NULL, cv_enc = NULL, erased_at = coalesce(r.erased_at, now())
FROM referrals me
WHERE me.id = $1 AND r.campaign_id = me.campaign_id AND r.identity_enc IS NOT NULL
  AND (r.id = me.id OR r.email_key = me.email_key
       OR (me.phone_key IS NOT NULL AND r.phone_key = me.phone_key))"""
ERASE_EXPIRED = """
UPDATE referrals r SET identity_enc = NULL, cv_enc = NULL, erased_at = now()
FROM campaigns c
WHERE c.id = r.campaign_id AND c.closed_at IS NOT NULL AND c.closed_at < $1
  AND r.status <> 'hired' AND r.identity_enc IS NOT NULL"""
# Key rotation: stored personal data, page by page (keyset on id), and its re-sealing — only
# if the row still holds what was read (an erasure meanwhile wins; nothing comes back).
SEALED_PAGE = """
SELECT id, campaign_id, identity_enc, cv_enc FROM referrals
WHERE id > $1 AND identity_enc IS NOT NULL ORDER BY id LIMIT $2"""
RESEAL = """
UPDATE referrals SET identity_enc = $2, cv_enc = $3
WHERE id = $1 AND identity_enc = $4 AND cv_enc IS NOT DISTINCT FROM $5"""
REHASH = "UPDATE referrals SET email_key = $2, phone_key = $3 WHERE id = $1"


@dataclass
class ResealPage:
    """What one page of `RecruitmentRepository.reseal_page` did."""

    last: UUID | None
    read: int
    resealed: int = 0
    unreadable: list[UUID] = field(default_factory=list)
    rehash_conflicts: list[UUID] = field(default_factory=list)


class IntakeCheck(BaseModel):
    """What a referral's intake looks at in its campaign (read FOR SHARE)."""

    model_config = ConfigDict(frozen=True)

    status: CampaignStatus
    deadline: datetime
    network_id: UUID
    employer_id: UUID
    decision_sla_days: int
    invited: bool
    position_ok: bool


class ExistingRegistration(BaseModel):
    """A referral already recorded for a workflow, with the agency it duplicates, if any."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    status: ReferralStep
    pseudonym: str
    dup_agency: UUID | None
    dup_agency_name: str | None


class OriginalReferral(BaseModel):
    """The first referral of a person in a campaign, and the agency credited with it."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    agency_name: str


# Whether a reader may see a candidate's identity, from the referral as it may see it.
Reveal = Callable[[ReferralPublic], bool]


def sealed_referral(
    sealer: Sealer, referral_id: UUID, campaign_id: UUID, agency_id: UUID, data: ReferralCreate
) -> ReferralInput:
    """What the referral workflow receives: personal data sealed for this row, email and
    phone as keyed hashes (normalised, per campaign) for the duplicate check."""
    email = normalise_email(data.email)
    email_keys = sealer.keyed_hashes(_email_text(campaign_id, email))
    phone_keys = sealer.keyed_hashes(_phone_text(campaign_id, data.phone)) if data.phone else []
    identity = json.dumps(
        {
            "first_name": data.first_name,
            "last_name": data.last_name,
            "email": email,
            "phone": data.phone,
        }
    )
    return ReferralInput(
        referral_id=referral_id,
        campaign_id=campaign_id,
        agency_id=agency_id,
        request_id=data.request_id,
        position_id=data.position_id,
        postcode=data.postcode,
        commune=data.commune,
        skills=data.skills,
        experience_years=data.experience_years,
        email_key=email_keys[0],
        phone_key=phone_keys[0] if phone_keys else None,
        older_email_keys=email_keys[1:],
        older_phone_keys=phone_keys[1:],
        identity_sealed=sealer.seal(identity, _identity_aad(referral_id)),
        cv_sealed=sealer.seal(data.cv_text, _cv_aad(referral_id)) if data.cv_text else None,
    )


def _email_text(campaign_id: UUID, email: str) -> str:
    return f"{campaign_id}|email|{email}"


def _phone_text(campaign_id: UUID, phone: str) -> str:
    return f"{campaign_id}|phone|{phone}"


def _identity_aad(referral_id: UUID) -> str:
    return f"referral:{referral_id}:identity"


def _cv_aad(referral_id: UUID) -> str:
    return f"referral:{referral_id}:cv"


class ReferralAccess(BaseModel):
    """What decides who sees a referral, and which workflow runs it."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    workflow_id: str
    campaign_id: UUID
    agency_id: UUID
    employer_id: UUID
    shortlisted_at: datetime | None
    consent_at: datetime | None


def _campaign(row: asyncpg.Record) -> CampaignPublic:
    data = dict(row)
    positions = data.pop("positions")
    positions = json.loads(positions) if isinstance(positions, str) else positions
    data["positions"] = [PositionPublic.model_validate(p) for p in positions]
    return CampaignPublic.model_validate(data)


class RecruitmentRepository:
    def __init__(self, conn: Conn, sealer: Sealer | None = None) -> None:
        self.conn = conn
        self.sealer = sealer

    # campaigns

    async def create_campaign(self, i: CampaignInput) -> None:
        s = i.spec
        await self.conn.execute(
            INSERT_CAMPAIGN,
            i.campaign_id,
            campaign_workflow_id(i.campaign_id),
            s.employer_id,
            i.network_id,
            i.created_by,
            s.title,
            s.deadline,
            s.decision_sla_days,
            s.grace_days,
            s.territory_postcodes,
        )
        for ord_, (pid, p) in enumerate(zip(i.position_ids, s.positions, strict=True)):
            await self.conn.execute(
                INSERT_POSITION,
                pid,
                i.campaign_id,
                ord_,
                p.title,
                p.count,
                p.contract,
                p.place_postcode,
                p.place_commune,
            )
        for agency_id in s.agency_ids:
            await self.conn.execute(INSERT_AGENCY, i.campaign_id, agency_id)

    async def mark_relayed(self, campaign_id: UUID, agency_id: UUID) -> None:
        await self.conn.execute(MARK_RELAYED, campaign_id, agency_id)

    async def set_status(
        self,
        campaign_id: UUID,
        status: CampaignStatus,
        at: datetime,
        cancel_reason: str | None = None,
    ) -> None:
        await self.conn.execute(
            SET_STATUS, campaign_id, status, at, cancel_reason, list(TERMINAL_CAMPAIGN)
        )

    async def get_campaign(self, campaign_id: UUID) -> CampaignPublic | None:
        row = await self.conn.fetchrow(GET_CAMPAIGN, campaign_id)
        return _campaign(row) if row else None

    async def list_campaigns(
        self,
        *,
        employer_id: UUID | None,
        agency_id: UUID | None,
        status: str | None,
        limit: int,
        offset: int,
    ) -> Page[CampaignPublic]:
        w = Where()
        w.when(employer_id is not None, "c.employer_id = {}", employer_id)
        w.when(agency_id is not None, CAMPAIGN_AGENCY, agency_id)
        w.when(status is not None, "c.status = {}", status)
        rows, total, lower = await fetch_page(
            self.conn, w, LIST_CAMPAIGNS, COUNT_CAMPAIGNS, limit, offset
        )
        items = [
            _campaign(r) for r in await self.conn.fetch(CAMPAIGNS_BY_ID, [r["id"] for r in rows])
        ]
        return Page[CampaignPublic](
            items=items, total=total, total_is_lower_bound=lower, limit=limit, offset=offset
        )

    async def intake_check(
        self, campaign_id: UUID, agency_id: UUID, position_id: UUID | None
    ) -> IntakeCheck | None:
        row = await self.conn.fetchrow(INTAKE_CHECK, campaign_id, agency_id, position_id)
        return IntakeCheck.model_validate(dict(row)) if row else None

    # referrals

    async def existing_registration(self, workflow_id: str) -> ExistingRegistration | None:
        row = await self.conn.fetchrow(REFERRAL_BY_WORKFLOW, workflow_id)
        return ExistingRegistration.model_validate(dict(row)) if row else None

    async def registration(self, workflow_id: str) -> ReferralRegistered | None:
        """The answer already given to the referral that workflow records, if recorded."""
        found = await self.existing_registration(workflow_id)
        if found is None:
            return None
        return ReferralRegistered.of(found.id, found.pseudonym, found.dup_agency_name)

    async def referral_access(self, referral_id: UUID) -> ReferralAccess | None:
        row = await self.conn.fetchrow(REFERRAL_ACCESS, referral_id)
        return ReferralAccess.model_validate(dict(row)) if row else None

    async def lock(self, key: str) -> None:
        await self.conn.execute(LOCK_KEY, key)

    async def original_for(
        self, campaign_id: UUID, email_keys: list[bytes], phone_keys: list[bytes]
    ) -> OriginalReferral | None:
        """The person's first referral in the campaign, by any of its hashes (one per data
        key: a referral stored before a key rotation is still found)."""
        row = await self.conn.fetchrow(ORIGINAL_FOR, campaign_id, email_keys, phone_keys)
        return OriginalReferral.model_validate(dict(row)) if row else None

    async def insert_referral(
        self,
        i: ReferralInput,
        workflow_id: str,
        pseudonym: str,
        status: ReferralStep,
        duplicate_of: UUID | None,
    ) -> None:
        await self.conn.execute(
            INSERT_REFERRAL,
            i.referral_id,
            i.campaign_id,
            i.agency_id,
            workflow_id,
            i.position_id,
            pseudonym,
            i.email_key,
            i.phone_key,
            duplicate_of,
            status,
            i.postcode,
            i.commune,
            i.skills,
            i.experience_years,
            i.identity_sealed,
            i.cv_sealed,
        )

    async def set_referral(
        self, referral_id: UUID, step: ReferralStep, at: datetime, reason: str | None = None
    ) -> None:
        await self.conn.execute(SET_REFERRAL, referral_id, step, at, reason, list(CLOSED_REFERRAL))

    async def record_hire(
        self,
        referral_id: UUID,
        campaign_id: UUID,
        position_id: UUID | None,
        at: datetime,
        reason: str,
    ) -> tuple[UUID | None, str | None]:
        """Fill one place: of the position named, else the one the candidate was referred
        for, else the first open one. Returns (position, None), or (None, why not).
        Idempotent: a referral already hired returns its position without filling again.
        The campaign row is read FOR SHARE, so a hire and the campaign's closing serialise:
        a campaign already closed refuses the hire."""
        campaign_status = await self.conn.fetchval(
            "SELECT status FROM campaigns WHERE id = $1 FOR SHARE", campaign_id
        )
        row = await self.conn.fetchrow(
            "SELECT status, hired_position_id, position_id FROM referrals WHERE id = $1 FOR UPDATE",
            referral_id,
        )
        if row and row["status"] == ReferralStep.HIRED:
            return row["hired_position_id"], None
        if campaign_status in TERMINAL_CAMPAIGN:
            return None, "la campagne est close"
        position_id = position_id or (row["position_id"] if row else None)
        if position_id is None:
            position_id = await self.conn.fetchval(FIRST_OPEN_POSITION, campaign_id)
            if position_id is None:
                return None, "tous les postes sont pourvus"
        if await self.conn.execute(FILL_POSITION, position_id, campaign_id) != "UPDATE 1":
            return None, "ce poste est déjà pourvu"
        await self.conn.execute(MARK_HIRED, referral_id, position_id, at, reason)
        return position_id, None

    def _public(self, row: asyncpg.Record, reveal: Reveal) -> ReferralPublic:
        data = {k: row[k] for k in ReferralPublic.model_fields if k in row and k != "identity"}
        public = ReferralPublic.model_validate(data)
        if reveal(public) and self.sealer is not None and row["identity_enc"] is not None:
            ident = json.loads(self.sealer.open(row["identity_enc"], _identity_aad(row["id"])))
            cv = self.sealer.open(row["cv_enc"], _cv_aad(row["id"])) if row["cv_enc"] else ""
            public.identity = CandidateIdentity(**ident, cv_text=cv)
        return public

    async def list_referrals(
        self,
        campaign_id: UUID,
        *,
        agency_id: UUID | None,
        statuses: list[str] | None,
        limit: int,
        offset: int,
        reveal: Reveal,
        shortlisted_only: bool = False,
    ) -> Page[ReferralPublic]:
        """`reveal(referral) -> bool` says whether this reader may see the candidate's
        identity. The total is exact, from the counters."""

        def where(shortlisted: str) -> Where:
            w = Where(campaign_id)
            w.when(agency_id is not None, "r.agency_id = {}", agency_id)
            w.when(statuses is not None, "r.status = ANY({})", statuses)
            return w.when(shortlisted_only, shortlisted)

        w, counted = where("r.shortlisted_at IS NOT NULL"), where("r.shortlisted")
        page = Where(*w.args)
        rows = await self.conn.fetch(
            LIST_REFERRALS.format(where=w.sql, limit=page.param(limit), offset=page.param(offset)),
            *page.args,
        )
        total = await self.conn.fetchval(COUNT_REFERRALS.format(where=counted.sql), *counted.args)
        items = [self._public(r, reveal) for r in rows]
        return Page[ReferralPublic](items=items, total=total, limit=limit, offset=offset)

    async def get_referral(
        self, referral_id: UUID, reveal: Reveal
    ) -> tuple[ReferralPublic, str] | None:
        row = await self.conn.fetchrow(GET_REFERRAL, referral_id)
        if row is None:
            return None
        return self._public(row, reveal), row["workflow_id"]

    async def open_referral_workflows(self, campaign_id: UUID, after: str, limit: int) -> list[str]:
        rows = await self.conn.fetch(
            OPEN_REFERRAL_WORKFLOWS, campaign_id, [s.value for s in OPEN_REFERRAL], after, limit
        )
        return [r["workflow_id"] for r in rows]

    async def agency_names(self, campaign_id: UUID) -> dict[UUID, str]:
        """The invited agencies' names."""
        return {r["id"]: r["name"] for r in await self.conn.fetch(AGENCY_NAMES, campaign_id)}

    async def stage_counts(self, campaign_id: UUID) -> list[tuple[UUID, str, bool, int]]:
        rows = await self.conn.fetch(STAGE_COUNTS, campaign_id)
        return [(r["agency_id"], r["status"], r["duplicate"], r["n"]) for r in rows]

    async def count_in_interview(self, campaign_id: UUID) -> int:
        return await self.conn.fetchval(
            COUNT_IN_INTERVIEW,
            campaign_id,
            [ReferralStep.INTERVIEW_REQUESTED.value, ReferralStep.INTERVIEW.value],
        )

    async def report(self, campaign: CampaignPublic) -> CampaignReport:
        hires = HireCounts()
        local = [f"{like_literal(p)}%" for p in campaign.territory_postcodes if p]  # prefixes
        for r in await self.conn.fetch(REPORT_HIRES, campaign.id, local):
            if r["total"]:
                hires.hired, hires.local, hires.median_days = (
                    r["hired"],
                    r["local"],
                    r["median_days"],
                )
            elif r["hired_position_id"] is not None:
                hires.by_position[r["hired_position_id"]] = r["hired"]
        counts = [
            AgencyCount.model_validate(dict(r))
            for r in await self.conn.fetch(REPORT_AGENCIES, campaign.id)
        ]
        reasons = {r["reason"]: r["n"] for r in await self.conn.fetch(REPORT_REASONS, campaign.id)}
        return build_report(campaign, hires, counts, reasons, await self.agency_names(campaign.id))

    async def erase_one(self, referral_id: UUID) -> int:
        return int((await self.conn.execute(ERASE_ONE, referral_id)).split()[-1])

    async def reseal_page(self, sealer: Sealer, after: UUID, limit: int) -> ResealPage:
        """Re-seal with `sealer`'s current key the referrals after `after` (by id) that an
        older key sealed, and recompute their keyed hashes; one page of `limit` rows."""
        rows = await self.conn.fetch(SEALED_PAGE, after, limit)
        page = ResealPage(last=rows[-1]["id"] if rows else None, read=len(rows))
        for r in rows:
            blobs = (r["identity_enc"], r["cv_enc"])
            if all(b is None or sealer.is_current(b) for b in blobs):
                continue
            try:
                identity = sealer.open(r["identity_enc"], _identity_aad(r["id"]))
                cv = sealer.open(r["cv_enc"], _cv_aad(r["id"])) if r["cv_enc"] else None
            except ValueError:
                page.unreadable.append(r["id"])
                continue
            changed = await self.conn.execute(
                RESEAL,
                r["id"],
                sealer.seal(identity, _identity_aad(r["id"])),
                sealer.seal(cv, _cv_aad(r["id"])) if cv is not None else None,
                *blobs,
            )
            if changed.split()[-1] == "0":
                continue  # erased meanwhile
            page.resealed += 1
            person = json.loads(identity)
            phone = person.get("phone")
            try:
                async with self.conn.transaction():  # a savepoint inside the page's
                    await self.conn.execute(
                        REHASH,
                        r["id"],
                        sealer.keyed_hash(_email_text(r["campaign_id"], person["email"])),
                        sealer.keyed_hash(_phone_text(r["campaign_id"], phone)) if phone else None,
                    )
            except asyncpg.UniqueViolationError:
                # Two originals for one person (referred under two configurations that did
                # not share a key): the older hash stays, so they stay two.
                page.rehash_conflicts.append(r["id"])
        return page

    async def erase_expired(self, closed_before: datetime) -> int:
        result = await self.conn.execute(ERASE_EXPIRED, closed_before)
        return int(result.split()[-1])
