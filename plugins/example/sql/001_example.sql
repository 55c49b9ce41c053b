-- example plugin, migration 001: account labels.
--
-- A plugin's table follows the core's rules (see sql/002_*.sql):
--   * tenant_id leads the primary key, every index and every foreign key, so
--     the row-level-security predicate is an index condition and the table
--     can be distributed by tenant_id (Citus) like the core's;
--   * row-level security is enabled AND forced, with USING and WITH CHECK, so
--     the service role sees and writes only the current tenant's rows;
--   * the service role gets only the privileges the plugin's SQL needs.
-- Migrations are applied once, in name order, by `realreach migrate` and
-- recorded; never edit one that has shipped: add 002_*.sql instead.

CREATE TABLE realreach.example_account_labels (
    tenant_id  bigint NOT NULL,
    account_id bigint NOT NULL,
    label      text NOT NULL CHECK (label ~ '^[a-z0-9_-]{1,50}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id, label),
    -- The key includes tenant_id: foreign-key checks ignore row-level
    -- security, so a key on account_id alone would let a tenant label
    -- another tenant's account by guessing its id.
    FOREIGN KEY (tenant_id, account_id)
        REFERENCES realreach.accounts (tenant_id, id) ON DELETE CASCADE
);

-- GET /v1/labels/{label}/accounts pages through this in account order.
CREATE INDEX example_account_labels_by_label
    ON realreach.example_account_labels (tenant_id, label, account_id);

ALTER TABLE realreach.example_account_labels ENABLE ROW LEVEL SECURITY;
ALTER TABLE realreach.example_account_labels FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON realreach.example_account_labels TO realreach_app
    USING (tenant_id = realreach.current_tenant())
    WITH CHECK (tenant_id = realreach.current_tenant());

GRANT SELECT, INSERT, DELETE ON realreach.example_account_labels TO realreach_app;
