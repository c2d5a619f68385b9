-- Directory sync: connections to a tenant's Active Directory, the synced objects,
-- their direct and transitive memberships, the watermark, the history of runs and
-- the scheduler's job table. See docs/directory-sync.md.
--
-- Every table is tenant-owned: tenant_id leads every key, row-level security
-- confines it to charter_private.current_tenant(), and a connection's data goes
-- with it (ON DELETE CASCADE).

CREATE TABLE directory_connections (
    tenant_id                   uuid NOT NULL REFERENCES tenants (id),
    id                          uuid NOT NULL,
    name                        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Tried in this order until one answers.
    urls                        text[] NOT NULL CHECK (cardinality(urls) BETWEEN 1 AND 10),
    base_dn                     text NOT NULL CHECK (length(base_dn) BETWEEN 1 AND 2000),
    bind_dn                     text NOT NULL CHECK (length(bind_dn) BETWEEN 1 AND 2000),
    -- SecretSealer's text form (`kid.nonce.ciphertext`), never the password itself.
    bind_password_sealed        text NOT NULL,
    tls_mode                    text NOT NULL CHECK (tls_mode IN ('ldaps', 'start_tls', 'plain')),
    ca_pem                      text,
    interval_seconds            integer NOT NULL DEFAULT 3600 CHECK (interval_seconds BETWEEN 60 AND 604800),
    -- A run that would delete more than the smaller of the two stops (needs_confirmation).
    deletion_threshold_objects  integer NOT NULL DEFAULT 500 CHECK (deletion_threshold_objects >= 0),
    deletion_threshold_percent  integer NOT NULL DEFAULT 10 CHECK (deletion_threshold_percent BETWEEN 0 AND 100),
    enabled                     boolean NOT NULL DEFAULT true,
    version                     bigint NOT NULL DEFAULT 1,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

-- Where the last stored sync stopped; written in the same transaction as the data.
CREATE TABLE directory_watermarks (
    tenant_id           uuid NOT NULL,
    connection_id       uuid NOT NULL,
    dc_service_name     text NOT NULL,
    invocation_id       uuid NOT NULL,
    usn                 bigint NOT NULL,
    domain_sid          text,
    last_full_sync_at   timestamptz NOT NULL,
    synced_at           timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, connection_id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES directory_connections (tenant_id, id) ON DELETE CASCADE
);

-- OUs (and the domain root), groups, users and computers, keyed by objectGUID.
CREATE TABLE directory_objects (
    tenant_id           uuid NOT NULL,
    connection_id       uuid NOT NULL,
    guid                uuid NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('domain', 'ou', 'group', 'user', 'computer')),
    dn                  text NOT NULL,
    parent_guid         uuid,
    name                text NOT NULL,
    sam_account_name    text,
    user_principal_name text,
    dns_host_name       text,
    display_name        text,
    sid                 text,
    disabled            boolean NOT NULL DEFAULT false,
    primary_group_id    bigint,
    group_type          integer,
    usn_changed         bigint NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, connection_id, guid),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES directory_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX directory_objects_kind_idx ON directory_objects (tenant_id, kind, guid);
CREATE INDEX directory_objects_sid_idx ON directory_objects (tenant_id, connection_id, sid);
CREATE INDEX directory_objects_parent_idx ON directory_objects (tenant_id, connection_id, parent_guid);

-- Direct `member` values of each group. A member the directory does not sync (a foreign
-- security principal, a contact, an object outside the base DN) is kept with its DN and SID;
-- member_ref is the member's GUID, or `dn:` and its DN when the server gave no GUID.
CREATE TABLE directory_members (
    tenant_id       uuid NOT NULL,
    connection_id   uuid NOT NULL,
    group_guid      uuid NOT NULL,
    member_ref      text NOT NULL,
    member_guid     uuid,
    member_dn       text NOT NULL,
    member_sid      text,
    PRIMARY KEY (tenant_id, connection_id, group_guid, member_ref),
    FOREIGN KEY (tenant_id, connection_id, group_guid)
        REFERENCES directory_objects (tenant_id, connection_id, guid) ON DELETE CASCADE
);
CREATE INDEX directory_members_member_idx ON directory_members (tenant_id, connection_id, member_guid);

-- The transitive closure (CharterCore.MembershipGraph, primary groups included): `member_guid` is
-- in `group_guid` through `chain` (group GUIDs from its direct group to group_guid).
CREATE TABLE directory_memberships (
    tenant_id       uuid NOT NULL,
    connection_id   uuid NOT NULL,
    member_guid     uuid NOT NULL,
    group_guid      uuid NOT NULL,
    depth           integer NOT NULL CHECK (depth >= 1),
    chain           uuid[] NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, member_guid, group_guid),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES directory_connections (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE directory_sync_runs (
    tenant_id           uuid NOT NULL,
    id                  uuid NOT NULL,
    connection_id       uuid NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('full', 'incremental')),
    status              text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'needs_confirmation')),
    trigger             text NOT NULL CHECK (trigger IN ('schedule', 'api', 'cli')),
    confirm_deletions   boolean NOT NULL DEFAULT false,
    domain_controller   text,
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz,
    objects_read        integer NOT NULL DEFAULT 0,
    -- {"user": {"added": 1, "changed": 0, "moved": 0, "deleted": 0}, ...}
    counts              jsonb NOT NULL DEFAULT '{}',
    pending_deletions   integer,
    error               text,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES directory_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX directory_sync_runs_started_idx ON directory_sync_runs (tenant_id, started_at DESC, id);

-- One row per connection: when it is next due and who holds it. Claimed across tenants by
-- charter_private.claim_directory_syncs (FOR UPDATE SKIP LOCKED), held by a lease that a
-- crashed replica lets expire.
CREATE TABLE directory_sync_jobs (
    tenant_id           uuid NOT NULL,
    connection_id       uuid NOT NULL,
    msp_id              uuid NOT NULL REFERENCES msps (id),
    next_run_at         timestamptz NOT NULL,
    lease_owner         text,
    lease_expires_at    timestamptz,
    PRIMARY KEY (tenant_id, connection_id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES directory_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX directory_sync_jobs_due_idx ON directory_sync_jobs (next_run_at);

ALTER TABLE directory_connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE directory_watermarks ENABLE ROW LEVEL SECURITY;
ALTER TABLE directory_objects ENABLE ROW LEVEL SECURITY;
ALTER TABLE directory_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE directory_memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE directory_sync_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE directory_sync_jobs ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON directory_connections USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON directory_watermarks USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON directory_objects USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON directory_members USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON directory_memberships USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON directory_sync_runs USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON directory_sync_jobs USING (tenant_id = charter_private.current_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON directory_connections, directory_watermarks, directory_objects,
    directory_members, directory_memberships, directory_sync_jobs TO charter_app;
GRANT SELECT, INSERT, UPDATE ON directory_sync_runs TO charter_app;

-- The scheduler runs before any tenant is known: this function, owned by the schema owner, is its one
-- way to find due connections across tenants. It leases up to `max_jobs` of them to `owner` and
-- returns only what the scheduler needs to open each tenant's transaction.
CREATE FUNCTION charter_private.claim_directory_syncs(owner text, lease_seconds integer, max_jobs integer)
    RETURNS TABLE (tenant_id uuid, msp_id uuid, connection_id uuid)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
        WITH due AS (
            SELECT j.tenant_id, j.connection_id
            FROM directory_sync_jobs j
            JOIN directory_connections c ON c.tenant_id = j.tenant_id AND c.id = j.connection_id
            JOIN tenants t ON t.id = j.tenant_id
            WHERE c.enabled AND t.deleted_at IS NULL
              AND j.next_run_at <= now()
              AND (j.lease_expires_at IS NULL OR j.lease_expires_at < now())
            ORDER BY j.next_run_at
            LIMIT max_jobs
            FOR UPDATE OF j SKIP LOCKED
        )
        UPDATE directory_sync_jobs j
        SET lease_owner = owner, lease_expires_at = now() + lease_seconds * interval '1 second'
        FROM due
        WHERE j.tenant_id = due.tenant_id AND j.connection_id = due.connection_id
        RETURNING j.tenant_id, j.msp_id, j.connection_id
    $$;
REVOKE ALL ON FUNCTION charter_private.claim_directory_syncs(text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.claim_directory_syncs(text, integer, integer) TO charter_app;
