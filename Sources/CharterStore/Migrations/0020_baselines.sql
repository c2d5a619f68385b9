-- Baselines: MSP-level policy templates assigned to tenants (issue 19; docs/baselines.md).
--
-- A baseline belongs to an MSP and is stored as the canonical JSON document CharterCore writes, decoded
-- strictly on every read, like the settings. `tenant_baselines` is a tenant's ordered list of assigned
-- baselines (`position` 0 first); its foreign keys bind the tenant and the baseline to the same MSP, so a
-- baseline of one MSP can never be assigned to a tenant of another, whatever the service does.
--
-- Visibility: inside an MSP transaction (no tenant selected) the MSP's baselines and every assignment of its
-- tenants; inside a tenant, only that tenant's assignments and the baselines assigned to it.
--
-- `tenant_settings.sections` records which top-level sections the tenant's own document contained: the
-- tenant wins over its baselines only there. Rows saved before this migration were whole documents whose
-- intent cannot be told apart, so they count as setting every section (the policy they enforce stays the
-- same when a baseline is assigned); saving the settings again records what that document contains.

ALTER TABLE tenant_settings
    ADD COLUMN sections text[] NOT NULL
        DEFAULT ARRAY['run_as_admin', 'admin_session', 'approval', 'pre_approved_applications', 'endpoint']
        CHECK (sections <@ ARRAY['run_as_admin', 'admin_session', 'approval', 'pre_approved_applications',
                                 'endpoint']::text[]);
ALTER TABLE tenant_settings ALTER COLUMN sections DROP DEFAULT;

ALTER TABLE tenants ADD CONSTRAINT tenants_id_msp_key UNIQUE (id, msp_id);

CREATE TABLE baselines (
    msp_id      uuid NOT NULL REFERENCES msps (id),
    id          uuid NOT NULL UNIQUE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    document    text NOT NULL CHECK (left(document, 1) = '{'),
    version     bigint NOT NULL CHECK (version > 0),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (msp_id, id)
);
CREATE UNIQUE INDEX baselines_msp_name_key ON baselines (msp_id, lower(name));

CREATE TABLE tenant_baselines (
    tenant_id    uuid NOT NULL,
    position     integer NOT NULL CHECK (position >= 0),
    msp_id       uuid NOT NULL,
    baseline_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, position),
    UNIQUE (tenant_id, baseline_id),
    FOREIGN KEY (tenant_id, msp_id) REFERENCES tenants (id, msp_id),
    FOREIGN KEY (msp_id, baseline_id) REFERENCES baselines (msp_id, id)
);
CREATE INDEX tenant_baselines_baseline_idx ON tenant_baselines (msp_id, baseline_id, tenant_id);

ALTER TABLE baselines ENABLE ROW LEVEL SECURITY;
ALTER TABLE baselines FORCE ROW LEVEL SECURITY;
ALTER TABLE tenant_baselines ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_baselines FORCE ROW LEVEL SECURITY;

CREATE POLICY msp_isolation ON tenant_baselines
    USING (msp_id = charter_private.current_msp()
           AND (charter_private.current_tenant() IS NULL OR tenant_id = charter_private.current_tenant()));

CREATE POLICY msp_isolation ON baselines
    USING (msp_id = charter_private.current_msp()
           AND (charter_private.current_tenant() IS NULL
                OR EXISTS (SELECT FROM tenant_baselines a
                           WHERE a.tenant_id = charter_private.current_tenant() AND a.baseline_id = baselines.id)));

GRANT SELECT, INSERT, UPDATE, DELETE ON baselines, tenant_baselines TO charter_app;
