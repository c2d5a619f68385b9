-- The database enforces isolation on its own, even for a misconfigured role (docs/security.md, "Row-level
-- security").
--
-- 1. Row-level security is FORCEd on every table that has it, so it binds the tables' owner (and any role
--    that is, or inherits, the owner) as it binds the service role. The loop below covers every such table
--    of the schema; a test reads pg_class and fails for any table with row-level security that is not
--    forced, so a later migration that forgets its own table is caught.
-- 2. The SECURITY DEFINER functions that cross tenants (authentication, the schedulers) now belong to
--    `charter_definer`, a role that cannot log in, owns no table and that no service role may be a member
--    of (`charter serve` checks). Its `definer_access` policies admit a statement only while the current
--    user is charter_definer itself, which is only inside those functions: the owner, a member of it so
--    that migrations can replace the functions, stays bound by the other policies.
-- 3. Every SECURITY DEFINER function pins `search_path = pg_catalog, pg_temp` and names every table and
--    function with its schema, so nothing a caller creates can stand in for them.
-- 4. Nobody but the owner creates objects in `public`.

REVOKE CREATE ON SCHEMA public FROM PUBLIC;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'charter_definer') THEN
        CREATE ROLE charter_definer NOLOGIN;
    END IF;
    IF NOT pg_catalog.pg_has_role(current_user, 'charter_definer', 'MEMBER') THEN
        GRANT charter_definer TO CURRENT_USER;
    END IF;
END
$$;

DO $$
DECLARE
    rel regclass;
BEGIN
    FOR rel IN
        SELECT c.oid::regclass
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relrowsecurity AND n.nspname = 'public'
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', rel);
    END LOOP;
END
$$;

-- What the functions below read and write, and nothing else.
GRANT USAGE, CREATE ON SCHEMA charter_private TO charter_definer;
GRANT EXECUTE ON FUNCTION charter_private.current_tenant(), charter_private.current_msp() TO charter_definer;
GRANT SELECT ON tenants, principals, api_keys, directory_connections, enrollment_tokens, devices,
    elevation_requests, webhook_deliveries, email_deliveries TO charter_definer;
GRANT SELECT, UPDATE ON directory_sync_jobs, directory_sync_runs TO charter_definer;
GRANT SELECT, DELETE ON change_feed TO charter_definer;
GRANT SELECT, INSERT, UPDATE ON change_feed_horizon TO charter_definer;

DO $$
DECLARE
    rel regclass;
BEGIN
    FOREACH rel IN ARRAY ARRAY['tenants', 'principals', 'api_keys', 'directory_connections', 'enrollment_tokens',
        'devices', 'elevation_requests', 'webhook_deliveries', 'email_deliveries', 'directory_sync_jobs',
        'directory_sync_runs', 'change_feed', 'change_feed_horizon']::regclass[]
    LOOP
        EXECUTE pg_catalog.format(
            'CREATE POLICY definer_access ON %s TO charter_definer USING (current_user = ''charter_definer'')', rel
        );
    END LOOP;
END
$$;

-- Authentication, before any tenant is known.
CREATE OR REPLACE FUNCTION charter_private.api_key_credential(key_id uuid)
    RETURNS TABLE (secret_hash bytea, principal_id uuid, msp_id uuid, tenant_id uuid, name text, role text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT k.secret_hash, p.id, p.msp_id, p.tenant_id, p.name, p.role
        FROM public.api_keys k
        JOIN public.principals p ON p.msp_id = k.msp_id AND p.id = k.principal_id
        LEFT JOIN public.tenants t ON t.id = p.tenant_id
        WHERE k.id = key_id
          AND k.revoked_at IS NULL
          AND (k.expires_at IS NULL OR k.expires_at > pg_catalog.now())
          AND (p.tenant_id IS NULL OR t.deleted_at IS NULL)
    $$;

CREATE OR REPLACE FUNCTION charter_private.claim_directory_syncs(owner text, lease_seconds integer, max_jobs integer)
    RETURNS TABLE (tenant_id uuid, msp_id uuid, connection_id uuid)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        WITH due AS (
            SELECT j.tenant_id, j.connection_id
            FROM public.directory_sync_jobs j
            JOIN public.directory_connections c ON c.tenant_id = j.tenant_id AND c.id = j.connection_id
            JOIN public.tenants t ON t.id = j.tenant_id
            WHERE c.enabled AND t.deleted_at IS NULL
              AND j.next_run_at <= pg_catalog.now()
              AND (j.lease_expires_at IS NULL OR j.lease_expires_at < pg_catalog.now())
            ORDER BY j.next_run_at
            LIMIT max_jobs
            FOR UPDATE OF j SKIP LOCKED
        )
        UPDATE public.directory_sync_jobs j
        SET lease_owner = owner, lease_expires_at = pg_catalog.now() + lease_seconds * interval '1 second'
        FROM due
        WHERE j.tenant_id = due.tenant_id AND j.connection_id = due.connection_id
        RETURNING j.tenant_id, j.msp_id, j.connection_id
    $$;

CREATE OR REPLACE FUNCTION charter_private.enrollment_token_credential(token_id uuid)
    RETURNS TABLE (secret_hash bytea, tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT e.secret_hash, e.tenant_id, t.msp_id
        FROM public.enrollment_tokens e JOIN public.tenants t ON t.id = e.tenant_id
        WHERE e.id = token_id
          AND e.revoked_at IS NULL
          AND (e.expires_at IS NULL OR e.expires_at > pg_catalog.now())
          AND (e.max_uses IS NULL OR e.uses < e.max_uses)
          AND t.deleted_at IS NULL
    $$;

CREATE OR REPLACE FUNCTION charter_private.device_credential(device_id uuid)
    RETURNS TABLE (token_hash bytea, tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT d.token_hash, d.tenant_id, t.msp_id
        FROM public.devices d JOIN public.tenants t ON t.id = d.tenant_id
        WHERE d.id = device_id AND d.revoked_at IS NULL AND t.deleted_at IS NULL
    $$;

CREATE OR REPLACE FUNCTION charter_private.change_feed_after(after_seq bigint, max_rows integer)
    RETURNS TABLE (seq bigint, tenant_id uuid, event text, device_ids uuid[], data text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT c.seq, c.tenant_id, c.event, c.device_ids, c.data
        FROM public.change_feed c
        WHERE c.seq > after_seq
        ORDER BY c.seq
        LIMIT max_rows
    $$;

CREATE OR REPLACE FUNCTION charter_private.change_feed_head()
    RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT coalesce(pg_catalog.max(seq), 0) FROM public.change_feed $$;

-- Stays the owner's (ANALYZE needs the tables' owner): statistics only, no rows, no tenant crossed.
CREATE OR REPLACE FUNCTION charter_private.analyze_directory()
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        ANALYZE public.directory_objects, public.directory_members;
    END
    $$;

CREATE OR REPLACE FUNCTION charter_private.abandon_directory_sync_runs()
    RETURNS TABLE (tenant_id uuid, connection_id uuid, run_id uuid)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        UPDATE public.directory_sync_runs r
        SET status = 'failed', finished_at = pg_catalog.now(),
            error = 'Abandoned: the process running this sync stopped before it finished (its lease expired); '
                || 'nothing it read was stored.'
        FROM public.directory_sync_jobs j
        WHERE r.status = 'running'
          AND j.tenant_id = r.tenant_id AND j.connection_id = r.connection_id
          AND (j.lease_expires_at IS NULL OR j.lease_expires_at < pg_catalog.now())
        RETURNING r.tenant_id, r.connection_id, r.id
    $$;

CREATE OR REPLACE FUNCTION charter_private.tenants_with_expired_requests()
    RETURNS TABLE (tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT DISTINCT r.tenant_id, t.msp_id
        FROM public.elevation_requests r JOIN public.tenants t ON t.id = r.tenant_id
        WHERE r.status = 'pending' AND r.expires_at <= pg_catalog.now() AND t.deleted_at IS NULL
    $$;

CREATE OR REPLACE FUNCTION charter_private.tenants_with_due_deliveries()
    RETURNS TABLE (tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT DISTINCT d.tenant_id, t.msp_id
        FROM public.webhook_deliveries d JOIN public.tenants t ON t.id = d.tenant_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= pg_catalog.now() AND t.deleted_at IS NULL
    $$;

CREATE OR REPLACE FUNCTION charter_private.tenants_with_due_email()
    RETURNS TABLE (tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT DISTINCT d.tenant_id, t.msp_id
        FROM public.email_deliveries d JOIN public.tenants t ON t.id = d.tenant_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= pg_catalog.now() AND t.deleted_at IS NULL
    $$;

CREATE OR REPLACE FUNCTION charter_private.change_feed_prune(keep_seconds integer)
    RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        WITH gone AS (
            DELETE FROM public.change_feed
            WHERE occurred_at < pg_catalog.now() - pg_catalog.make_interval(secs => keep_seconds)
              AND seq < (SELECT pg_catalog.max(seq) FROM public.change_feed)
            RETURNING tenant_id, seq
        ), horizon AS (
            INSERT INTO public.change_feed_horizon (tenant_id, pruned_through)
            SELECT tenant_id, pg_catalog.max(seq) FROM gone GROUP BY tenant_id
            ON CONFLICT (tenant_id) DO UPDATE
                SET pruned_through = greatest(change_feed_horizon.pruned_through, excluded.pruned_through)
        )
        SELECT pg_catalog.count(*) FROM gone
    $$;

-- The owner's own ways across tenants, for the CLI (not granted to the service role): the MSP of a tenant
-- (`charter audit verify --tenant`, `charter sync`), and whether an API key id is taken in any MSP (the
-- configured bootstrap key).
CREATE FUNCTION charter_private.tenant_msp(tenant_id uuid)
    RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT t.msp_id FROM public.tenants t WHERE t.id = tenant_id $$;

CREATE FUNCTION charter_private.api_key_exists(key_id uuid)
    RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT EXISTS (SELECT 1 FROM public.api_keys k WHERE k.id = key_id) $$;

REVOKE ALL ON FUNCTION charter_private.tenant_msp(uuid), charter_private.api_key_exists(uuid) FROM PUBLIC;

ALTER FUNCTION charter_private.api_key_credential(uuid) OWNER TO charter_definer;
ALTER FUNCTION charter_private.claim_directory_syncs(text, integer, integer) OWNER TO charter_definer;
ALTER FUNCTION charter_private.enrollment_token_credential(uuid) OWNER TO charter_definer;
ALTER FUNCTION charter_private.device_credential(uuid) OWNER TO charter_definer;
ALTER FUNCTION charter_private.change_feed_after(bigint, integer) OWNER TO charter_definer;
ALTER FUNCTION charter_private.change_feed_head() OWNER TO charter_definer;
ALTER FUNCTION charter_private.abandon_directory_sync_runs() OWNER TO charter_definer;
ALTER FUNCTION charter_private.tenants_with_expired_requests() OWNER TO charter_definer;
ALTER FUNCTION charter_private.tenants_with_due_deliveries() OWNER TO charter_definer;
ALTER FUNCTION charter_private.tenants_with_due_email() OWNER TO charter_definer;
ALTER FUNCTION charter_private.change_feed_prune(integer) OWNER TO charter_definer;
ALTER FUNCTION charter_private.tenant_msp(uuid) OWNER TO charter_definer;
ALTER FUNCTION charter_private.api_key_exists(uuid) OWNER TO charter_definer;
-- CREATE was needed only to hand the functions over.
REVOKE CREATE ON SCHEMA charter_private FROM charter_definer;
