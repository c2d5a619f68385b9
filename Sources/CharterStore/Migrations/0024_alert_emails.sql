-- Email for alerts (issue 19, item 4; docs/alerts.md, "Email"): the addresses a tenant, and an MSP for all its
-- tenants, want alerts emailed to, and the outbox of approval emails (0008) carrying alerts too.
--
-- An alert email is queued in the tenant's transaction that records what happened, in the tenant's outbox, so
-- the email worker, its claims and the tenant's hourly cap are the approval emails'. An alert message names no
-- request: `request_id` is set exactly for the request events.

ALTER TABLE email_messages ALTER COLUMN request_id DROP NOT NULL;
ALTER TABLE email_messages DROP CONSTRAINT email_messages_event_check;
ALTER TABLE email_messages ADD CONSTRAINT email_messages_event_subject_check CHECK (
    (request_id IS NOT NULL AND event IN ('request.pending', 'request.expired'))
    OR (request_id IS NULL AND event IN ('directory.sync_failed', 'directory.sync_held', 'device.revoked',
                                         'bundle.rejected', 'audit.chain_broken'))
);

-- A tenant's recipients: tenant data like its webhooks.
CREATE TABLE tenant_alert_emails (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL UNIQUE,
    address     text NOT NULL CHECK (length(address) BETWEEN 3 AND 254),
    events      text[] NOT NULL CHECK (cardinality(events) >= 1),
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL,
    created_by  uuid,
    PRIMARY KEY (tenant_id, id)
);

-- An MSP's recipients of the alerts of all its tenants: visible only in a transaction that set the MSP and no
-- tenant, as its webhooks are (0023), so a tenant-scoped connection never reads them.
CREATE TABLE msp_alert_emails (
    msp_id      uuid NOT NULL REFERENCES msps (id),
    id          uuid NOT NULL UNIQUE,
    address     text NOT NULL CHECK (length(address) BETWEEN 3 AND 254),
    events      text[] NOT NULL CHECK (cardinality(events) >= 1),
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL,
    created_by  uuid,
    PRIMARY KEY (msp_id, id)
);

ALTER TABLE tenant_alert_emails ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_alert_emails FORCE ROW LEVEL SECURITY;
ALTER TABLE msp_alert_emails ENABLE ROW LEVEL SECURITY;
ALTER TABLE msp_alert_emails FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_alert_emails USING (tenant_id = charter_private.current_tenant());
CREATE POLICY msp_isolation ON msp_alert_emails
    USING (msp_id = charter_private.current_msp() AND charter_private.current_tenant() IS NULL);
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_alert_emails, msp_alert_emails TO charter_app;

-- Queues the alert email (`event`, its subject and body) for the enabled recipients of the current tenant's MSP
-- that subscribed to `event`: one message to all of them, in the current tenant's outbox. Without a current
-- tenant, with a tenant that is not the current MSP's, or with no such recipient, it queues nothing. It reads
-- nothing back.
CREATE FUNCTION charter_private.enqueue_msp_alert_email(event text, subject text, body text, at timestamptz)
    RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        WITH recipients AS (
            SELECT t.id AS tenant_id, pg_catalog.array_agg(DISTINCT a.address ORDER BY a.address) AS addresses
            FROM public.tenants t
            JOIN public.msp_alert_emails a ON a.msp_id = t.msp_id
            WHERE t.id = charter_private.current_tenant() AND t.msp_id = charter_private.current_msp()
              AND a.enabled AND enqueue_msp_alert_email.event = ANY(a.events)
            GROUP BY t.id
        ), message AS (
            INSERT INTO public.email_messages (tenant_id, id, request_id, event, recipients, subject, body, created_at)
            SELECT r.tenant_id, pg_catalog.gen_random_uuid(), NULL, enqueue_msp_alert_email.event,
                   r.addresses[1:50], enqueue_msp_alert_email.subject, enqueue_msp_alert_email.body,
                   enqueue_msp_alert_email.at
            FROM recipients r
            RETURNING tenant_id, id, recipients
        )
        INSERT INTO public.email_deliveries (tenant_id, id, message_id, recipient, status, next_attempt_at, created_at)
        SELECT m.tenant_id, pg_catalog.gen_random_uuid(), m.id, recipient, 'pending', enqueue_msp_alert_email.at,
               enqueue_msp_alert_email.at
        FROM message m, pg_catalog.unnest(m.recipients) AS recipient
    $$;

REVOKE ALL ON FUNCTION charter_private.enqueue_msp_alert_email(text, text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.enqueue_msp_alert_email(text, text, text, timestamptz) TO charter_app;

-- What the function reads and writes, and only while it runs (migration 0011's pattern; email_deliveries has
-- its definer policy since 0011).
GRANT SELECT ON msp_alert_emails TO charter_definer;
GRANT SELECT, INSERT ON email_messages TO charter_definer;
GRANT INSERT ON email_deliveries TO charter_definer;
CREATE POLICY definer_access ON msp_alert_emails TO charter_definer USING (current_user = 'charter_definer');
CREATE POLICY definer_access ON email_messages TO charter_definer USING (current_user = 'charter_definer');
GRANT CREATE ON SCHEMA charter_private TO charter_definer;
ALTER FUNCTION charter_private.enqueue_msp_alert_email(text, text, text, timestamptz) OWNER TO charter_definer;
REVOKE CREATE ON SCHEMA charter_private FROM charter_definer;
