-- Housekeeping that crosses tenants, run by the job runners about once a
-- minute through one SECURITY DEFINER function: Idempotency-Key records are
-- kept 24 hours (a client retries within minutes; a day covers a long outage).
CREATE INDEX idempotency_keys_by_age ON realreach.idempotency_keys (created_at);
CREATE POLICY maintenance ON realreach.idempotency_keys TO realreach_jobs USING (true);
GRANT SELECT, DELETE ON realreach.idempotency_keys TO realreach_jobs;

CREATE FUNCTION realreach.maintenance() RETURNS integer
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = realreach, pg_temp
    AS $$
        WITH gone AS (
            DELETE FROM realreach.idempotency_keys
             WHERE created_at < now() - interval '24 hours'
            RETURNING 1)
        SELECT count(*)::integer FROM gone
    $$;
ALTER FUNCTION realreach.maintenance() OWNER TO realreach_jobs;
REVOKE ALL ON FUNCTION realreach.maintenance() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realreach.maintenance() TO realreach_app;
