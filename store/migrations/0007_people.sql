-- People: users with an address, a status and a notification preference; one-time sign-in
-- and invitation links; server-side sessions; API tokens with a name, an expiry and a last
-- use; rate-limit counters; mail carrying a secret kept sealed until it is sent.

ALTER TABLE users
    ADD COLUMN email            text,  -- none for users created before people had addresses
    ADD COLUMN status           text NOT NULL DEFAULT 'active'
                                CHECK (status IN ('invited', 'active', 'disabled')),
    ADD COLUMN notify           text NOT NULL DEFAULT 'immediate'
                                CHECK (notify IN ('immediate', 'daily', 'none')),
    ADD COLUMN password_hash    text,  -- argon2id, when the person set a password
    ADD COLUMN last_sign_in_at  timestamptz,
    ADD COLUMN invited_by       uuid REFERENCES users (id),
    ADD COLUMN disabled_at      timestamptz,
    ADD COLUMN updated_at       timestamptz NOT NULL DEFAULT now();
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_notify ON users (organisation_id, role) WHERE status = 'active';

-- Network roles belong to the network's own organisations (domain.people.NETWORK_KINDS):
-- a user given one elsewhere before the rule existed can no longer act.
UPDATE users u SET status = 'disabled', disabled_at = now()
FROM organisations o
WHERE o.id = u.organisation_id AND u.role IN ('admin', 'staff', 'manager')
  AND o.kind <> 'association';

ALTER TABLE api_tokens
    ADD COLUMN id            uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    ADD COLUMN expires_at    timestamptz,  -- none for tokens issued before expiries
    ADD COLUMN last_used_at  timestamptz;
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- One-time links sent by mail: only a SHA-256 of the link's 256-bit secret is kept.
CREATE TABLE sign_in_links (
    id          uuid PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    user_id     uuid NOT NULL REFERENCES users (id),
    purpose     text NOT NULL CHECK (purpose IN ('sign_in', 'invitation')),
    next_path   text,  -- where the person was going (a path of Relais only)
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX sign_in_links_user ON sign_in_links (user_id);

-- Server-side sessions: the cookie holds a 256-bit secret, the table its SHA-256.
CREATE TABLE sessions (
    id            uuid PRIMARY KEY,  -- names the session on « Mon compte »
    secret_hash   bytea NOT NULL UNIQUE,
    user_id       uuid NOT NULL REFERENCES users (id),
    method        text NOT NULL CHECK (method IN ('link', 'invitation', 'password')),
    user_agent    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL  -- absolute; the idle limit counts from last_seen_at
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Rate limits: hits per (limit, key, window). Counters need no durability: unlogged.
CREATE UNLOGGED TABLE rate_limits (
    name          text NOT NULL,
    key           bytea NOT NULL,  -- a hash of the address or client, never the value
    window_start  timestamptz NOT NULL,
    hits          integer NOT NULL,
    PRIMARY KEY (name, key, window_start)
);

-- A mail carrying a secret (a sign-in link) keeps its real body sealed (AES-GCM, the data
-- key) until it is sent, then forgets it; `body` shows it with the link masked.
ALTER TABLE outbox ADD COLUMN sealed_body bytea;
