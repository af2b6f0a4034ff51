-- Recruitment campaigns, their positions and invited agencies, and the agencies' referrals.
-- Candidate identity, contact and CV are AES-GCM ciphertext (key: RELAIS_DATA_KEY); dedup
-- keys are keyed hashes, so nothing here names a person in clear.

CREATE TABLE campaigns (
    id                  uuid PRIMARY KEY,
    workflow_id         text NOT NULL UNIQUE,
    employer_id         uuid NOT NULL REFERENCES organisations (id),
    network_id          uuid NOT NULL REFERENCES organisations (id),
    created_by          uuid NOT NULL REFERENCES users (id),
    title               text NOT NULL,
    status              text NOT NULL CHECK (status IN ('opening', 'open', 'closing', 'closed', 'filled', 'cancelled')),
    deadline            timestamptz NOT NULL,
    decision_sla_days   integer NOT NULL CHECK (decision_sla_days > 0),
    grace_days          integer NOT NULL CHECK (grace_days >= 0),
    territory_postcodes text[] NOT NULL,
    cancel_reason       text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    closed_at           timestamptz
);
CREATE INDEX campaigns_employer ON campaigns (employer_id);

CREATE TABLE campaign_positions (
    id              uuid PRIMARY KEY,
    campaign_id     uuid NOT NULL REFERENCES campaigns (id),
    ord             integer NOT NULL,
    title           text NOT NULL,
    count           integer NOT NULL CHECK (count > 0),
    filled          integer NOT NULL DEFAULT 0,
    contract        text NOT NULL,
    place_postcode  char(5) NOT NULL,
    place_commune   text,
    CHECK (filled >= 0 AND filled <= count)
);
CREATE INDEX campaign_positions_campaign ON campaign_positions (campaign_id);

CREATE TABLE campaign_agencies (
    campaign_id  uuid NOT NULL REFERENCES campaigns (id),
    agency_id    uuid NOT NULL REFERENCES organisations (id),
    relayed_at   timestamptz,
    PRIMARY KEY (campaign_id, agency_id)
);

CREATE TABLE referrals (
    id                  uuid PRIMARY KEY,
    campaign_id         uuid NOT NULL REFERENCES campaigns (id),
    agency_id           uuid NOT NULL REFERENCES organisations (id),
    workflow_id         text NOT NULL UNIQUE,
    position_id         uuid REFERENCES campaign_positions (id),
    pseudonym           text NOT NULL,
    email_key           bytea NOT NULL,
    phone_key           bytea,
    duplicate_of        uuid REFERENCES referrals (id),
    status              text NOT NULL,
    postcode            char(5) NOT NULL,
    commune             text,
    skills              text[] NOT NULL DEFAULT '{}',
    experience_years    integer NOT NULL DEFAULT 0,
    identity_enc        bytea,
    cv_enc              bytea,
    shortlisted_at      timestamptz,
    consent_at          timestamptz,
    decided_at          timestamptz,
    reason              text,
    hired_position_id   uuid REFERENCES campaign_positions (id),
    erased_at           timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- One original per person and campaign; later referrals of the same person are duplicates.
CREATE UNIQUE INDEX referrals_email_once ON referrals (campaign_id, email_key) WHERE duplicate_of IS NULL;
CREATE UNIQUE INDEX referrals_phone_once ON referrals (campaign_id, phone_key)
    WHERE duplicate_of IS NULL AND phone_key IS NOT NULL;
CREATE INDEX referrals_campaign_status ON referrals (campaign_id, status);
CREATE INDEX referrals_agency ON referrals (agency_id, campaign_id);
