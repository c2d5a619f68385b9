-- Webhooks at MSP level (issue 19, item 4; docs/alerts.md): an MSP's receivers of the events of all its
-- tenants, and the log of every delivery to them.
--
-- Both tables belong to the MSP as its MSP-wide keys and identity provider do: visible only inside a
-- transaction that set `charter.msp_id` and no tenant, so a tenant-scoped connection never reads an MSP
-- webhook, its URL, its sealed secret or a delivery (which may carry another tenant's event).
--
-- An event happens inside a tenant's transaction, which cannot see these tables; it is queued for the MSP's
-- webhooks by `charter_private.enqueue_msp_webhook_deliveries`, a definer function that reads nothing back:
-- it takes the tenant and the MSP from the transaction's own settings (never from an argument), checks that
-- the tenant is the MSP's, and inserts one delivery per subscribed webhook of that MSP. So a tenant's
-- transaction can add its own events to its own MSP's outbox and nothing else.

CREATE TABLE msp_webhooks (
    msp_id         uuid NOT NULL REFERENCES msps (id),
    id             uuid NOT NULL UNIQUE,
    url            text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    events         text[] NOT NULL CHECK (cardinality(events) >= 1),
    -- SecretSealer's text form; the secret itself is shown once, at creation.
    secret_sealed  text NOT NULL,
    enabled        boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL,
    created_by     uuid,
    PRIMARY KEY (msp_id, id)
);

CREATE TABLE msp_webhook_deliveries (
    msp_id           uuid NOT NULL,
    id               uuid NOT NULL UNIQUE,
    webhook_id       uuid NOT NULL,
    -- The tenant the event happened in (also named in the payload).
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    event            text NOT NULL,
    payload          text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz,
    claim_token      uuid,
    PRIMARY KEY (msp_id, id),
    FOREIGN KEY (msp_id, webhook_id) REFERENCES msp_webhooks (msp_id, id) ON DELETE CASCADE
);
CREATE INDEX msp_webhook_deliveries_due_idx ON msp_webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX msp_webhook_deliveries_list_idx ON msp_webhook_deliveries (msp_id, webhook_id, created_at DESC);

ALTER TABLE msp_webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE msp_webhooks FORCE ROW LEVEL SECURITY;
ALTER TABLE msp_webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE msp_webhook_deliveries FORCE ROW LEVEL SECURITY;

CREATE POLICY msp_isolation ON msp_webhooks
    USING (msp_id = charter_private.current_msp() AND charter_private.current_tenant() IS NULL);
CREATE POLICY msp_isolation ON msp_webhook_deliveries
    USING (msp_id = charter_private.current_msp() AND charter_private.current_tenant() IS NULL);

GRANT SELECT, INSERT, UPDATE, DELETE ON msp_webhooks TO charter_app;
GRANT SELECT, INSERT, UPDATE ON msp_webhook_deliveries TO charter_app;

-- Queues `event` for the enabled webhooks of the current tenant's MSP that subscribed to it. Without a
-- current tenant, or with a tenant that is not the current MSP's, it queues nothing.
CREATE FUNCTION charter_private.enqueue_msp_webhook_deliveries(event text, payload text, at timestamptz)
    RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        INSERT INTO public.msp_webhook_deliveries
            (msp_id, id, webhook_id, tenant_id, event, payload, status, next_attempt_at, created_at)
        SELECT w.msp_id, pg_catalog.gen_random_uuid(), w.id, t.id, enqueue_msp_webhook_deliveries.event,
               enqueue_msp_webhook_deliveries.payload, 'pending', enqueue_msp_webhook_deliveries.at,
               enqueue_msp_webhook_deliveries.at
        FROM public.tenants t
        JOIN public.msp_webhooks w ON w.msp_id = t.msp_id
        WHERE t.id = charter_private.current_tenant() AND t.msp_id = charter_private.current_msp()
          AND w.enabled AND enqueue_msp_webhook_deliveries.event = ANY(w.events)
    $$;

-- The delivery worker runs before any MSP is known: the MSPs with deliveries due.
CREATE FUNCTION charter_private.msps_with_due_webhook_deliveries()
    RETURNS TABLE (msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT DISTINCT d.msp_id
        FROM public.msp_webhook_deliveries d
        WHERE d.status = 'pending' AND d.next_attempt_at <= pg_catalog.now()
    $$;

REVOKE ALL ON FUNCTION charter_private.enqueue_msp_webhook_deliveries(text, text, timestamptz),
    charter_private.msps_with_due_webhook_deliveries() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.enqueue_msp_webhook_deliveries(text, text, timestamptz),
    charter_private.msps_with_due_webhook_deliveries() TO charter_app;

-- What the functions read and write, and only while they run (migration 0011's pattern).
GRANT SELECT ON msp_webhooks TO charter_definer;
GRANT SELECT, INSERT ON msp_webhook_deliveries TO charter_definer;
CREATE POLICY definer_access ON msp_webhooks TO charter_definer USING (current_user = 'charter_definer');
CREATE POLICY definer_access ON msp_webhook_deliveries TO charter_definer
    USING (current_user = 'charter_definer');
GRANT CREATE ON SCHEMA charter_private TO charter_definer;
ALTER FUNCTION charter_private.enqueue_msp_webhook_deliveries(text, text, timestamptz) OWNER TO charter_definer;
ALTER FUNCTION charter_private.msps_with_due_webhook_deliveries() OWNER TO charter_definer;
REVOKE CREATE ON SCHEMA charter_private FROM charter_definer;
