-- A campaign's referrals counted by agency, step, duplicate or not and shortlisted or not, kept
-- by triggers as the rows change: the campaign page's board and the report read a few dozen
-- counter rows instead of grouping 50,000 referrals. 8 shards per key (by referral), so that
-- agencies registering at once do not queue on one row.
CREATE TABLE referral_counts (
    campaign_id  uuid NOT NULL REFERENCES campaigns (id),
    agency_id    uuid NOT NULL,
    status       text NOT NULL,
    duplicate    boolean NOT NULL,
    shortlisted  boolean NOT NULL,
    shard        smallint NOT NULL,
    n            bigint NOT NULL,
    PRIMARY KEY (campaign_id, agency_id, status, duplicate, shortlisted, shard)
);

-- The employer's reasons for a rejection, counted the same way (keyed by their digest: a
-- reason of any length fits the key).
CREATE TABLE referral_reasons (
    campaign_id  uuid NOT NULL REFERENCES campaigns (id),
    reason_key   text NOT NULL,
    reason       text NOT NULL,
    n            bigint NOT NULL,
    PRIMARY KEY (campaign_id, reason_key)
);

-- A campaign's hires, read from this index alone for its report.
CREATE INDEX referrals_hired ON referrals (campaign_id)
    INCLUDE (hired_position_id, postcode, created_at, decided_at) WHERE status = 'hired';

INSERT INTO referral_counts (campaign_id, agency_id, status, duplicate, shortlisted, shard, n)
SELECT campaign_id, agency_id, status, duplicate_of IS NOT NULL, shortlisted_at IS NOT NULL,
       hashtext(id::text) & 7, count(*)
FROM referrals GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO referral_reasons (campaign_id, reason_key, reason, n)
SELECT campaign_id, md5(reason), reason, count(*) FROM referrals
WHERE status = 'rejected' AND coalesce(reason, '') <> '' GROUP BY 1, 2, 3;

-- One statement at a time (a COPY is one aggregate); counter rows locked in key order, so two
-- transactions moving referrals between the same steps never deadlock on them.
CREATE FUNCTION referrals_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO referral_counts (campaign_id, agency_id, status, duplicate, shortlisted, shard, n)
    SELECT campaign_id, agency_id, status, duplicate, shortlisted, shard, sum(d) FROM (
        SELECT campaign_id, agency_id, status, duplicate_of IS NOT NULL AS duplicate,
               shortlisted_at IS NOT NULL AS shortlisted, hashtext(id::text) & 7 AS shard, 1 AS d
        FROM new_rows
        UNION ALL
        SELECT campaign_id, agency_id, status, duplicate_of IS NOT NULL,
               shortlisted_at IS NOT NULL, hashtext(id::text) & 7, -1
        FROM old_rows) x
    GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (campaign_id, agency_id, status, duplicate, shortlisted, shard)
    DO UPDATE SET n = referral_counts.n + EXCLUDED.n;
    INSERT INTO referral_reasons (campaign_id, reason_key, reason, n)
    SELECT campaign_id, md5(reason), reason, sum(d) FROM (
        SELECT campaign_id, reason, 1 AS d FROM new_rows
        WHERE status = 'rejected' AND coalesce(reason, '') <> ''
        UNION ALL
        SELECT campaign_id, reason, -1 FROM old_rows
        WHERE status = 'rejected' AND coalesce(reason, '') <> '') x
    GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2
    ON CONFLICT (campaign_id, reason_key) DO UPDATE SET n = referral_reasons.n + EXCLUDED.n;
    RETURN NULL;
END $$;

-- An insert has no old rows and a delete no new ones: each has its own function.
CREATE FUNCTION referrals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO referral_counts (campaign_id, agency_id, status, duplicate, shortlisted, shard, n)
    SELECT campaign_id, agency_id, status, duplicate_of IS NOT NULL, shortlisted_at IS NOT NULL,
           hashtext(id::text) & 7, count(*)
    FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (campaign_id, agency_id, status, duplicate, shortlisted, shard)
    DO UPDATE SET n = referral_counts.n + EXCLUDED.n;
    INSERT INTO referral_reasons (campaign_id, reason_key, reason, n)
    SELECT campaign_id, md5(reason), reason, count(*) FROM new_rows
    WHERE status = 'rejected' AND coalesce(reason, '') <> '' GROUP BY 1, 2, 3 ORDER BY 1, 2
    ON CONFLICT (campaign_id, reason_key) DO UPDATE SET n = referral_reasons.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION referrals_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO referral_counts (campaign_id, agency_id, status, duplicate, shortlisted, shard, n)
    SELECT campaign_id, agency_id, status, duplicate_of IS NOT NULL, shortlisted_at IS NOT NULL,
           hashtext(id::text) & 7, -count(*)
    FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (campaign_id, agency_id, status, duplicate, shortlisted, shard)
    DO UPDATE SET n = referral_counts.n + EXCLUDED.n;
    INSERT INTO referral_reasons (campaign_id, reason_key, reason, n)
    SELECT campaign_id, md5(reason), reason, -count(*) FROM old_rows
    WHERE status = 'rejected' AND coalesce(reason, '') <> '' GROUP BY 1, 2, 3 ORDER BY 1, 2
    ON CONFLICT (campaign_id, reason_key) DO UPDATE SET n = referral_reasons.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION referrals_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM referral_counts;
    DELETE FROM referral_reasons;
    RETURN NULL;
END $$;

CREATE TRIGGER referrals_inserted AFTER INSERT ON referrals
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION referrals_inserted();
CREATE TRIGGER referrals_updated AFTER UPDATE ON referrals
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION referrals_counted();
CREATE TRIGGER referrals_deleted AFTER DELETE ON referrals
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION referrals_deleted();
CREATE TRIGGER referrals_truncated AFTER TRUNCATE ON referrals
    FOR EACH STATEMENT EXECUTE FUNCTION referrals_truncated();
