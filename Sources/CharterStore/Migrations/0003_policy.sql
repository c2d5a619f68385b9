-- Policy: each tenant's global settings document and its ordered list of subsettings.
--
-- Documents are stored as the canonical JSON CharterCore writes (sorted keys, every field written out), so
-- equal settings are equal text; the service decodes them strictly on every read. A tenant without a
-- `tenant_settings` row has the restrictive defaults (`Settings()`, version 0).

CREATE TABLE tenant_settings (
    tenant_id      uuid PRIMARY KEY REFERENCES tenants (id),
    document       text NOT NULL CHECK (left(document, 1) = '{'),
    version        bigint NOT NULL CHECK (version > 0),
    updated_at     timestamptz NOT NULL,
    updated_by_id  uuid,
    updated_by     text NOT NULL
);

-- One row per subsetting; `position` is its priority (0 first) in the tenant's one list. The unique
-- constraint is checked at the end of each statement, so one UPDATE can renumber the whole list.
CREATE TABLE subsettings (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    position     integer NOT NULL CHECK (position >= 0),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description  text NOT NULL CHECK (length(description) <= 2000),
    enabled      boolean NOT NULL,
    target       text NOT NULL CHECK (target IN ('user', 'computer')),
    -- objectGUIDs of the listed groups and OUs, sorted.
    scope_groups uuid[] NOT NULL,
    scope_ous    uuid[] NOT NULL CHECK (cardinality(scope_groups) + cardinality(scope_ous) BETWEEN 1 AND 1000),
    -- The overrides object: only the sections the subsetting replaces.
    overrides    text NOT NULL CHECK (left(overrides, 1) = '{'),
    version      bigint NOT NULL CHECK (version > 0),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT subsettings_position_key UNIQUE (tenant_id, position) DEFERRABLE INITIALLY IMMEDIATE
);

ALTER TABLE tenant_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE subsettings ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON tenant_settings
    USING (tenant_id = charter_private.current_tenant());

CREATE POLICY tenant_isolation ON subsettings
    USING (tenant_id = charter_private.current_tenant());

GRANT SELECT, INSERT, UPDATE ON tenant_settings TO charter_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON subsettings TO charter_app;
