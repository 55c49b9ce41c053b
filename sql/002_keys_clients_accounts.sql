-- API keys, clients (the agency's brands) and their social accounts.
-- Every table leads with tenant_id in its primary key, indexes and foreign
-- keys: the RLS predicate becomes an index condition, and the schema can be
-- distributed by tenant_id (Citus) without changing a query.

CREATE TABLE realreach.clients (
    tenant_id  bigint NOT NULL REFERENCES realreach.tenants (id),
    id         bigint GENERATED ALWAYS AS IDENTITY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    notes      text CHECK (length(notes) <= 4000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE realreach.api_keys (
    tenant_id    bigint NOT NULL REFERENCES realreach.tenants (id),
    id           bigint GENERATED ALWAYS AS IDENTITY,
    public_id    text NOT NULL UNIQUE CHECK (public_id ~ '^[A-Za-z0-9]{8,24}$'),
    digest       bytea NOT NULL CHECK (length(digest) = 32), -- SHA-256 of the whole key
    name         text CHECK (length(name) <= 200),
    scope        text NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    client_id    bigint,
    rate_limit   integer CHECK (rate_limit BETWEEN 1 AND 100000), -- requests/s; NULL = service default
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES realreach.clients (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE realreach.accounts (
    tenant_id   bigint NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    client_id   bigint NOT NULL,
    platform    text NOT NULL CHECK (platform IN ('x', 'instagram', 'tiktok', 'facebook', 'youtube', 'linkedin')),
    handle      text NOT NULL CHECK (length(handle) BETWEEN 1 AND 100),
    external_id text CHECK (length(external_id) BETWEEN 1 AND 100),
    relation    text NOT NULL DEFAULT 'own' CHECK (relation IN ('own', 'competitor')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES realreach.clients (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (tenant_id, client_id, platform, handle)
);
CREATE INDEX accounts_by_client ON realreach.accounts (tenant_id, client_id, id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['clients', 'api_keys', 'accounts'] LOOP
        EXECUTE format('ALTER TABLE realreach.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE realreach.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON realreach.%I TO realreach_app
                        USING (tenant_id = realreach.current_tenant())
                        WITH CHECK (tenant_id = realreach.current_tenant())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON realreach.clients, realreach.accounts TO realreach_app;
GRANT SELECT, INSERT, UPDATE ON realreach.api_keys TO realreach_app;

-- Key lookup before the tenant is known: only by exact public id, only the
-- columns authentication needs, through a SECURITY DEFINER function owned by
-- realreach_auth, whose own policy is the only one that reads across tenants.
CREATE POLICY auth_lookup ON realreach.api_keys FOR SELECT TO realreach_auth USING (true);
GRANT SELECT ON realreach.api_keys TO realreach_auth;

CREATE FUNCTION realreach.key_lookup(p_public_id text)
    RETURNS TABLE (key_id bigint, tenant_id bigint, digest bytea, scope text,
                   client_id bigint, expired boolean, revoked boolean,
                   expires_in double precision, rate_limit integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = realreach, pg_temp
    AS $$
        SELECT k.id, k.tenant_id, k.digest, k.scope, k.client_id,
               k.expires_at IS NOT NULL AND k.expires_at <= now(),
               k.revoked_at IS NOT NULL,
               extract(epoch FROM k.expires_at - now())::double precision,
               k.rate_limit
          FROM realreach.api_keys k
         WHERE k.public_id = p_public_id
    $$;
ALTER FUNCTION realreach.key_lookup(text) OWNER TO realreach_auth;
REVOKE ALL ON FUNCTION realreach.key_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realreach.key_lookup(text) TO realreach_app;
