-- What decides eligibility, a share of a bill or who an organisation is changes only
-- through the network's staff: an organisation proposes, staff approve or refuse.
CREATE TABLE organisation_changes (
    id               uuid PRIMARY KEY,
    organisation_id  uuid NOT NULL REFERENCES organisations (id),
    changes          jsonb NOT NULL,
    reason           text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'approved', 'refused')),
    proposed_by      uuid NOT NULL REFERENCES users (id),
    decided_by       uuid REFERENCES users (id),
    decision_note    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    decided_at       timestamptz
);
CREATE INDEX organisation_changes_pending ON organisation_changes (created_at)
    WHERE status = 'pending';
CREATE INDEX organisation_changes_organisation ON organisation_changes (organisation_id, created_at);

-- The body each request id was first used with, per act, caller and object: the same id
-- with another body is said to be a reuse instead of silently answered with the first
-- result. A keyed hash of the body (it may hold personal data), never the body.
CREATE TABLE request_fingerprints (
    scope       text NOT NULL,
    request_id  text NOT NULL,
    digest      bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, request_id)
);
