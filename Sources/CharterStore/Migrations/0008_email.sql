-- Email to approvers: each notification once (its text and the addresses it names), and one delivery per
-- recipient with the outcome of every attempt. Both are written in the same transaction as the request
-- change they report (an outbox), then sent by whichever replica claims them first. See docs/requests.md,
-- "Email to approvers".

CREATE TABLE email_messages (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL UNIQUE,
    request_id  uuid NOT NULL,
    event       text NOT NULL CHECK (event IN ('request.pending', 'request.expired')),
    -- The To: header: every address of the policy's approval.notify_emails at the time.
    recipients  text[] NOT NULL CHECK (cardinality(recipients) BETWEEN 1 AND 50),
    subject     text NOT NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, request_id, event),
    FOREIGN KEY (tenant_id, request_id) REFERENCES elevation_requests (tenant_id, id)
);

CREATE TABLE email_deliveries (
    tenant_id        uuid NOT NULL,
    id               uuid NOT NULL UNIQUE,
    message_id       uuid NOT NULL,
    recipient        text NOT NULL CHECK (length(recipient) BETWEEN 3 AND 254),
    status           text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    -- The server's reply code at the last attempt (250 once sent), and why the last attempt failed (the
    -- server's reply, or the connection, TLS or timeout error; NULL once sent).
    last_reply_code  integer,
    last_error       text,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, message_id, recipient),
    FOREIGN KEY (tenant_id, message_id) REFERENCES email_messages (tenant_id, id)
);
CREATE INDEX email_deliveries_due_idx ON email_deliveries (next_attempt_at) WHERE status = 'pending';

ALTER TABLE email_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON email_messages USING (tenant_id = charter_private.current_tenant());
CREATE POLICY tenant_isolation ON email_deliveries USING (tenant_id = charter_private.current_tenant());
GRANT SELECT, INSERT ON email_messages TO charter_app;
GRANT SELECT, INSERT, UPDATE ON email_deliveries TO charter_app;

-- The email worker runs before any tenant is known: the tenants with deliveries due.
CREATE FUNCTION charter_private.tenants_with_due_email()
    RETURNS TABLE (tenant_id uuid, msp_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
        SELECT DISTINCT d.tenant_id, t.msp_id
        FROM email_deliveries d JOIN tenants t ON t.id = d.tenant_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND t.deleted_at IS NULL
    $$;
REVOKE ALL ON FUNCTION charter_private.tenants_with_due_email() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.tenants_with_due_email() TO charter_app;
