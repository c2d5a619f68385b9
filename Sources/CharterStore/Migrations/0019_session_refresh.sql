-- Sessions that ask the identity provider again (issue 18, "loses access at token refresh"; docs/identity.md,
-- "Refreshing sessions").
--
-- A browser session whose sign-in brought a refresh token keeps it sealed (SecretSealer, in a context bound to
-- the MSP, the person, the session, the issuer and the client id, so it opens for that session at that provider
-- only) and uses it every `session.refresh_interval_seconds` to read the person's groups again.
-- `refreshed_at` is when the provider last vouched for the person (the sign-in or the last refresh);
-- `refresh_due_at` when the next refresh is due (NULL: the session has no refresh token and is never refreshed);
-- `refresh_claimed_until` lets one request at a time refresh a session (a provider may rotate refresh tokens,
-- and one used twice can revoke the whole chain).

ALTER TABLE sessions
    ADD COLUMN refresh_token_sealed  text CHECK (length(refresh_token_sealed) <= 16384),
    ADD COLUMN refreshed_at          timestamptz,
    ADD COLUMN refresh_due_at        timestamptz,
    ADD COLUMN refresh_claimed_until timestamptz,
    ADD CONSTRAINT sessions_refresh_browser_only CHECK (refresh_token_sealed IS NULL OR kind = 'browser'),
    ADD CONSTRAINT sessions_refresh_due CHECK ((refresh_token_sealed IS NULL) = (refresh_due_at IS NULL));

-- Authentication also reads when the session's refresh is due and when it was last confirmed, in the same one
-- statement (the body is 0017's, with the two columns added).
DROP FUNCTION charter_private.person_session(uuid);
CREATE FUNCTION charter_private.person_session(session_id uuid)
    RETURNS TABLE (secret_hash bytea, csrf_hash bytea, kind text, msp_id uuid, person_id uuid, issuer text,
                   subject text, email text, name text, last_used_at timestamptz, expires_at timestamptz,
                   grants text[], refresh_due_at timestamptz, refreshed_at timestamptz)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    #variable_conflict use_column
    BEGIN
        RETURN QUERY
        SELECT s.secret_hash, s.csrf_hash, s.kind, s.msp_id, s.person_id, p.issuer, p.subject, p.email, p.name,
               s.last_used_at, s.expires_at,
               ARRAY(
                   SELECT g.role || COALESCE(':' || g.tenant_id::text, '')
                   FROM (
                       SELECT m.role, m.tenant_id FROM public.role_mappings m
                       WHERE m.msp_id = s.msp_id AND m.claim_value = ANY (p.groups)
                       UNION
                       SELECT d.role, d.tenant_id FROM public.person_grants d
                       WHERE d.msp_id = s.msp_id AND d.person_id = s.person_id
                   ) g
                   LEFT JOIN public.tenants t ON t.id = g.tenant_id
                   WHERE g.tenant_id IS NULL OR t.deleted_at IS NULL
               ),
               s.refresh_due_at, s.refreshed_at
        FROM public.sessions s
        JOIN public.people p ON p.msp_id = s.msp_id AND p.id = s.person_id
        WHERE s.id = person_session.session_id AND s.revoked_at IS NULL AND s.expires_at > pg_catalog.now();
    END
    $$;

REVOKE ALL ON FUNCTION charter_private.person_session(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.person_session(uuid) TO charter_app;
GRANT CREATE ON SCHEMA charter_private TO charter_definer;
ALTER FUNCTION charter_private.person_session(uuid) OWNER TO charter_definer;
REVOKE CREATE ON SCHEMA charter_private FROM charter_definer;
