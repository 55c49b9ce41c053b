-- Follower lists are taken in at COPY speed and merged into the profile
-- directory afterwards, by a job ("followers.merge").
--
-- Why: inserting a million new rows into realreach.profiles (two unique
-- B-trees, checks, row-level security) costs two to three times a bare COPY
-- of the same rows, and held a FastCGI worker for the whole of it. Now the
-- request validates, streams every row straight into realreach.snapshot_intake
-- with one binary COPY and reports duplicates. The merge then upserts the
-- profiles, writes the membership (realreach.snapshot_chunks), marks the
-- snapshot complete, empties its intake rows and emits "followers.stored":
-- in the same request for a list of up to 10,000 rows, else in a job, the
-- request committing and answering 202 first. Until the job is done the
-- snapshot's state reads 'merging', and analyses do not see it.
--
-- COPY FROM refuses a table under row-level security, so this one table is
-- guarded another way, as strictly:
--   * the service role may only INSERT (COPY) into it: no SELECT, UPDATE or
--     DELETE (`realreach migrate` refuses a table without RLS unless this
--     holds);
--   * a CHECK pins every new row to the transaction's tenant (current_tenant()
--     fails when none is set). NOT VALID only so that a dump restores it after
--     the data: new rows are always checked;
--   * the rows are read only through the view snapshot_intake_rows and
--     removed only through the SECURITY DEFINER function
--     snapshot_intake_clear, both of which see nothing but the current
--     tenant's rows.
CREATE TABLE realreach.snapshot_intake (
    tenant_id           bigint NOT NULL,
    snapshot_id         bigint NOT NULL,
    part                integer NOT NULL,
    -- where the row was in the list as sent (0 = first listed, the newest
    -- follower); part N's rows follow part N-1's
    position            bigint NOT NULL,
    external_id         text COLLATE "C" NOT NULL,
    handle              text,
    name                text,
    bio                 text,
    url                 text,
    location            text,
    lang                text,
    platform_created_at timestamptz,
    followers_count     bigint,
    following_count     bigint,
    posts_count         bigint,
    likes_count         bigint,
    listed_count        bigint,
    likes_kind          text,
    default_avatar      boolean,
    verified            boolean,
    protected           boolean,
    last_post_at        timestamptz,
    observed_at         timestamptz,
    followed_at         timestamptz,
    bare                boolean NOT NULL
);
-- Rows are short-lived (a snapshot's rows live until its merge ends, seconds
-- to minutes) and every read takes one snapshot's rows whole. Without an
-- index every merge scanned the whole backlog of lists waiting for theirs
-- (2,800 lists of 300 waiting: 0.1 s a scan, and falling further behind).
-- Rows arrive in runs of one snapshot with ever larger ids, so the index
-- grows at its right edge: taking in a million rows measured the same with
-- it as without, within the noise of the runs.
CREATE INDEX snapshot_intake_by_snapshot ON realreach.snapshot_intake (snapshot_id);
ALTER TABLE realreach.snapshot_intake
    ADD CONSTRAINT snapshot_intake_tenant CHECK (tenant_id = realreach.current_tenant()) NOT VALID;
ALTER TABLE realreach.snapshot_intake SET (autovacuum_vacuum_scale_factor = 0.01);
REVOKE ALL ON realreach.snapshot_intake FROM PUBLIC;
GRANT INSERT ON realreach.snapshot_intake TO realreach_app;

-- Owns the view and the functions: may read and delete intake rows,
-- nothing else.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'realreach_intake') THEN
        CREATE ROLE realreach_intake NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA realreach TO realreach_intake;
GRANT SELECT, DELETE, TRUNCATE ON realreach.snapshot_intake TO realreach_intake;

-- What the service reads: the current tenant's intake rows. A view, not a
-- set-returning function, so that a read streams (a SECURITY DEFINER
-- function materialises its whole result first: 1.3 s against 0.6 s for a
-- million rows) and takes only the columns it names. It runs with its
-- owner's rights (the service has none on the table); security_barrier
-- keeps any condition a query adds from being evaluated before the tenant
-- filter.
CREATE VIEW realreach.snapshot_intake_rows WITH (security_barrier = true) AS
    SELECT * FROM realreach.snapshot_intake WHERE tenant_id = realreach.current_tenant();
ALTER VIEW realreach.snapshot_intake_rows OWNER TO realreach_intake;
GRANT SELECT ON realreach.snapshot_intake_rows TO realreach_app;

-- Removes them (the merge is done); how many. The common case, one list in
-- flight, makes this snapshot's rows the whole table: TRUNCATE then frees
-- them at once, where a DELETE would cost about a second per million rows
-- and leave them all for VACUUM. That is safe only when no other
-- transaction is using the table (NOWAIT: a COPY or a reader in progress
-- keeps it) and, under the lock, no other snapshot has rows.
CREATE FUNCTION realreach.snapshot_intake_clear(snapshot bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = realreach, pg_temp
    AS $$
    DECLARE
        n bigint;
    BEGIN
        BEGIN
            LOCK TABLE realreach.snapshot_intake IN ACCESS EXCLUSIVE MODE NOWAIT;
            IF NOT EXISTS (SELECT 1 FROM realreach.snapshot_intake
                            WHERE snapshot_id <> snapshot OR tenant_id <> realreach.current_tenant()) THEN
                SELECT count(*) INTO n FROM realreach.snapshot_intake;
                TRUNCATE realreach.snapshot_intake;
                RETURN n;
            END IF;
        EXCEPTION WHEN lock_not_available THEN
            NULL;
        END;
        DELETE FROM realreach.snapshot_intake
         WHERE tenant_id = realreach.current_tenant() AND snapshot_id = snapshot;
        GET DIAGNOSTICS n = ROW_COUNT;
        RETURN n;
    END
    $$;
ALTER FUNCTION realreach.snapshot_intake_clear(bigint) OWNER TO realreach_intake;
REVOKE ALL ON FUNCTION realreach.snapshot_intake_clear(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realreach.snapshot_intake_clear(bigint) TO realreach_app;

-- A snapshot deleted before its merge (expired and purged, or its account
-- deleted) takes its intake rows with it. The snapshot row is the tenant's
-- own (RLS), so its tenant is the current one.
CREATE FUNCTION realreach.snapshot_intake_forget() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = realreach, pg_temp
    AS $$
    BEGIN
        IF OLD.state <> 'complete' THEN
            DELETE FROM realreach.snapshot_intake
             WHERE tenant_id = OLD.tenant_id AND snapshot_id = OLD.id;
        END IF;
        RETURN NULL;
    END
    $$;
ALTER FUNCTION realreach.snapshot_intake_forget() OWNER TO realreach_intake;
REVOKE ALL ON FUNCTION realreach.snapshot_intake_forget() FROM PUBLIC;
CREATE TRIGGER snapshot_intake_forget AFTER DELETE ON realreach.follower_snapshots
    FOR EACH ROW EXECUTE FUNCTION realreach.snapshot_intake_forget();

-- 'merging': every row is in, the merge job has not finished. The job that
-- merges it is named on the snapshot (its progress and any failure are the
-- job's).
ALTER TABLE realreach.follower_snapshots DROP CONSTRAINT follower_snapshots_state_check,
    ADD CONSTRAINT follower_snapshots_state_check CHECK (state IN ('open', 'merging', 'complete')),
    ADD COLUMN merge_job_id bigint;

-- The state a client sees (004's, and now): an open snapshot past its expiry
-- is 'expired'; a merging one whose merge job failed for good is 'failed'
-- (its rows are kept: POST .../complete queues the merge again).
CREATE FUNCTION realreach.snapshot_state(state text, expires_at timestamptz, merge_job_id bigint)
    RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
        SELECT CASE
            WHEN state = 'open' AND expires_at <= now() THEN 'expired'
            WHEN state = 'merging' AND EXISTS (
                SELECT 1 FROM realreach.jobs j
                 WHERE j.tenant_id = realreach.current_tenant() AND j.id = merge_job_id
                   AND j.state = 'failed') THEN 'failed'
            ELSE state END
    $$;
