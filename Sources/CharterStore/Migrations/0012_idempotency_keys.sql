-- Idempotency keys (docs/api.md, "Retries and Idempotency-Key"): the first answer to a POST that carried an
-- `Idempotency-Key`, kept for a retry of the same request by the same credential.
--
-- A key belongs to one credential: `credential_id` is the API key's principal or the device. Rows of a
-- device or a tenant-scoped principal carry their tenant and are visible only inside it; rows of an MSP-wide
-- principal carry no tenant and are visible only in its MSP with no tenant selected. So a key of one tenant
-- or credential never answers for another, even if a query forgot a condition. `msp_id` comes first in the
-- key, as in `api_keys`, because MSP-wide principals have no tenant.
CREATE TABLE idempotency_keys (
    msp_id          uuid NOT NULL REFERENCES msps (id),
    credential_id   uuid NOT NULL,
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    tenant_id       uuid REFERENCES tenants (id),
    -- SHA-256 of the method, the path with its query, and the body.
    fingerprint     bytea NOT NULL CHECK (length(fingerprint) = 32),
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    -- While the first request runs: status is NULL and the key is held until locked_until.
    locked_until    timestamptz NOT NULL,
    status          integer CHECK (status BETWEEN 100 AND 599),
    content_type    text,
    location        text,
    etag            text,
    body            bytea,
    PRIMARY KEY (msp_id, credential_id, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY credential_isolation ON idempotency_keys
    USING (msp_id = charter_private.current_msp()
           AND tenant_id IS NOT DISTINCT FROM charter_private.current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO charter_app;

-- Any replica prunes expired keys of every tenant, like change_feed_prune (0009, 0011).
GRANT SELECT, DELETE ON idempotency_keys TO charter_definer;
CREATE POLICY definer_access ON idempotency_keys TO charter_definer USING (current_user = 'charter_definer');

CREATE FUNCTION charter_private.idempotency_keys_prune()
    RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        WITH gone AS (DELETE FROM public.idempotency_keys k WHERE k.expires_at <= pg_catalog.now() RETURNING 1)
        SELECT pg_catalog.count(*) FROM gone
    $$;
REVOKE ALL ON FUNCTION charter_private.idempotency_keys_prune() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.idempotency_keys_prune() TO charter_app;
GRANT CREATE ON SCHEMA charter_private TO charter_definer;
ALTER FUNCTION charter_private.idempotency_keys_prune() OWNER TO charter_definer;
REVOKE CREATE ON SCHEMA charter_private FROM charter_definer;
