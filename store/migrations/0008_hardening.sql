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
