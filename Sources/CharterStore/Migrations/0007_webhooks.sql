-- Webhooks: per-tenant HTTP endpoints told of request events, and the log of every delivery attempt.
-- A delivery row is written in the same transaction as the event it reports (an outbox), then sent by
-- whichever replica claims it first. See docs/requests.md, "Notifications".

CREATE TABLE webhooks (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    id             uuid NOT NULL UNIQUE,
    url            text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    events         text[] NOT NULL CHECK (cardinality(events) >= 1),
    -- SecretSealer's text form; the secret itself is shown once, at creation.
    secret_sealed  text NOT NULL,
    enabled        boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL,
    created_by     uuid,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id        uuid NOT NULL,
    id               uuid NOT NULL UNIQUE,
    webhook_id       uuid NOT NULL,
    event            text NOT NULL,
    payload          text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (tenant_id, webhook_id, created_at DESC);

ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhooks USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON webhook_deliveries USING (tenant_id = charter_private.current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON webhooks TO charter_app;
GRANT SELECT, INSERT, UPDATE ON webhook_deliveries TO charter_app;

-- The delivery worker runs before any tenant is known: the tenants with deliveries due.
CREATE FUNCTION charter_private.tenants_with_due_deliveries()
    RETURNS TABLE (tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
        SELECT DISTINCT d.tenant_id, t.msp_id
        FROM webhook_deliveries d JOIN tenants t ON t.id = d.tenant_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND t.deleted_at IS NULL
    $$;
REVOKE ALL ON FUNCTION charter_private.tenants_with_due_deliveries() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.tenants_with_due_deliveries() TO charter_app;
