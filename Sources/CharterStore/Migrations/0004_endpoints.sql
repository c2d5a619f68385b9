-- Endpoints: enrollment tokens, enrolled devices and the users seen on them, each tenant's
-- bundle-signing keys, the current bundle of every device, endpoint audit event ids, offline-PIN
-- issuances, and the change feed that tells every replica which devices to send a hint.
-- See docs/agent-protocol.md and docs/bundle-format.md.

CREATE TABLE enrollment_tokens (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL UNIQUE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    secret_hash   bytea NOT NULL CHECK (length(secret_hash) = 32),
    expires_at    timestamptz,
    max_uses      integer CHECK (max_uses > 0),
    uses          integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
    created_at    timestamptz NOT NULL,
    created_by    uuid,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    CHECK (max_uses IS NULL OR uses <= max_uses)
);

-- Ed25519 keys that sign a tenant's bundles. A key is `next` before activates_at, `active` from then
-- until retires_at, `retired` after; the private key is sealed (SecretSealer's text form).
CREATE TABLE signing_keys (
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    kid                 text NOT NULL,
    public_key          bytea NOT NULL CHECK (length(public_key) = 32),
    private_key_sealed  text NOT NULL,
    created_at          timestamptz NOT NULL,
    activates_at        timestamptz NOT NULL,
    retires_at          timestamptz,
    PRIMARY KEY (tenant_id, kid),
    CHECK (retires_at IS NULL OR retires_at >= activates_at)
);

CREATE TABLE devices (
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    id                  uuid NOT NULL UNIQUE,
    hostname            text NOT NULL CHECK (length(hostname) BETWEEN 1 AND 253),
    os                  text CHECK (length(os) <= 200),
    agent_version       text NOT NULL CHECK (length(agent_version) BETWEEN 1 AND 64),
    -- What the agent reported, and the directory computer it was linked to (objectGUID).
    reported_sid        text,
    reported_guid       uuid,
    computer_guid       uuid,
    encryption_key      bytea NOT NULL CHECK (length(encryption_key) = 32),
    signing_key         bytea NOT NULL CHECK (length(signing_key) = 32),
    token_hash          bytea NOT NULL CHECK (length(token_hash) = 32),
    pin_secret_sealed   text NOT NULL,
    enrollment_token_id uuid,
    enrolled_at         timestamptz NOT NULL,
    reenrolled_at       timestamptz,
    last_seen_at        timestamptz,
    held_version        bigint,
    revoked_at          timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, signing_key)
);
CREATE INDEX devices_computer_idx ON devices (tenant_id, computer_guid) WHERE revoked_at IS NULL;
CREATE INDEX devices_hostname_idx ON devices (tenant_id, lower(hostname)) WHERE revoked_at IS NULL;

-- Users reported by check-ins; `identity` is `sid:…`, `guid:…` or `upn:…` (lower case), the first the
-- agent gave.
CREATE TABLE device_users (
    tenant_id     uuid NOT NULL,
    device_id     uuid NOT NULL,
    identity      text NOT NULL,
    sid           text,
    guid          uuid,
    upn           text,
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, device_id, identity),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);

-- The current bundle of each device. `feed_seq` is the tenant's change-feed position it was computed
-- at and `key_state` the signing-key statuses it announced: when either moved, the content is worked
-- out again, and `version` rises only if `content_hash` differs.
CREATE TABLE device_bundles (
    tenant_id     uuid NOT NULL,
    device_id     uuid NOT NULL,
    version       bigint NOT NULL CHECK (version > 0),
    content_hash  bytea NOT NULL CHECK (length(content_hash) = 32),
    feed_seq      bigint NOT NULL,
    key_state     text NOT NULL,
    issued_at     timestamptz NOT NULL,
    refresh_after timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    compact       text NOT NULL,
    PRIMARY KEY (tenant_id, device_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);

-- Ids of endpoint audit events already accepted, so that a retried upload is not logged twice.
CREATE TABLE endpoint_events (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    device_id    uuid NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Offline-PIN responses handed out; a challenge gets one response.
CREATE TABLE pin_issuances (
    tenant_id    uuid NOT NULL,
    device_id    uuid NOT NULL,
    challenge    text NOT NULL,
    issued_at    timestamptz NOT NULL,
    issued_by    uuid,
    PRIMARY KEY (tenant_id, device_id, challenge),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);

-- The durable change feed. Writers append under a transaction-scoped advisory lock, so rows become
-- visible in `seq` order and a reader that has seen `seq` N has seen everything before it; then
-- `pg_notify('charter_changes', seq)`. `device_ids` NULL means every device of the tenant.
CREATE TABLE change_feed (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    event        text NOT NULL CHECK (event IN ('bundle', 'decision')),
    device_ids   uuid[],
    data         text NOT NULL CHECK (left(data, 1) = '{')
);
CREATE INDEX change_feed_tenant_idx ON change_feed (tenant_id, event, seq);

ALTER TABLE enrollment_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE signing_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_bundles ENABLE ROW LEVEL SECURITY;
ALTER TABLE endpoint_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE pin_issuances ENABLE ROW LEVEL SECURITY;
ALTER TABLE change_feed ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON enrollment_tokens USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON signing_keys USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON devices USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON device_users USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON device_bundles USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON endpoint_events USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON pin_issuances USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON change_feed USING (tenant_id = charter_private.current_tenant());

GRANT SELECT, INSERT, UPDATE ON enrollment_tokens, signing_keys, devices, device_bundles TO charter_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON device_users TO charter_app;
GRANT SELECT, INSERT ON endpoint_events, pin_issuances, change_feed TO charter_app;

-- Agent authentication happens before the tenant is known: these functions, owned by the schema
-- owner, are the service role's only way to find a token's tenant, and return only what
-- authentication needs.
CREATE FUNCTION charter_private.enrollment_token_credential(token_id uuid)
    RETURNS TABLE (secret_hash bytea, tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
        SELECT e.secret_hash, e.tenant_id, t.msp_id
        FROM enrollment_tokens e JOIN tenants t ON t.id = e.tenant_id
        WHERE e.id = token_id
          AND e.revoked_at IS NULL
          AND (e.expires_at IS NULL OR e.expires_at > now())
          AND (e.max_uses IS NULL OR e.uses < e.max_uses)
          AND t.deleted_at IS NULL
    $$;

CREATE FUNCTION charter_private.device_credential(device_id uuid)
    RETURNS TABLE (token_hash bytea, tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
        SELECT d.token_hash, d.tenant_id, t.msp_id
        FROM devices d JOIN tenants t ON t.id = d.tenant_id
        WHERE d.id = device_id AND d.revoked_at IS NULL AND t.deleted_at IS NULL
    $$;

-- Every replica reads the feed of all tenants to find its connected devices.
CREATE FUNCTION charter_private.change_feed_after(after_seq bigint, max_rows integer)
    RETURNS TABLE (seq bigint, tenant_id uuid, event text, device_ids uuid[], data text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
        SELECT c.seq, c.tenant_id, c.event, c.device_ids, c.data
        FROM change_feed c
        WHERE c.seq > after_seq
        ORDER BY c.seq
        LIMIT max_rows
    $$;

CREATE FUNCTION charter_private.change_feed_head()
    RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$ SELECT coalesce(max(seq), 0) FROM change_feed $$;

REVOKE ALL ON FUNCTION charter_private.enrollment_token_credential(uuid), charter_private.device_credential(uuid),
    charter_private.change_feed_after(bigint, integer), charter_private.change_feed_head() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.enrollment_token_credential(uuid), charter_private.device_credential(uuid),
    charter_private.change_feed_after(bigint, integer), charter_private.change_feed_head() TO charter_app;
