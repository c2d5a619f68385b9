-- Device identity (issue 14, "an endpoint's identity cannot be taken over with an enrollment token").
-- See docs/agent-protocol.md ("Enrollment", "Re-enrollment", "Device tokens") and docs/security.md.
--
-- - A device enrolled with a token while an enrolled (or revoked) device already stands for the same
--   computer, and without proof by that device's key, waits for an administrator: `pending_approval`.
-- - Device tokens expire (`token_expires_at`) and are renewed with a signature by the device key over a
--   single-use server challenge (`agent_challenges`).
-- - Revocation closes the device's streams on every replica through a `disconnect` change-feed entry.
-- - A signing key that takes over (its `activates_at` passes) is hinted once, by whichever replica
--   claims `takeover_hint_due` first.

-- A renewal keeps the replaced token working until its own expiry (`previous_token_*`), so an agent's
-- concurrent calls and a second renewal never lock it out; a copied token still dies at its expiry.
ALTER TABLE devices
    ADD COLUMN pending_approval boolean NOT NULL DEFAULT false,
    -- Tokens issued before expiry existed last one more day: agents renew them by signature meanwhile. (A
    -- default fills the rows; an UPDATE would see none, since row-level security binds the owner too.)
    ADD COLUMN token_expires_at timestamptz NOT NULL DEFAULT now() + interval '1 day',
    ADD COLUMN previous_token_hash bytea CHECK (length(previous_token_hash) = 32),
    ADD COLUMN previous_token_expires_at timestamptz;
ALTER TABLE devices ALTER COLUMN token_expires_at DROP DEFAULT;

-- Single-use challenges an agent signs (token renewal, re-enrollment proof), by the SHA-256 of the nonce.
-- Issued before the caller is known, so they belong to no tenant.
CREATE TABLE agent_challenges (
    nonce_hash  bytea PRIMARY KEY CHECK (length(nonce_hash) = 32),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX agent_challenges_expiry_idx ON agent_challenges (expires_at);
GRANT SELECT, INSERT, DELETE ON agent_challenges TO charter_app;

ALTER TABLE change_feed DROP CONSTRAINT change_feed_event_check;
ALTER TABLE change_feed ADD CONSTRAINT change_feed_event_check CHECK (event IN ('bundle', 'decision', 'disconnect'));

ALTER TABLE signing_keys ADD COLUMN takeover_hint_due boolean NOT NULL DEFAULT false;
-- A data change across tenants: row-level security is lifted for the owner within this transaction only.
ALTER TABLE signing_keys NO FORCE ROW LEVEL SECURITY;
UPDATE signing_keys SET takeover_hint_due = true WHERE activates_at > now();
ALTER TABLE signing_keys FORCE ROW LEVEL SECURITY;
CREATE INDEX signing_keys_takeover_idx ON signing_keys (activates_at) WHERE takeover_hint_due;

-- What agent authentication needs of a device before the tenant is known, now with the token's expiry
-- and the approval state.
CREATE FUNCTION charter_private.device_session(device_id uuid)
    RETURNS TABLE (token_hash bytea, token_expires_at timestamptz, previous_token_hash bytea,
                   previous_token_expires_at timestamptz, pending_approval boolean, tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT d.token_hash, d.token_expires_at, d.previous_token_hash, d.previous_token_expires_at,
               d.pending_approval, d.tenant_id, t.msp_id
        FROM public.devices d JOIN public.tenants t ON t.id = d.tenant_id
        WHERE d.id = device_id AND d.revoked_at IS NULL AND t.deleted_at IS NULL
    $$;

-- What token renewal needs: the key a renewal must be signed with.
CREATE FUNCTION charter_private.device_signing_key(device_id uuid)
    RETURNS TABLE (signing_key bytea, tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT d.signing_key, d.tenant_id, t.msp_id
        FROM public.devices d JOIN public.tenants t ON t.id = d.tenant_id
        WHERE d.id = device_id AND d.revoked_at IS NULL AND t.deleted_at IS NULL
    $$;

-- The tenants with a signing key whose takeover has not been hinted yet.
CREATE FUNCTION charter_private.signing_key_takeovers_due()
    RETURNS TABLE (tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT DISTINCT k.tenant_id, t.msp_id
        FROM public.signing_keys k JOIN public.tenants t ON t.id = k.tenant_id
        WHERE k.takeover_hint_due AND k.activates_at <= pg_catalog.now() AND t.deleted_at IS NULL
    $$;

REVOKE ALL ON FUNCTION charter_private.device_session(uuid), charter_private.device_signing_key(uuid),
    charter_private.signing_key_takeovers_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.device_session(uuid), charter_private.device_signing_key(uuid),
    charter_private.signing_key_takeovers_due() TO charter_app;

-- Functions that read across tenants belong to charter_definer, which row-level security admits only inside
-- them (migration 0011); signing_keys is read across tenants for the first time here.
GRANT SELECT ON signing_keys TO charter_definer;
CREATE POLICY definer_access ON signing_keys TO charter_definer USING (current_user = 'charter_definer');
GRANT CREATE ON SCHEMA charter_private TO charter_definer;
ALTER FUNCTION charter_private.device_session(uuid) OWNER TO charter_definer;
ALTER FUNCTION charter_private.device_signing_key(uuid) OWNER TO charter_definer;
ALTER FUNCTION charter_private.signing_key_takeovers_due() OWNER TO charter_definer;
REVOKE CREATE ON SCHEMA charter_private FROM charter_definer;
-- Replaced by device_session.
DROP FUNCTION charter_private.device_credential(uuid);
