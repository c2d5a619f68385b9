-- Tenancy: MSPs, tenants, principals, API keys and the admin audit log.
--
-- The service connects as a login role that is a member of `charter_app` and is
-- not the owner of these tables, so row-level security applies to it. Every
-- transaction sets `charter.msp_id` and, inside a tenant, `charter.tenant_id`
-- (see CharterStore.Database.withTenant); with neither set, no row is visible.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'charter_app') THEN
        CREATE ROLE charter_app NOLOGIN;
    END IF;
END
$$;

CREATE SCHEMA charter_private;
REVOKE ALL ON SCHEMA charter_private FROM PUBLIC;
GRANT USAGE ON SCHEMA charter_private TO charter_app;

-- `current_setting(..., true)` yields NULL before the first set_config of a
-- session and '' after a transaction that set it locally has ended.
CREATE FUNCTION charter_private.current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('charter.tenant_id', true), '')::uuid $$;

CREATE FUNCTION charter_private.current_msp() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('charter.msp_id', true), '')::uuid $$;

GRANT EXECUTE ON FUNCTION charter_private.current_tenant(), charter_private.current_msp() TO charter_app;

CREATE TABLE msps (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    msp_id      uuid NOT NULL REFERENCES msps (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);
CREATE UNIQUE INDEX tenants_msp_name_key ON tenants (msp_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX tenants_msp_id_idx ON tenants (msp_id, id);

-- Principals and their API keys belong to an MSP; a principal scoped to one
-- tenant carries that tenant's id, an MSP-wide one carries NULL.
CREATE TABLE principals (
    msp_id      uuid NOT NULL REFERENCES msps (id),
    id          uuid NOT NULL,
    tenant_id   uuid REFERENCES tenants (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'approver', 'auditor')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (msp_id, id)
);

CREATE TABLE api_keys (
    msp_id        uuid NOT NULL,
    id            uuid NOT NULL,
    principal_id  uuid NOT NULL,
    tenant_id     uuid REFERENCES tenants (id),
    secret_hash   bytea NOT NULL CHECK (length(secret_hash) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    uuid,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    PRIMARY KEY (msp_id, id),
    UNIQUE (id),
    FOREIGN KEY (msp_id, principal_id) REFERENCES principals (msp_id, id)
);

-- Append-only, hash-chained audit logs: one chain per tenant, one per MSP for
-- actions on the MSP itself.
CREATE TABLE audit_events (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    seq           bigint NOT NULL CHECK (seq > 0),
    id            uuid NOT NULL UNIQUE,
    occurred_at   timestamptz NOT NULL,
    actor_id      uuid,
    actor_name    text NOT NULL,
    action        text NOT NULL,
    target_type   text NOT NULL,
    target_id     text NOT NULL,
    before        text,
    after         text,
    request_id    text,
    client_ip     text,
    prev_hash     bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash          bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_events_time_idx ON audit_events (tenant_id, occurred_at);

CREATE TABLE msp_audit_events (
    msp_id        uuid NOT NULL REFERENCES msps (id),
    seq           bigint NOT NULL CHECK (seq > 0),
    id            uuid NOT NULL UNIQUE,
    occurred_at   timestamptz NOT NULL,
    actor_id      uuid,
    actor_name    text NOT NULL,
    action        text NOT NULL,
    target_type   text NOT NULL,
    target_id     text NOT NULL,
    before        text,
    after         text,
    request_id    text,
    client_ip     text,
    prev_hash     bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash          bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (msp_id, seq)
);

ALTER TABLE msps ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE principals ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE msp_audit_events ENABLE ROW LEVEL SECURITY;

CREATE POLICY msp_isolation ON msps
    USING (id = charter_private.current_msp());

-- Inside a tenant only that tenant is visible, even to an MSP-wide principal.
CREATE POLICY msp_isolation ON tenants
    USING (msp_id = charter_private.current_msp()
           AND (charter_private.current_tenant() IS NULL OR id = charter_private.current_tenant()));

CREATE POLICY msp_isolation ON principals
    USING (msp_id = charter_private.current_msp()
           AND (charter_private.current_tenant() IS NULL OR tenant_id = charter_private.current_tenant()));

CREATE POLICY msp_isolation ON api_keys
    USING (msp_id = charter_private.current_msp()
           AND (charter_private.current_tenant() IS NULL OR tenant_id = charter_private.current_tenant()));

CREATE POLICY tenant_isolation ON audit_events
    USING (tenant_id = charter_private.current_tenant());

CREATE POLICY msp_isolation ON msp_audit_events
    USING (msp_id = charter_private.current_msp() AND charter_private.current_tenant() IS NULL);

-- Readiness compares the applied migrations with the build's.
GRANT SELECT ON schema_migrations TO charter_app;
GRANT SELECT ON msps TO charter_app;
GRANT SELECT, INSERT, UPDATE ON tenants TO charter_app;
GRANT SELECT, INSERT, UPDATE ON principals TO charter_app;
GRANT SELECT, INSERT, UPDATE ON api_keys TO charter_app;
GRANT SELECT, INSERT ON audit_events, msp_audit_events TO charter_app;

-- Authentication happens before any tenant is known: this function, owned by
-- the schema owner, is the one way for the service role to read a key across
-- tenants, and it returns only what authentication needs.
CREATE FUNCTION charter_private.api_key_credential(key_id uuid)
    RETURNS TABLE (secret_hash bytea, principal_id uuid, msp_id uuid, tenant_id uuid, name text, role text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
        SELECT k.secret_hash, p.id, p.msp_id, p.tenant_id, p.name, p.role
        FROM api_keys k
        JOIN principals p ON p.msp_id = k.msp_id AND p.id = k.principal_id
        LEFT JOIN tenants t ON t.id = p.tenant_id
        WHERE k.id = key_id
          AND k.revoked_at IS NULL
          AND (k.expires_at IS NULL OR k.expires_at > now())
          AND (p.tenant_id IS NULL OR t.deleted_at IS NULL)
    $$;
REVOKE ALL ON FUNCTION charter_private.api_key_credential(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.api_key_credential(uuid) TO charter_app;
