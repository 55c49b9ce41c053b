-- Jobs (long work: audits, reports, ingest hooks) and idempotency records.

CREATE TABLE realreach.jobs (
    tenant_id    bigint NOT NULL REFERENCES realreach.tenants (id),
    id           bigint GENERATED ALWAYS AS IDENTITY,
    kind         text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    client_id    bigint,  -- set when a client-restricted key enqueued it: only such keys are limited by it
    state        text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'done', 'failed')),
    payload      jsonb NOT NULL DEFAULT '{}',
    result       jsonb,
    error        text,
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    run_at       timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz, -- a running job whose lease passed is claimable again
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES realreach.clients (tenant_id, id) ON DELETE CASCADE
);
-- Runners scan due work across tenants; the only index not led by tenant_id,
-- read only through realreach.claim_job().
CREATE INDEX jobs_due ON realreach.jobs (run_at) WHERE state IN ('queued', 'running');

ALTER TABLE realreach.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE realreach.jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON realreach.jobs TO realreach_app
    USING (tenant_id = realreach.current_tenant())
    WITH CHECK (tenant_id = realreach.current_tenant());
CREATE POLICY runner_claim ON realreach.jobs TO realreach_jobs USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON realreach.jobs TO realreach_app;
GRANT SELECT, UPDATE ON realreach.jobs TO realreach_jobs;

-- Wake the runners when work is queued.
CREATE FUNCTION realreach.jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('realreach_jobs', NEW.kind);
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_notify AFTER INSERT ON realreach.jobs
    FOR EACH ROW EXECUTE FUNCTION realreach.jobs_notify();

-- Claims one due job of any tenant: marks it running with a lease and
-- returns it. SKIP LOCKED lets many runners claim without waiting on each
-- other; a runner that dies leaves a lease that expires.
CREATE FUNCTION realreach.claim_job(p_kinds text[], p_lease_seconds integer)
    RETURNS TABLE (tenant_id bigint, id bigint, kind text, payload jsonb,
                   attempts integer, max_attempts integer)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = realreach, pg_temp
    AS $$
        UPDATE realreach.jobs j
           SET state = 'running', attempts = j.attempts + 1,
               started_at = now(),
               lease_until = now() + make_interval(secs => p_lease_seconds)
          FROM (SELECT c.tenant_id, c.id FROM realreach.jobs c
                 WHERE c.run_at <= now()
                   AND (c.state = 'queued' OR (c.state = 'running' AND c.lease_until < now()))
                   AND c.kind = ANY (p_kinds)
                 ORDER BY c.run_at
                 LIMIT 1
                 FOR UPDATE SKIP LOCKED) due
         WHERE j.tenant_id = due.tenant_id AND j.id = due.id
        RETURNING j.tenant_id, j.id, j.kind, j.payload, j.attempts, j.max_attempts
    $$;
ALTER FUNCTION realreach.claim_job(text[], integer) OWNER TO realreach_jobs;
REVOKE ALL ON FUNCTION realreach.claim_job(text[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realreach.claim_job(text[], integer) TO realreach_app;

-- Counts for /metrics (no tenant data, only totals by state).
CREATE FUNCTION realreach.job_counts()
    RETURNS TABLE (state text, n bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = realreach, pg_temp
    AS $$ SELECT state, count(*) FROM realreach.jobs GROUP BY state $$;
ALTER FUNCTION realreach.job_counts() OWNER TO realreach_jobs;
REVOKE ALL ON FUNCTION realreach.job_counts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realreach.job_counts() TO realreach_app;

-- Idempotency-Key records: the answer of a committed creating request,
-- stored in the same transaction as its write.
CREATE TABLE realreach.idempotency_keys (
    tenant_id    bigint NOT NULL REFERENCES realreach.tenants (id),
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    method       text NOT NULL,
    path         text NOT NULL,
    request_hash bytea NOT NULL,
    status       integer NOT NULL,
    location     text,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_age ON realreach.idempotency_keys (tenant_id, created_at);
ALTER TABLE realreach.idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE realreach.idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON realreach.idempotency_keys TO realreach_app
    USING (tenant_id = realreach.current_tenant())
    WITH CHECK (tenant_id = realreach.current_tenant());
GRANT SELECT, INSERT, DELETE ON realreach.idempotency_keys TO realreach_app;
