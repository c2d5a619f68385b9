-- Standing approvals (issue 19): an approver approves a request for a scope and a duration, and later requests
-- for the same application by anyone in the scope are allowed while it lasts. See docs/requests.md,
-- "Approving for a scope".
--
-- The application is identified as the re-run cover of `approval.approval_validity_minutes` identifies it: by
-- SHA-256, else (only for one user on one computer) by path. Rows are never updated or deleted by the service;
-- the audit log records who approved what for whom.

CREATE TABLE standing_approvals (
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    id              uuid NOT NULL,
    request_id      uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('run_as_admin', 'admin_session')),
    scope           text NOT NULL CHECK (scope IN ('user_on_computer', 'group', 'tenant')),
    user_guid       uuid,
    device_id       uuid,
    group_guid      uuid,
    sha256          text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    path            text CHECK (length(path) <= 32767),
    approved_at     timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL CHECK (expires_at > approved_at),
    approved_by_id  uuid,
    approved_by     text NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, request_id) REFERENCES elevation_requests (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id),
    CHECK ((scope = 'user_on_computer') = (user_guid IS NOT NULL AND device_id IS NOT NULL)),
    CHECK ((scope = 'group') = (group_guid IS NOT NULL)),
    -- A path names a file on one computer only.
    CHECK (sha256 IS NOT NULL OR (scope = 'user_on_computer' AND path IS NOT NULL))
);
CREATE INDEX standing_approvals_lookup_idx ON standing_approvals (tenant_id, kind, sha256, expires_at);

ALTER TABLE standing_approvals ENABLE ROW LEVEL SECURITY;
ALTER TABLE standing_approvals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON standing_approvals USING (tenant_id = charter_private.current_tenant());
GRANT SELECT, INSERT ON standing_approvals TO charter_app;
