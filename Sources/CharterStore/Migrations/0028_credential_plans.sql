-- The credential lookups every authenticated request makes, as PL/pgSQL (issue 17; docs/benchmarks.md, "What
-- PostgreSQL spends a 10,000-agent run on").
--
-- A SQL function that cannot be inlined (these are SECURITY DEFINER with a SET search_path) is parsed and
-- planned again on every call of the statement that calls it: `device_session` cost 0.31–0.34 ms a call against
-- 0.08–0.11 ms for its own SELECT sent as a statement (pgbench, one client, prepared, a local server). PL/pgSQL
-- keeps the plan of its query for the session, 0.12 ms a call. Same queries, same rows, same privileges.

CREATE OR REPLACE FUNCTION charter_private.api_key_credential(key_id uuid)
    RETURNS TABLE (secret_hash bytea, principal_id uuid, msp_id uuid, tenant_id uuid, name text, role text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        RETURN QUERY
            SELECT k.secret_hash, p.id, p.msp_id, p.tenant_id, p.name, p.role
            FROM public.api_keys k
            JOIN public.principals p ON p.msp_id = k.msp_id AND p.id = k.principal_id
            LEFT JOIN public.tenants t ON t.id = p.tenant_id
            WHERE k.id = api_key_credential.key_id
              AND k.revoked_at IS NULL
              AND (k.expires_at IS NULL OR k.expires_at > pg_catalog.now())
              AND (p.tenant_id IS NULL OR t.deleted_at IS NULL);
    END
    $$;

CREATE OR REPLACE FUNCTION charter_private.enrollment_token_credential(token_id uuid)
    RETURNS TABLE (secret_hash bytea, tenant_id uuid, msp_id uuid, purpose text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        RETURN QUERY
            SELECT e.secret_hash, e.tenant_id, t.msp_id, e.purpose
            FROM public.enrollment_tokens e JOIN public.tenants t ON t.id = e.tenant_id
            WHERE e.id = enrollment_token_credential.token_id
              AND e.revoked_at IS NULL
              AND (e.expires_at IS NULL OR e.expires_at > pg_catalog.now())
              AND (e.max_uses IS NULL OR e.uses < e.max_uses)
              AND t.deleted_at IS NULL;
    END
    $$;

CREATE OR REPLACE FUNCTION charter_private.device_session(device_id uuid)
    RETURNS TABLE (token_hash bytea, token_expires_at timestamptz, previous_token_hash bytea,
                   previous_token_expires_at timestamptz, pending_approval boolean, tenant_id uuid, msp_id uuid)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        RETURN QUERY
            SELECT d.token_hash, d.token_expires_at, d.previous_token_hash, d.previous_token_expires_at,
                   d.pending_approval, d.tenant_id, t.msp_id
            FROM public.devices d JOIN public.tenants t ON t.id = d.tenant_id
            WHERE d.id = device_session.device_id AND d.revoked_at IS NULL AND t.deleted_at IS NULL;
    END
    $$;

CREATE OR REPLACE FUNCTION charter_private.device_signing_key(device_id uuid)
    RETURNS TABLE (signing_key bytea, tenant_id uuid, msp_id uuid)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        RETURN QUERY
            SELECT d.signing_key, d.tenant_id, t.msp_id
            FROM public.devices d JOIN public.tenants t ON t.id = d.tenant_id
            WHERE d.id = device_signing_key.device_id AND d.revoked_at IS NULL AND t.deleted_at IS NULL;
    END
    $$;

CREATE OR REPLACE FUNCTION charter_private.connector_session(connector_id uuid)
    RETURNS TABLE (token_hash bytea, token_expires_at timestamptz, previous_token_hash bytea,
                   previous_token_expires_at timestamptz, tenant_id uuid, msp_id uuid)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        RETURN QUERY
            SELECT c.token_hash, c.token_expires_at, c.previous_token_hash, c.previous_token_expires_at,
                   c.tenant_id, t.msp_id
            FROM public.connectors c JOIN public.tenants t ON t.id = c.tenant_id
            WHERE c.id = connector_session.connector_id AND c.revoked_at IS NULL AND t.deleted_at IS NULL;
    END
    $$;

CREATE OR REPLACE FUNCTION charter_private.connector_signing_key(connector_id uuid)
    RETURNS TABLE (signing_key bytea, tenant_id uuid, msp_id uuid)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        RETURN QUERY
            SELECT c.signing_key, c.tenant_id, t.msp_id
            FROM public.connectors c JOIN public.tenants t ON t.id = c.tenant_id
            WHERE c.id = connector_signing_key.connector_id AND c.revoked_at IS NULL AND t.deleted_at IS NULL;
    END
    $$;
