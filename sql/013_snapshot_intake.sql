-- Follower lists are taken in at COPY speed and merged into the profile
-- directory afterwards, by a job ("followers.merge").
--
-- Why: inserting a million new rows into realreach.profiles (two unique
-- B-trees, checks, row-level security) costs two to three times a bare COPY
-- of the same rows, and held a FastCGI worker for the whole of it. Now the
-- request validates, streams every row straight into realreach.snapshot_intake
-- with one binary COPY, reports duplicates, commits and answers 202; the job
-- runner then upserts the profiles, writes the membership
-- (realreach.snapshot_chunks), marks the snapshot complete, empties its intake
-- rows and emits "followers.stored". Until then the snapshot's state reads
-- 'merging', and analyses do not see it.
--
-- COPY FROM refuses a table under row-level security, so this one table is
-- guarded another way, as strictly:
--   * the service role may only INSERT (COPY) into it: no SELECT, UPDATE or
--     DELETE (`realreach migrate` refuses a table without RLS unless this
--     holds);
--   * a CHECK pins every new row to the transaction's tenant (current_tenant()
--     fails when none is set). NOT VALID only so that a dump restores it after
--     the data: new rows are always checked;
--   * the rows are read and removed only through the SECURITY DEFINER
--     functions below, which see nothing but the current tenant's rows.
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
-- Rows are few and short-lived (a snapshot's rows live until its merge ends,
-- seconds to minutes), so no index: every read takes one snapshot's rows
-- whole, and an index would cost the COPY a quarter of its speed.
ALTER TABLE realreach.snapshot_intake
    ADD CONSTRAINT snapshot_intake_tenant CHECK (tenant_id = realreach.current_tenant()) NOT VALID;
ALTER TABLE realreach.snapshot_intake SET (autovacuum_vacuum_scale_factor = 0.01);
REVOKE ALL ON realreach.snapshot_intake FROM PUBLIC;
GRANT INSERT ON realreach.snapshot_intake TO realreach_app;

-- Owns the two functions: may read and delete intake rows, nothing else.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'realreach_intake') THEN
        CREATE ROLE realreach_intake NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA realreach TO realreach_intake;
GRANT SELECT, DELETE, TRUNCATE ON realreach.snapshot_intake TO realreach_intake;

-- The current tenant's intake rows of one snapshot.
CREATE FUNCTION realreach.snapshot_intake_rows(snapshot bigint)
    RETURNS SETOF realreach.snapshot_intake
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = realreach, pg_temp
    AS $$
        SELECT * FROM realreach.snapshot_intake
         WHERE tenant_id = realreach.current_tenant() AND snapshot_id = snapshot
    $$;

-- Only the keys, where they were and in which part (duplicate checks: a
-- narrow row per member instead of the whole observation).
CREATE FUNCTION realreach.snapshot_intake_keys(snapshot bigint)
    RETURNS TABLE (part integer, "position" bigint, external_id text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = realreach, pg_temp
    AS $$
        SELECT i.part, i.position, i.external_id FROM realreach.snapshot_intake i
         WHERE i.tenant_id = realreach.current_tenant() AND i.snapshot_id = snapshot
    $$;

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
ALTER FUNCTION realreach.snapshot_intake_rows(bigint) OWNER TO realreach_intake;
ALTER FUNCTION realreach.snapshot_intake_clear(bigint) OWNER TO realreach_intake;
ALTER FUNCTION realreach.snapshot_intake_keys(bigint) OWNER TO realreach_intake;
REVOKE ALL ON FUNCTION realreach.snapshot_intake_keys(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realreach.snapshot_intake_keys(bigint) TO realreach_app;
REVOKE ALL ON FUNCTION realreach.snapshot_intake_rows(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION realreach.snapshot_intake_clear(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realreach.snapshot_intake_rows(bigint) TO realreach_app;
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
