-- On-premises directory connectors (issue 16; docs/connector-protocol.md, docs/connector.md).
--
-- A connector enrolls with an enrollment token of purpose `connector` and a key of its own, authenticates
-- with short-lived tokens renewed by signature (as devices do), and serves directory connections in
-- `connector` mode: the service keeps schedules, leases, runs and the merge; the connector reads the DC at the
-- customer's site and uploads pages. The service stores neither the DC's address nor the bind password of
-- such a connection.

ALTER TABLE enrollment_tokens
    ADD COLUMN purpose text NOT NULL DEFAULT 'device' CHECK (purpose IN ('device', 'connector'));

CREATE TABLE connectors (
    tenant_id                   uuid NOT NULL REFERENCES tenants (id),
    id                          uuid NOT NULL UNIQUE,
    name                        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    hostname                    text NOT NULL CHECK (length(hostname) BETWEEN 1 AND 255),
    version                     text NOT NULL CHECK (length(version) BETWEEN 1 AND 64),
    protocol_version            integer NOT NULL CHECK (protocol_version >= 1),
    -- The raw Ed25519 public key: the connector's identity.
    signing_key                 bytea NOT NULL CHECK (length(signing_key) = 32),
    token_hash                  bytea NOT NULL CHECK (length(token_hash) = 32),
    token_expires_at            timestamptz NOT NULL,
    -- A renewal keeps the replaced token working until its own expiry, as for devices (migration 0014).
    previous_token_hash         bytea CHECK (length(previous_token_hash) = 32),
    previous_token_expires_at   timestamptz,
    enrollment_token_id         uuid,
    enrolled_at                 timestamptz NOT NULL,
    last_seen_at                timestamptz,
    last_seen_ip                text,
    -- What the last heartbeat said of the DCs: [{"url": …, "reachable": …, "checked_at": …, "error": …}].
    domain_controllers          jsonb NOT NULL DEFAULT '[]',
    revoked_at                  timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, signing_key)
);

-- A connection is read by the service (`direct`) or by connectors at the site (`connector`); only a direct
-- connection has LDAP settings and a sealed bind password here.
ALTER TABLE directory_connections
    ADD COLUMN mode text NOT NULL DEFAULT 'direct' CHECK (mode IN ('direct', 'connector')),
    ALTER COLUMN urls DROP NOT NULL,
    ALTER COLUMN base_dn DROP NOT NULL,
    ALTER COLUMN bind_dn DROP NOT NULL,
    ALTER COLUMN bind_password_sealed DROP NOT NULL,
    ALTER COLUMN tls_mode DROP NOT NULL;
ALTER TABLE directory_connections ADD CONSTRAINT directory_connections_mode_settings CHECK (
    (mode = 'direct' AND urls IS NOT NULL AND base_dn IS NOT NULL AND bind_dn IS NOT NULL
        AND bind_password_sealed IS NOT NULL AND tls_mode IS NOT NULL)
    OR (mode = 'connector' AND urls IS NULL AND base_dn IS NULL AND bind_dn IS NULL
        AND bind_password_sealed IS NULL AND tls_mode IS NULL AND ca_pem IS NULL)
);

-- The connectors that serve a connection in `connector` mode, in the administrator's order.
CREATE TABLE directory_connection_connectors (
    tenant_id       uuid NOT NULL,
    connection_id   uuid NOT NULL,
    connector_id    uuid NOT NULL,
    position        integer NOT NULL CHECK (position >= 0),
    PRIMARY KEY (tenant_id, connection_id, connector_id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES directory_connections (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, connector_id) REFERENCES connectors (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX directory_connection_connectors_connector_idx
    ON directory_connection_connectors (tenant_id, connector_id);

-- Which connector is active for a connection, until when: renewed by its heartbeats, taken over by another
-- connector's heartbeat once it has run out.
CREATE TABLE connector_leases (
    tenant_id       uuid NOT NULL,
    connection_id   uuid NOT NULL,
    connector_id    uuid NOT NULL,
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, connection_id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES directory_connections (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, connector_id) REFERENCES connectors (tenant_id, id) ON DELETE CASCADE
);

-- A run of a `connector` connection waiting for, or holding, a connector's upload.
--   waiting   assigned to `connector_id`, pages arriving
--   complete  every page held and `completion` recorded; the engine merges it
--   failed    the connector reported `error`
CREATE TABLE connector_uploads (
    tenant_id       uuid NOT NULL,
    run_id          uuid NOT NULL,
    connection_id   uuid NOT NULL,
    connector_id    uuid NOT NULL,
    state           text NOT NULL CHECK (state IN ('waiting', 'complete', 'failed')),
    requested_kind  text NOT NULL CHECK (requested_kind IN ('full', 'incremental')),
    -- The `complete` body: kind, pages, counts and the DC's identity.
    completion      jsonb,
    error           text CHECK (length(error) <= 2000),
    deadline_at     timestamptz NOT NULL,
    assigned_at     timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, run_id),
    FOREIGN KEY (tenant_id, run_id) REFERENCES directory_sync_runs (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, connector_id) REFERENCES connectors (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX connector_uploads_connector_idx ON connector_uploads (tenant_id, connector_id) WHERE state = 'waiting';

-- One uploaded page, as sent (gzip or identity) and by the SHA-256 of its decompressed bytes: a page sent
-- twice is recognised, a different page under the same number refused.
CREATE TABLE connector_upload_pages (
    tenant_id       uuid NOT NULL,
    run_id          uuid NOT NULL,
    page            integer NOT NULL CHECK (page >= 1),
    sha256          bytea NOT NULL CHECK (length(sha256) = 32),
    gzip            boolean NOT NULL,
    body            bytea NOT NULL,
    objects         integer NOT NULL CHECK (objects >= 0),
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, run_id, page),
    FOREIGN KEY (tenant_id, run_id) REFERENCES connector_uploads (tenant_id, run_id) ON DELETE CASCADE
);

ALTER TABLE change_feed DROP CONSTRAINT change_feed_event_check;
ALTER TABLE change_feed ADD CONSTRAINT change_feed_event_check
    CHECK (event IN ('bundle', 'decision', 'disconnect', 'connector'));

DO $$
DECLARE
    rel regclass;
BEGIN
    FOREACH rel IN ARRAY ARRAY['connectors', 'directory_connection_connectors', 'connector_leases',
        'connector_uploads', 'connector_upload_pages']::regclass[]
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', rel);
        EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', rel);
        EXECUTE pg_catalog.format(
            'CREATE POLICY tenant_isolation ON %s USING (tenant_id = charter_private.current_tenant())', rel
        );
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO charter_app', rel);
    END LOOP;
END
$$;

-- Connector authentication happens before the tenant is known, as device authentication does.
CREATE FUNCTION charter_private.connector_session(connector_id uuid)
    RETURNS TABLE (token_hash bytea, token_expires_at timestamptz, previous_token_hash bytea,
                   previous_token_expires_at timestamptz, tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT c.token_hash, c.token_expires_at, c.previous_token_hash, c.previous_token_expires_at,
               c.tenant_id, t.msp_id
        FROM public.connectors c JOIN public.tenants t ON t.id = c.tenant_id
        WHERE c.id = connector_id AND c.revoked_at IS NULL AND t.deleted_at IS NULL
    $$;

-- What token renewal needs: the key a renewal must be signed with.
CREATE FUNCTION charter_private.connector_signing_key(connector_id uuid)
    RETURNS TABLE (signing_key bytea, tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT c.signing_key, c.tenant_id, t.msp_id
        FROM public.connectors c JOIN public.tenants t ON t.id = c.tenant_id
        WHERE c.id = connector_id AND c.revoked_at IS NULL AND t.deleted_at IS NULL
    $$;

-- An enrollment token's credential now says what it enrolls.
DROP FUNCTION charter_private.enrollment_token_credential(uuid);
CREATE FUNCTION charter_private.enrollment_token_credential(token_id uuid)
    RETURNS TABLE (secret_hash bytea, tenant_id uuid, msp_id uuid, purpose text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT e.secret_hash, e.tenant_id, t.msp_id, e.purpose
        FROM public.enrollment_tokens e JOIN public.tenants t ON t.id = e.tenant_id
        WHERE e.id = token_id
          AND e.revoked_at IS NULL
          AND (e.expires_at IS NULL OR e.expires_at > pg_catalog.now())
          AND (e.max_uses IS NULL OR e.uses < e.max_uses)
          AND t.deleted_at IS NULL
    $$;

REVOKE ALL ON FUNCTION charter_private.connector_session(uuid), charter_private.connector_signing_key(uuid),
    charter_private.enrollment_token_credential(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.connector_session(uuid), charter_private.connector_signing_key(uuid),
    charter_private.enrollment_token_credential(uuid) TO charter_app;

GRANT SELECT ON connectors TO charter_definer;
CREATE POLICY definer_access ON connectors TO charter_definer USING (current_user = 'charter_definer');
GRANT CREATE ON SCHEMA charter_private TO charter_definer;
ALTER FUNCTION charter_private.connector_session(uuid) OWNER TO charter_definer;
ALTER FUNCTION charter_private.connector_signing_key(uuid) OWNER TO charter_definer;
ALTER FUNCTION charter_private.enrollment_token_credential(uuid) OWNER TO charter_definer;
REVOKE CREATE ON SCHEMA charter_private FROM charter_definer;
