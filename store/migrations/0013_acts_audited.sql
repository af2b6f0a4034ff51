-- Every act a person takes through a command is audited once, with who and the reason they
-- gave: a retried act (the same request id, or the same act without one) finds its row.
ALTER TABLE audit_events ADD COLUMN dedup_key text;
CREATE UNIQUE INDEX audit_events_dedup ON audit_events (dedup_key) WHERE dedup_key IS NOT NULL;
