-- Roles, the tenancy function and the tenants table.
--
-- realreach_app   the service's login role: owns nothing, not superuser, no
--                 BYPASSRLS; sees rows only of the tenant set for the
--                 current transaction.
-- realreach_auth  owns the key-lookup function (SECURITY DEFINER); a policy
--                 lets it read api_keys by public id before a tenant is known.
-- realreach_jobs  owns the job-claiming function; a policy lets it see queued
--                 jobs of every tenant (runners claim across tenants).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'realreach_app') THEN
        CREATE ROLE realreach_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'realreach_auth') THEN
        CREATE ROLE realreach_auth NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'realreach_jobs') THEN
        CREATE ROLE realreach_jobs NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS realreach;
GRANT USAGE ON SCHEMA realreach TO realreach_app, realreach_auth, realreach_jobs;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- The tenant of the current transaction. Fails (cannot cast '' or a missing
-- setting) when none is set, so a query without a tenant errors instead of
-- seeing nothing or everything.
CREATE FUNCTION realreach.current_tenant() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT current_setting('realreach.tenant_id')::bigint $$;

CREATE TABLE realreach.tenants (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE realreach.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE realreach.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_self ON realreach.tenants
    USING (id = realreach.current_tenant())
    WITH CHECK (id = realreach.current_tenant());
GRANT SELECT ON realreach.tenants TO realreach_app;

-- The one timestamp format of the API: ISO 8601 in UTC with milliseconds.
-- STABLE, like to_char: an IMMUTABLE SQL function over a STABLE body is
-- never inlined, and would be parsed and planned on every call.
CREATE FUNCTION realreach.iso(t timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
