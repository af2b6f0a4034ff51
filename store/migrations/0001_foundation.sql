-- Directory, users and tokens, and what every workflow writes: status, tasks, outbox, audit.

CREATE TABLE organisations (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('member', 'agency', 'chamber', 'authority', 'provider', 'association')),
    name        text NOT NULL,
    siret       char(14) NOT NULL UNIQUE,
    naf         text,
    headcount   integer CHECK (headcount >= 0),
    postcode    char(5) NOT NULL,
    commune     text,
    territory   text,
    email       text,
    phone       text,
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active', 'inactive')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organisations_kind ON organisations (kind);
CREATE INDEX organisations_territory ON organisations (territory);
CREATE INDEX organisations_name ON organisations (lower(name));

CREATE TABLE users (
    id               uuid PRIMARY KEY,
    organisation_id  uuid NOT NULL REFERENCES organisations (id),
    role             text NOT NULL CHECK (role IN ('admin', 'staff', 'manager', 'member', 'agency', 'partner')),
    name             text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_organisation ON users (organisation_id);

-- Only a SHA-256 of each token is kept: a leaked table gives no usable token.
CREATE TABLE api_tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id),
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE memberships (
    organisation_id      uuid PRIMARY KEY REFERENCES organisations (id),
    workflow_id          text NOT NULL,
    contact_name         text NOT NULL,
    contact_email        text NOT NULL,
    status               text NOT NULL CHECK (status IN ('awaiting_charter', 'active', 'expired', 'cancelled')),
    charter_accepted_at  timestamptz,
    charter_accepted_by  uuid REFERENCES users (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Status projection of every workflow, for lists and dashboards.
CREATE TABLE processes (
    workflow_id      text PRIMARY KEY,
    run_id           text NOT NULL,  -- first run of the chain: a reused workflow id starts anew
    process          text NOT NULL,
    organisation_id  uuid REFERENCES organisations (id),
    title            text NOT NULL,
    status           text NOT NULL,
    step             text NOT NULL,
    waiting_on       text,
    since            timestamptz NOT NULL,
    seq              integer NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processes_list ON processes (process, status, updated_at DESC);
CREATE INDEX processes_organisation ON processes (organisation_id);

-- Every wait on a person.
CREATE TABLE tasks (
    id                        uuid PRIMARY KEY,
    key                       text NOT NULL UNIQUE,
    workflow_id               text NOT NULL,
    process                   text NOT NULL,
    action                    text NOT NULL,
    title                     text NOT NULL,
    assignee_organisation_id  uuid NOT NULL REFERENCES organisations (id),
    assignee_role             text NOT NULL,
    due_at                    timestamptz NOT NULL,
    created_at                timestamptz NOT NULL DEFAULT now(),
    closed_at                 timestamptz,
    outcome                   text
);
CREATE INDEX tasks_open ON tasks (assignee_organisation_id, assignee_role) WHERE closed_at IS NULL;

-- Mail to send; dedup_key makes a retried activity queue a message once.
CREATE TABLE outbox (
    id           uuid PRIMARY KEY,
    dedup_key    text NOT NULL UNIQUE,
    recipient    text NOT NULL,
    subject      text NOT NULL,
    body         text NOT NULL,
    workflow_id  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);

-- Append-only audit trail.
CREATE TABLE audit_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,
    action       text NOT NULL,
    workflow_id  text,
    entity_type  text NOT NULL,
    entity_id    text NOT NULL,
    data         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_entity ON audit_events (entity_type, entity_id);
CREATE INDEX audit_workflow ON audit_events (workflow_id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END $$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- Small key/value facts about this database (e.g. demo data loaded).
CREATE TABLE relais_meta (
    key    text PRIMARY KEY,
    value  text NOT NULL,
    at     timestamptz NOT NULL DEFAULT now()
);
