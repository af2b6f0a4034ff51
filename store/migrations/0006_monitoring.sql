-- Monitoring: what a task is about (so completing it reaches the right record), overdue
-- lookups, and the outbox's delivery bookkeeping (attempts, lease, failure).

ALTER TABLE tasks ADD COLUMN subject_id text;
-- Tasks opened before this column: a member's quote or rating names its request in its key
-- (`<workflow>:<run>:<action>:<request>:<round>`); a referral's task is about its referral.
UPDATE tasks SET subject_id = split_part(key, ':', 4)
WHERE process = 'pooling' AND action IN ('accept_quote', 'rate');
UPDATE tasks t SET subject_id = r.id::text FROM referrals r
WHERE t.process = 'referral' AND r.workflow_id = t.workflow_id;

CREATE INDEX tasks_workflow ON tasks (workflow_id);
CREATE INDEX tasks_due_open ON tasks (due_at) WHERE closed_at IS NULL;
CREATE INDEX processes_updated ON processes (updated_at DESC, workflow_id);
CREATE INDEX processes_waiting_on ON processes (waiting_on) WHERE waiting_on IS NOT NULL;

ALTER TABLE outbox
    ADD COLUMN attempts         integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN claimed_until    timestamptz,
    ADD COLUMN last_error       text,
    ADD COLUMN failed_at        timestamptz,
    ADD COLUMN recipients       text[];
-- Mail queued before there was a sender is not sent weeks late all at once.
UPDATE outbox SET failed_at = now(), last_error = 'mis en file avant l''envoi des courriels'
WHERE sent_at IS NULL AND created_at < now() - interval '2 days';
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
