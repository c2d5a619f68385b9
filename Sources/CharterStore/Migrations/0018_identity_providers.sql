-- The MSP's OpenID Connect provider and the sign-ins under way (issue 18; docs/identity.md).
--
-- One provider per MSP, owned by the MSP like its MSP-wide keys: visible only inside a transaction that set
-- `charter.msp_id` and no tenant. The client secret is sealed (SecretSealer) in a context bound to the MSP, the
-- issuer and the client id, so it opens only for the provider it was given for.
--
-- A sign-in attempt lives from `GET /v1/auth/sign-in` to the callback, at most 10 minutes. Its `state` is
-- stored as a SHA-256 hash, as is the secret of the browser's `charter_sign_in` cookie; the PKCE verifier is
-- sealed. The callback does not know the MSP before it has the attempt, so it takes it through a definer
-- function: once, and only from the browser that started it.

CREATE TABLE identity_providers (
    msp_id                  uuid PRIMARY KEY REFERENCES msps (id),
    issuer                  text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 2000),
    client_id               text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 500),
    client_secret_sealed    text NOT NULL,
    allowed_email_domains   text[] NOT NULL CHECK (cardinality(allowed_email_domains) BETWEEN 1 AND 50),
    groups_claim            text NOT NULL CHECK (length(groups_claim) BETWEEN 1 AND 100),
    version                 bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);

CREATE TABLE sign_in_attempts (
    state_hash      bytea PRIMARY KEY CHECK (length(state_hash) = 32),
    msp_id          uuid NOT NULL REFERENCES msps (id),
    -- The provider the attempt was started with: the callback validates against it, not a later one.
    issuer          text NOT NULL,
    client_id       text NOT NULL,
    nonce           text NOT NULL CHECK (length(nonce) BETWEEN 16 AND 200),
    verifier_sealed text NOT NULL,
    return_to       text NOT NULL CHECK (length(return_to) BETWEEN 1 AND 2000),
    browser_hash    bytea NOT NULL CHECK (length(browser_hash) = 32),
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX sign_in_attempts_expiry_idx ON sign_in_attempts (msp_id, expires_at);

ALTER TABLE identity_providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity_providers FORCE ROW LEVEL SECURITY;
ALTER TABLE sign_in_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE sign_in_attempts FORCE ROW LEVEL SECURITY;

CREATE POLICY msp_isolation ON identity_providers
    USING (msp_id = charter_private.current_msp() AND charter_private.current_tenant() IS NULL);
CREATE POLICY msp_isolation ON sign_in_attempts
    USING (msp_id = charter_private.current_msp() AND charter_private.current_tenant() IS NULL);

GRANT SELECT, INSERT, UPDATE, DELETE ON identity_providers, sign_in_attempts TO charter_app;

-- The callback's way in, before the MSP is known: the attempt of `state_hash`, deleted (taken once, atomically)
-- when `browser_hash` is the one that started it. From another browser it stays, and only `browser_matches`
-- (false) and the MSP are answered, so a stolen `state` neither reveals the attempt nor spends it.
CREATE FUNCTION charter_private.take_sign_in_attempt(state_hash bytea, browser_hash bytea)
    RETURNS TABLE (msp_id uuid, issuer text, client_id text, nonce text, verifier_sealed text, return_to text,
                   created_at timestamptz, expires_at timestamptz, browser_matches boolean)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        WITH taken AS (
            DELETE FROM public.sign_in_attempts a
            WHERE a.state_hash = take_sign_in_attempt.state_hash AND a.browser_hash = take_sign_in_attempt.browser_hash
            RETURNING a.msp_id, a.issuer, a.client_id, a.nonce, a.verifier_sealed, a.return_to, a.created_at,
                      a.expires_at
        )
        SELECT t.msp_id, t.issuer, t.client_id, t.nonce, t.verifier_sealed, t.return_to, t.created_at,
               t.expires_at, true
        FROM taken t
        UNION ALL
        SELECT a.msp_id, NULL, NULL, NULL, NULL, NULL, a.created_at, a.expires_at, false
        FROM public.sign_in_attempts a
        WHERE a.state_hash = take_sign_in_attempt.state_hash AND NOT EXISTS (SELECT FROM taken)
    $$;

REVOKE ALL ON FUNCTION charter_private.take_sign_in_attempt(bytea, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.take_sign_in_attempt(bytea, bytea) TO charter_app;

GRANT SELECT, DELETE ON sign_in_attempts TO charter_definer;
CREATE POLICY definer_access ON sign_in_attempts TO charter_definer USING (current_user = 'charter_definer');
GRANT CREATE ON SCHEMA charter_private TO charter_definer;
ALTER FUNCTION charter_private.take_sign_in_attempt(bytea, bytea) OWNER TO charter_definer;
REVOKE CREATE ON SCHEMA charter_private FROM charter_definer;
