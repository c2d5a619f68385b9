-- The MSP overview and the audit chain state (issue 19, "One view of all tenants"; docs/operations-overview.md).
--
-- 1. `audit_chain_states`: per tenant, how far the periodic verification has checked the audit hash chain
--    (the last verified event's sequence number and hash, so the next pass starts there) and whether it holds.
-- 2. `charter_private.msp_overview`: every figure of the overview for the tenants of the MSP selected on the
--    transaction, one row per tenant, in one statement. It is a SECURITY DEFINER function rather than
--    `msp_read` policies (as on elevation_requests) because such a policy checks the tenant's MSP once per row:
--    100,000 devices would cost 100,000 lookups of the tenants table. The function reads only the tenants of
--    `charter_private.current_msp()`, narrowed to `only_tenants` when the caller may read only some.
-- 3. `charter_private.audit_chains_to_verify`: the tenants whose chain has events not yet verified, for the job
--    that runs before any tenant is known.
-- 4. Each device's current bundle version and feed position copied onto its row (`bundle_version`,
--    `bundle_feed_seq`, kept by a trigger on device_bundles), so that whether a device is behind is read from
--    one index of devices: joining device_bundles cost one index probe per device (100,000 for the benchmark's
--    MSP), most of the statement's time (docs/benchmarks.md, "MSP overview").
-- 5. Indexes that let each figure be read per tenant from an index alone.

CREATE TABLE audit_chain_states (
    tenant_id      uuid PRIMARY KEY REFERENCES tenants (id),
    -- The last event verified (0 and 32 zero bytes before the first).
    verified_seq   bigint NOT NULL CHECK (verified_seq >= 0),
    verified_hash  bytea NOT NULL CHECK (length(verified_hash) = 32),
    verified_at    timestamptz,
    status         text NOT NULL CHECK (status IN ('ok', 'broken')),
    -- When the chain was first found in its status.
    since          timestamptz NOT NULL,
    broken_seq     bigint,
    broken_reason  text CHECK (length(broken_reason) <= 200),
    CHECK ((status = 'broken') = (broken_seq IS NOT NULL))
);

ALTER TABLE audit_chain_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_chain_states FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_chain_states USING (tenant_id = charter_private.current_tenant());
GRANT SELECT, INSERT, UPDATE ON audit_chain_states TO charter_app;

ALTER TABLE devices ADD COLUMN bundle_version bigint, ADD COLUMN bundle_feed_seq bigint;
-- A data change across tenants: row-level security is lifted for the owner within this transaction only.
ALTER TABLE devices NO FORCE ROW LEVEL SECURITY;
ALTER TABLE device_bundles NO FORCE ROW LEVEL SECURITY;
UPDATE devices d SET bundle_version = b.version, bundle_feed_seq = b.feed_seq
FROM device_bundles b WHERE b.tenant_id = d.tenant_id AND b.device_id = d.id;
ALTER TABLE devices FORCE ROW LEVEL SECURITY;
ALTER TABLE device_bundles FORCE ROW LEVEL SECURITY;

-- Runs as the role writing the bundle (the service role, in the device's tenant): the device row is its own.
CREATE FUNCTION charter_private.copy_bundle_position_to_device()
    RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        UPDATE public.devices SET bundle_version = NEW.version, bundle_feed_seq = NEW.feed_seq
        WHERE tenant_id = NEW.tenant_id AND id = NEW.device_id;
        RETURN NULL;
    END
    $$;

CREATE TRIGGER device_bundles_copy_position
    AFTER INSERT OR UPDATE OF version, feed_seq ON device_bundles
    FOR EACH ROW
    EXECUTE FUNCTION charter_private.copy_bundle_position_to_device();

CREATE INDEX devices_overview_idx ON devices (tenant_id)
    INCLUDE (last_seen_at, held_version, bundle_version, bundle_feed_seq)
    WHERE revoked_at IS NULL AND NOT pending_approval;
CREATE INDEX directory_sync_runs_last_idx ON directory_sync_runs (tenant_id, started_at DESC)
    INCLUDE (finished_at, status);
CREATE INDEX change_feed_all_devices_idx ON change_feed (tenant_id, seq) WHERE event = 'bundle' AND device_ids IS NULL;
CREATE INDEX directory_sync_runs_latest_idx ON directory_sync_runs (tenant_id, connection_id, started_at DESC)
    INCLUDE (status) WHERE status <> 'running';
CREATE INDEX elevation_requests_pending_tenant_idx ON elevation_requests (tenant_id) WHERE status = 'pending';

-- A device is behind when it holds no bundle or an older one than its current one (`held_version` is what its
-- last check-in reported), or when its current bundle was made before the tenant's last change that reaches
-- every device (a directory sync that stored changes, a signing-key rotation) and it has not fetched since.
CREATE FUNCTION charter_private.msp_overview(online_since timestamptz, stale_before timestamptz, only_tenants uuid[])
    RETURNS TABLE (tenant_id uuid, name text,
                   devices bigint, devices_online bigint, devices_stale bigint, devices_behind bigint,
                   connections bigint, syncs_failed bigint, syncs_held bigint,
                   last_sync_started_at timestamptz, last_sync_finished_at timestamptz, last_sync_status text,
                   requests_pending bigint,
                   audit_status text, audit_verified_seq bigint, audit_verified_at timestamptz, audit_since timestamptz,
                   audit_broken_seq bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT t.id, t.name,
               dev.total, dev.online, dev.stale, dev.behind,
               sync.connections, sync.failed, sync.held,
               last_run.started_at, last_run.finished_at, last_run.status,
               req.pending,
               a.status, a.verified_seq, a.verified_at, a.since, a.broken_seq
        FROM public.tenants t
        CROSS JOIN LATERAL (
            SELECT coalesce(max(f.seq), 0) AS seq FROM public.change_feed f
            WHERE f.tenant_id = t.id AND f.event = 'bundle' AND f.device_ids IS NULL
        ) feed
        CROSS JOIN LATERAL (
            SELECT count(*) AS total,
                   count(*) FILTER (WHERE d.last_seen_at >= online_since) AS online,
                   count(*) FILTER (WHERE d.last_seen_at IS NULL OR d.last_seen_at < stale_before) AS stale,
                   count(*) FILTER (WHERE d.bundle_version IS NULL OR d.held_version IS NULL
                                          OR d.held_version < d.bundle_version OR d.bundle_feed_seq < feed.seq) AS behind
            FROM public.devices d
            WHERE d.tenant_id = t.id AND d.revoked_at IS NULL AND NOT d.pending_approval
        ) dev
        CROSS JOIN LATERAL (
            SELECT count(*) AS connections,
                   count(*) FILTER (WHERE latest.status = 'failed') AS failed,
                   count(*) FILTER (WHERE latest.status = 'needs_confirmation') AS held
            FROM public.directory_connections c
            LEFT JOIN LATERAL (
                SELECT r.status FROM public.directory_sync_runs r
                WHERE r.tenant_id = c.tenant_id AND r.connection_id = c.id AND r.status <> 'running'
                ORDER BY r.started_at DESC LIMIT 1
            ) latest ON true
            WHERE c.tenant_id = t.id AND c.enabled
        ) sync
        LEFT JOIN LATERAL (
            SELECT r.started_at, r.finished_at, r.status FROM public.directory_sync_runs r
            WHERE r.tenant_id = t.id ORDER BY r.started_at DESC LIMIT 1
        ) last_run ON true
        CROSS JOIN LATERAL (
            SELECT count(*) AS pending FROM public.elevation_requests e
            WHERE e.tenant_id = t.id AND e.status = 'pending'
        ) req
        -- (OFFSET 0 keeps this a lookup by key per tenant; joined, it was planned as a scan of every state.)
        LEFT JOIN LATERAL (
            SELECT s.status, s.verified_seq, s.verified_at, s.since, s.broken_seq FROM public.audit_chain_states s
            WHERE s.tenant_id = t.id OFFSET 0
        ) a ON true
        WHERE t.msp_id = charter_private.current_msp() AND t.deleted_at IS NULL
          AND (only_tenants IS NULL OR t.id = ANY (only_tenants))
    $$;

-- Tenants whose audit chain has events after the last verified one (or was never verified), least recently
-- verified first. A broken chain is not verified again: it stays broken until its state row is removed
-- (docs/operations-overview.md, "Audit chain state").
CREATE FUNCTION charter_private.audit_chains_to_verify(max_tenants integer)
    RETURNS TABLE (tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT t.id, t.msp_id
        FROM public.tenants t
        LEFT JOIN public.audit_chain_states s ON s.tenant_id = t.id
        WHERE t.deleted_at IS NULL
          AND (s.tenant_id IS NULL
               OR (s.status = 'ok'
                   AND coalesce((SELECT max(e.seq) FROM public.audit_events e WHERE e.tenant_id = t.id), 0)
                       > s.verified_seq))
        ORDER BY s.verified_at NULLS FIRST, t.id
        LIMIT max_tenants
    $$;

REVOKE ALL ON FUNCTION charter_private.msp_overview(timestamptz, timestamptz, uuid[]),
    charter_private.audit_chains_to_verify(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.msp_overview(timestamptz, timestamptz, uuid[]),
    charter_private.audit_chains_to_verify(integer) TO charter_app;

-- Read across tenants for the first time here: audit events and the chain states.
GRANT SELECT ON audit_events, audit_chain_states TO charter_definer;
CREATE POLICY definer_access ON audit_events TO charter_definer USING (current_user = 'charter_definer');
CREATE POLICY definer_access ON audit_chain_states TO charter_definer USING (current_user = 'charter_definer');
GRANT CREATE ON SCHEMA charter_private TO charter_definer;
ALTER FUNCTION charter_private.msp_overview(timestamptz, timestamptz, uuid[]) OWNER TO charter_definer;
ALTER FUNCTION charter_private.audit_chains_to_verify(integer) OWNER TO charter_definer;
REVOKE CREATE ON SCHEMA charter_private FROM charter_definer;
