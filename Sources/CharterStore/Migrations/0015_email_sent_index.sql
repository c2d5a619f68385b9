-- Email: the per-tenant hourly cap on approval emails (email.max_per_tenant_per_hour, docs/requests.md)
-- counts a tenant's deliveries sent in the last hour before each claim. Without this index the count reads
-- every delivery the tenant ever had through the primary key.

CREATE INDEX email_deliveries_sent_idx ON email_deliveries (tenant_id, sent_at) WHERE status = 'sent';
