-- Elevation requests (Run As Admin, Admin Session) and their decisions. See docs/requests.md.
--
-- A request is decided when it arrives; `pending` ones wait for an approver or expire. Rows are never
-- deleted; the audit log holds the history of who decided what.

CREATE TABLE elevation_requests (
    tenant_id               uuid NOT NULL REFERENCES tenants (id),
    id                      uuid NOT NULL UNIQUE,
    device_id               uuid NOT NULL,
    kind                    text NOT NULL CHECK (kind IN ('run_as_admin', 'admin_session')),
    -- The user as the agent named them, and the directory user they matched (if any).
    user_sid                text,
    user_guid               uuid,
    user_upn                text,
    directory_user_guid     uuid,
    computer_guid           uuid,
    hostname                text NOT NULL,
    file_name               text,
    path                    text,
    sha256                  text,
    signer_subject          text,
    certificate_thumbprint  text,
    vendor                  text,
    reason                  text,
    status                  text NOT NULL CHECK (status IN ('allowed', 'pending', 'approved', 'denied', 'expired')),
    logged                  boolean NOT NULL,
    pin_override            boolean NOT NULL DEFAULT false,
    -- What decided it: the global settings or a subsetting (id and name at the time), and why.
    policy_source           text NOT NULL CHECK (policy_source IN ('global', 'subsetting')),
    policy_subsetting_id    uuid,
    policy_subsetting_name  text,
    decision_reason         text NOT NULL,
    session_minutes         integer,
    created_at              timestamptz NOT NULL,
    expires_at              timestamptz,
    decided_at              timestamptz,
    decided_by_id           uuid,
    decided_by              text,
    comment                 text CHECK (length(comment) <= 2000),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);
CREATE INDEX elevation_requests_list_idx ON elevation_requests (tenant_id, created_at DESC, id DESC);
CREATE INDEX elevation_requests_pending_idx ON elevation_requests (expires_at) WHERE status = 'pending';
CREATE INDEX elevation_requests_approval_idx
    ON elevation_requests (tenant_id, device_id, directory_user_guid, decided_at DESC) WHERE status = 'approved';

ALTER TABLE elevation_requests ENABLE ROW LEVEL SECURITY;

-- Inside a tenant: that tenant's requests. With only an MSP selected (the MSP-wide view of an MSP-scoped
-- key): the requests of that MSP's tenants, read-only.
CREATE POLICY tenant_isolation ON elevation_requests
    USING (tenant_id = charter_private.current_tenant());
CREATE POLICY msp_read ON elevation_requests FOR SELECT
    USING (charter_private.current_tenant() IS NULL
           AND EXISTS (SELECT 1 FROM tenants t
                       WHERE t.id = elevation_requests.tenant_id AND t.msp_id = charter_private.current_msp()
                         AND t.deleted_at IS NULL));

GRANT SELECT, INSERT, UPDATE ON elevation_requests TO charter_app;

-- The expiry job runs before any tenant is known: the tenants that have pending requests past their time.
CREATE FUNCTION charter_private.tenants_with_expired_requests()
    RETURNS TABLE (tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
        SELECT DISTINCT r.tenant_id, t.msp_id
        FROM elevation_requests r JOIN tenants t ON t.id = r.tenant_id
        WHERE r.status = 'pending' AND r.expires_at <= now() AND t.deleted_at IS NULL
    $$;
REVOKE ALL ON FUNCTION charter_private.tenants_with_expired_requests() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.tenants_with_expired_requests() TO charter_app;
