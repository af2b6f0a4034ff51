-- Scale (issue 20): every list reads about the rows it shows, at a regional network's size
-- (200,000 processes, 500,000 tasks). What a list used to compute by scanning is kept here as
-- the rows change, by triggers, so that every writer (activities, the API, tests, a bulk COPY)
-- keeps it right: who sees a process, its next due date, the counts by kind and status.

-- Every organisation that sees a process: its owner (processes.organisation_id) and those
-- given a task in it. The process's kind, status and updated_at are copied here, so that an
-- organisation's list is read in order from an index, and counted, however many processes it
-- sees. NULL / '-infinity' while a task's process has no row yet.
CREATE TABLE process_organisations (
    organisation_id  uuid NOT NULL REFERENCES organisations (id),
    workflow_id      text NOT NULL,
    owner            boolean NOT NULL DEFAULT false,
    tasked           boolean NOT NULL DEFAULT false,
    process          text,
    status           text,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (organisation_id, workflow_id)
);
CREATE INDEX process_organisations_recent
    ON process_organisations (organisation_id, updated_at DESC, workflow_id);
CREATE INDEX process_organisations_workflow ON process_organisations (workflow_id);

-- The earliest due date among a process's open tasks (NULL: none open).
ALTER TABLE processes ADD COLUMN next_due_at timestamptz;

-- Processes by kind and status, in 8 shards per pair so that concurrent status changes do not
-- queue on one row; the network's dashboard sums them.
CREATE TABLE process_counts (
    process  text NOT NULL,
    status   text NOT NULL,
    shard    smallint NOT NULL,
    n        bigint NOT NULL,
    PRIMARY KEY (process, status, shard)
);

-- The same per organisation (of the processes it sees), for its own dashboard.
CREATE TABLE process_organisation_counts (
    organisation_id  uuid NOT NULL REFERENCES organisations (id),
    process          text NOT NULL,
    status           text NOT NULL,
    shard            smallint NOT NULL,
    n                bigint NOT NULL,
    PRIMARY KEY (organisation_id, process, status, shard)
);

-- What was there before this migration.
INSERT INTO process_organisations (organisation_id, workflow_id, owner, tasked, process, status,
                                   updated_at)
SELECT x.organisation_id, x.workflow_id, bool_or(x.owner), bool_or(x.tasked), p.process,
       p.status, coalesce(p.updated_at, '-infinity')
FROM (SELECT organisation_id, workflow_id, true AS owner, false AS tasked FROM processes
      WHERE organisation_id IS NOT NULL
      UNION ALL
      SELECT assignee_organisation_id, workflow_id, false, true FROM tasks) x
LEFT JOIN processes p ON p.workflow_id = x.workflow_id
GROUP BY x.organisation_id, x.workflow_id, p.process, p.status, p.updated_at;
UPDATE processes p SET next_due_at = d.due
FROM (SELECT workflow_id, min(due_at) AS due FROM tasks WHERE closed_at IS NULL
      GROUP BY workflow_id) d
WHERE d.workflow_id = p.workflow_id;
INSERT INTO process_counts (process, status, shard, n)
SELECT process, status, hashtext(workflow_id) & 7, count(*) FROM processes GROUP BY 1, 2, 3;
INSERT INTO process_organisation_counts (organisation_id, process, status, shard, n)
SELECT organisation_id, process, status, hashtext(workflow_id) & 7, count(*)
FROM process_organisations WHERE process IS NOT NULL GROUP BY 1, 2, 3, 4;

-- An organisation's counts follow its rows in process_organisations (those whose process has
-- a row), one statement at a time, counter rows locked in key order.
CREATE FUNCTION process_organisations_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO process_organisation_counts (organisation_id, process, status, shard, n)
    SELECT organisation_id, process, status, shard, sum(d) FROM (
        SELECT organisation_id, process, status, hashtext(workflow_id) & 7 AS shard, 1 AS d
        FROM new_rows WHERE process IS NOT NULL
        UNION ALL
        SELECT organisation_id, process, status, hashtext(workflow_id) & 7, -1
        FROM old_rows WHERE process IS NOT NULL) x
    GROUP BY 1, 2, 3, 4 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (organisation_id, process, status, shard)
    DO UPDATE SET n = process_organisation_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
CREATE TRIGGER process_organisations_updated AFTER UPDATE ON process_organisations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION process_organisations_counted();

CREATE FUNCTION process_organisations_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO process_organisation_counts (organisation_id, process, status, shard, n)
    SELECT organisation_id, process, status, hashtext(workflow_id) & 7, count(*)
    FROM new_rows WHERE process IS NOT NULL
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (organisation_id, process, status, shard)
    DO UPDATE SET n = process_organisation_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
CREATE TRIGGER process_organisations_inserted AFTER INSERT ON process_organisations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION process_organisations_inserted();

CREATE FUNCTION process_organisations_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO process_organisation_counts (organisation_id, process, status, shard, n)
    SELECT organisation_id, process, status, hashtext(workflow_id) & 7, -count(*)
    FROM old_rows WHERE process IS NOT NULL
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (organisation_id, process, status, shard)
    DO UPDATE SET n = process_organisation_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
CREATE TRIGGER process_organisations_deleted AFTER DELETE ON process_organisations
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION process_organisations_deleted();

CREATE FUNCTION process_organisations_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM process_organisation_counts;
    RETURN NULL;
END $$;
CREATE TRIGGER process_organisations_truncated AFTER TRUNCATE ON process_organisations
    FOR EACH STATEMENT EXECUTE FUNCTION process_organisations_truncated();

-- A process row's next due date is recomputed whenever the row is written: by its status
-- projection, and by the tasks triggers below, which touch the row when its tasks change. A
-- projection therefore also repairs a due date that a concurrent first write missed.
CREATE FUNCTION processes_next_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.next_due_at := (SELECT min(due_at) FROM tasks
                        WHERE workflow_id = NEW.workflow_id AND closed_at IS NULL);
    RETURN NEW;
END $$;
CREATE TRIGGER processes_next_due BEFORE INSERT OR UPDATE ON processes
    FOR EACH ROW EXECUTE FUNCTION processes_next_due();

-- Counts and copies follow the rows, one statement at a time (a COPY of 200,000 rows is one
-- aggregate). Counter rows are locked in key order: two transactions moving processes between
-- the same statuses never deadlock.
CREATE FUNCTION processes_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO process_counts (process, status, shard, n)
    SELECT process, status, hashtext(workflow_id) & 7, count(*) FROM inserted
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (process, status, shard) DO UPDATE SET n = process_counts.n + EXCLUDED.n;
    INSERT INTO process_organisations (organisation_id, workflow_id, owner, process, status,
                                       updated_at)
    SELECT organisation_id, workflow_id, true, process, status, updated_at FROM inserted
    WHERE organisation_id IS NOT NULL
    ON CONFLICT (organisation_id, workflow_id) DO UPDATE SET owner = true;
    UPDATE process_organisations s
    SET process = i.process, status = i.status, updated_at = i.updated_at
    FROM inserted i
    WHERE s.workflow_id = i.workflow_id
      AND (s.process, s.status, s.updated_at) IS DISTINCT FROM (i.process, i.status, i.updated_at);
    RETURN NULL;
END $$;
CREATE TRIGGER processes_inserted AFTER INSERT ON processes
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION processes_inserted();

CREATE FUNCTION processes_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO process_counts (process, status, shard, n)
    SELECT process, status, shard, sum(d) FROM (
        SELECT process, status, hashtext(workflow_id) & 7 AS shard, 1 AS d FROM new_rows
        UNION ALL
        SELECT process, status, hashtext(workflow_id) & 7, -1 FROM old_rows) x
    GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (process, status, shard) DO UPDATE SET n = process_counts.n + EXCLUDED.n;
    -- Another owner (rare: an onboarding refused for an unknown organisation has none): the
    -- new one sees the process, the old one only if it was given a task in it.
    IF EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.workflow_id = n.workflow_id
               WHERE n.organisation_id IS DISTINCT FROM o.organisation_id) THEN
        UPDATE process_organisations s SET owner = false
        FROM new_rows n JOIN old_rows o ON o.workflow_id = n.workflow_id
        WHERE n.organisation_id IS DISTINCT FROM o.organisation_id
          AND s.workflow_id = o.workflow_id AND s.organisation_id = o.organisation_id;
        INSERT INTO process_organisations (organisation_id, workflow_id, owner, process, status,
                                           updated_at)
        SELECT n.organisation_id, n.workflow_id, true, n.process, n.status, n.updated_at
        FROM new_rows n JOIN old_rows o ON o.workflow_id = n.workflow_id
        WHERE n.organisation_id IS DISTINCT FROM o.organisation_id
          AND n.organisation_id IS NOT NULL
        ON CONFLICT (organisation_id, workflow_id) DO UPDATE SET owner = true;
        DELETE FROM process_organisations
        WHERE NOT owner AND NOT tasked AND workflow_id IN (SELECT workflow_id FROM new_rows);
    END IF;
    UPDATE process_organisations s
    SET process = n.process, status = n.status, updated_at = n.updated_at
    FROM new_rows n
    WHERE s.workflow_id = n.workflow_id
      AND (s.process, s.status, s.updated_at) IS DISTINCT FROM (n.process, n.status, n.updated_at);
    RETURN NULL;
END $$;
CREATE TRIGGER processes_updated AFTER UPDATE ON processes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION processes_updated();

CREATE FUNCTION processes_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO process_counts (process, status, shard, n)
    SELECT process, status, hashtext(workflow_id) & 7, -count(*) FROM deleted
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (process, status, shard) DO UPDATE SET n = process_counts.n + EXCLUDED.n;
    UPDATE process_organisations SET owner = false, process = NULL, status = NULL,
                                     updated_at = '-infinity'
    WHERE workflow_id IN (SELECT workflow_id FROM deleted);
    DELETE FROM process_organisations
    WHERE NOT tasked AND workflow_id IN (SELECT workflow_id FROM deleted);
    RETURN NULL;
END $$;
CREATE TRIGGER processes_deleted AFTER DELETE ON processes
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION processes_deleted();

CREATE FUNCTION processes_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM process_counts;
    DELETE FROM process_organisations WHERE NOT tasked;
    UPDATE process_organisations SET owner = false, process = NULL, status = NULL,
                                     updated_at = '-infinity';
    RETURN NULL;
END $$;
CREATE TRIGGER processes_truncated AFTER TRUNCATE ON processes
    FOR EACH STATEMENT EXECUTE FUNCTION processes_truncated();

-- A task opened or moved: its process's row is touched first (which recomputes the due date,
-- and waits for a concurrent status projection of that process), then the organisation given
-- the task sees the process, with the process's state read after.
CREATE FUNCTION tasks_opened() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE processes SET next_due_at = NULL  -- recomputed by processes_next_due
    WHERE workflow_id IN (SELECT workflow_id FROM opened);
    INSERT INTO process_organisations (organisation_id, workflow_id, tasked, process, status,
                                       updated_at)
    SELECT DISTINCT o.assignee_organisation_id, o.workflow_id, true, p.process, p.status,
           coalesce(p.updated_at, '-infinity')
    FROM opened o LEFT JOIN processes p ON p.workflow_id = o.workflow_id
    ON CONFLICT (organisation_id, workflow_id) DO UPDATE SET tasked = true
    WHERE NOT process_organisations.tasked;
    RETURN NULL;
END $$;
CREATE TRIGGER tasks_opened AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS opened FOR EACH STATEMENT EXECUTE FUNCTION tasks_opened();

CREATE FUNCTION tasks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE processes SET next_due_at = NULL  -- recomputed by processes_next_due
    WHERE workflow_id IN (SELECT workflow_id FROM new_rows UNION SELECT workflow_id FROM old_rows);
    INSERT INTO process_organisations (organisation_id, workflow_id, tasked, process, status,
                                       updated_at)
    SELECT DISTINCT n.assignee_organisation_id, n.workflow_id, true, p.process, p.status,
           coalesce(p.updated_at, '-infinity')
    FROM new_rows n LEFT JOIN processes p ON p.workflow_id = n.workflow_id
    ON CONFLICT (organisation_id, workflow_id) DO UPDATE SET tasked = true
    WHERE NOT process_organisations.tasked;
    -- A task moved to another organisation (Relais never does): the first one keeps seeing
    -- the process only if it owns it or has another task there.
    UPDATE process_organisations s SET tasked = false
    FROM old_rows o
    WHERE s.organisation_id = o.assignee_organisation_id AND s.workflow_id = o.workflow_id
      AND s.tasked AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.workflow_id = o.workflow_id
                                   AND t.assignee_organisation_id = o.assignee_organisation_id);
    DELETE FROM process_organisations s USING old_rows o
    WHERE s.organisation_id = o.assignee_organisation_id AND s.workflow_id = o.workflow_id
      AND NOT s.owner AND NOT s.tasked;
    RETURN NULL;
END $$;
CREATE TRIGGER tasks_changed AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_changed();

CREATE FUNCTION tasks_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE processes SET next_due_at = NULL  -- recomputed by processes_next_due
    WHERE workflow_id IN (SELECT workflow_id FROM deleted);
    UPDATE process_organisations s SET tasked = false
    FROM deleted d
    WHERE s.organisation_id = d.assignee_organisation_id AND s.workflow_id = d.workflow_id
      AND s.tasked AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.workflow_id = d.workflow_id
                                   AND t.assignee_organisation_id = d.assignee_organisation_id);
    DELETE FROM process_organisations s USING deleted d
    WHERE s.organisation_id = d.assignee_organisation_id AND s.workflow_id = d.workflow_id
      AND NOT s.owner AND NOT s.tasked;
    RETURN NULL;
END $$;
CREATE TRIGGER tasks_deleted AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION tasks_deleted();

CREATE FUNCTION tasks_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM process_organisations WHERE NOT owner;
    UPDATE process_organisations SET tasked = false;
    RETURN NULL;
END $$;
CREATE TRIGGER tasks_truncated AFTER TRUNCATE ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_truncated();

-- Every list's order, with its tie-breaker, and the filters pages use.
DROP INDEX processes_list;
CREATE INDEX processes_list ON processes (process, status, updated_at DESC, workflow_id);
CREATE INDEX processes_kind ON processes (process, updated_at DESC, workflow_id);
DROP INDEX processes_organisation;
CREATE INDEX processes_organisation ON processes (organisation_id, updated_at DESC, workflow_id);
CREATE INDEX processes_next_due ON processes (next_due_at) WHERE next_due_at IS NOT NULL;

DROP INDEX tasks_open;
CREATE INDEX tasks_open ON tasks (assignee_organisation_id, assignee_role, due_at, id)
    WHERE closed_at IS NULL;
DROP INDEX tasks_due_open;
CREATE INDEX tasks_due_open ON tasks (due_at, id) WHERE closed_at IS NULL;

CREATE INDEX outbox_recent ON outbox (created_at DESC, id);
CREATE INDEX outbox_workflow ON outbox (workflow_id, created_at DESC, id);
CREATE INDEX service_requests_recent ON service_requests (created_at DESC, id);
CREATE INDEX service_requests_member ON service_requests (member_id, created_at DESC, id);
CREATE INDEX pools_recent ON pools (updated_at DESC, id);
CREATE INDEX campaigns_recent ON campaigns (created_at DESC, id);
CREATE INDEX organisations_by_name ON organisations (name, id);

-- A campaign's referrals in order; an agency's, too.
CREATE INDEX referrals_campaign_order ON referrals (campaign_id, created_at, id);
CREATE INDEX referrals_campaign_agency ON referrals (campaign_id, agency_id, created_at, id);
-- The duplicate check reaches every earlier referral of the same email or phone, duplicates
-- included (the unique indexes above hold originals only).
CREATE INDEX referrals_email ON referrals (campaign_id, email_key);
CREATE INDEX referrals_phone ON referrals (campaign_id, phone_key) WHERE phone_key IS NOT NULL;

-- Reservations: a member's, a resource's busy slots, and every active one, soonest first.
CREATE INDEX reservations_member ON reservations (member_id, lower(slot), created_at, id);
CREATE INDEX reservations_active ON reservations (lower(slot), created_at, id)
    WHERE status IN ('confirmed', 'waitlisted');
CREATE INDEX reservations_resource_active ON reservations (resource_id, lower(slot), created_at, id)
    WHERE status IN ('confirmed', 'waitlisted');
