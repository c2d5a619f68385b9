-- The change feed keeps a bounded history. Any replica prunes entries older than the retention, always
-- keeping the newest (so the feed head never goes back); pruning twice at once is harmless. Each tenant's
-- horizon records the last sequence number pruned: an agent resuming from before it gets one `bundle`
-- hint instead of the history (docs/agent-protocol.md).
CREATE INDEX change_feed_occurred_idx ON change_feed (occurred_at);

CREATE TABLE change_feed_horizon (
    tenant_id       uuid PRIMARY KEY REFERENCES tenants (id),
    pruned_through  bigint NOT NULL
);
ALTER TABLE change_feed_horizon ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON change_feed_horizon USING (tenant_id = charter_private.current_tenant());
GRANT SELECT ON change_feed_horizon TO charter_app;

CREATE FUNCTION charter_private.change_feed_prune(keep_seconds integer)
    RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
        WITH gone AS (
            DELETE FROM change_feed
            WHERE occurred_at < now() - make_interval(secs => keep_seconds)
              AND seq < (SELECT max(seq) FROM change_feed)
            RETURNING tenant_id, seq
        ), horizon AS (
            INSERT INTO change_feed_horizon (tenant_id, pruned_through)
            SELECT tenant_id, max(seq) FROM gone GROUP BY tenant_id
            ON CONFLICT (tenant_id) DO UPDATE
                SET pruned_through = greatest(change_feed_horizon.pruned_through, excluded.pruned_through)
        )
        SELECT count(*) FROM gone
    $$;
REVOKE ALL ON FUNCTION charter_private.change_feed_prune(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.change_feed_prune(integer) TO charter_app;
