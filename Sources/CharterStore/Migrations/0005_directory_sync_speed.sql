-- Directory sync: what a fast and self-healing sync needs from the schema. See docs/directory-sync.md.
--
-- 1. The closure rows of a connection (about 8 per synced object) no longer carry a row-level
--    foreign key to directory_connections: its check ran once per inserted row and cost as much as
--    the insert itself (1.2 s of 2.1 s for the 103k rows of the benchmark directory). A statement
--    trigger keeps ON DELETE CASCADE, and the sync engine takes the connection row FOR KEY SHARE
--    once per run, which is what the per-row check did, so a connection deleted while a sync runs
--    waits for it and then takes every row with it.
-- 2. The service role cannot ANALYZE tables it does not own; a first sync fills the directory
--    tables inside one transaction, and the queries after it would otherwise be planned on an
--    empty table's statistics.
-- 3. A process that dies in the middle of a sync leaves its run `running`; every scheduler pass
--    marks runs whose connection's lease is free or has expired as failed.

ALTER TABLE directory_memberships DROP CONSTRAINT directory_memberships_tenant_id_connection_id_fkey;

CREATE FUNCTION charter_private.delete_directory_memberships_of_connections()
    RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
    BEGIN
        DELETE FROM directory_memberships m
        USING gone
        WHERE m.tenant_id = gone.tenant_id AND m.connection_id = gone.id;
        RETURN NULL;
    END
    $$;

CREATE TRIGGER directory_connections_delete_memberships
    AFTER DELETE ON directory_connections
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT
    EXECUTE FUNCTION charter_private.delete_directory_memberships_of_connections();

-- Runs as the schema owner: statistics only, no rows are returned to the caller. The closure table is
-- left to autovacuum: nothing in the sync's transaction reads it after writing it, and sampling it
-- costs more than the two tables together.
CREATE FUNCTION charter_private.analyze_directory()
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
    BEGIN
        ANALYZE directory_objects, directory_members;
    END
    $$;
REVOKE ALL ON FUNCTION charter_private.analyze_directory() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.analyze_directory() TO charter_app;

-- Like claim_directory_syncs, the scheduler's way across tenants. A run is `running` only while
-- its process holds the connection's lease (the engine takes the lease and records the run in one
-- transaction, and records the outcome and releases the lease in another), so a running run
-- whose lease is free or expired belongs to a process that is gone.
CREATE FUNCTION charter_private.abandon_directory_sync_runs()
    RETURNS TABLE (tenant_id uuid, connection_id uuid, run_id uuid)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
        UPDATE directory_sync_runs r
        SET status = 'failed', finished_at = now(),
            error = 'Abandoned: the process running this sync stopped before it finished (its lease expired); '
                || 'nothing it read was stored.'
        FROM directory_sync_jobs j
        WHERE r.status = 'running'
          AND j.tenant_id = r.tenant_id AND j.connection_id = r.connection_id
          AND (j.lease_expires_at IS NULL OR j.lease_expires_at < now())
        RETURNING r.tenant_id, r.connection_id, r.id
    $$;
REVOKE ALL ON FUNCTION charter_private.abandon_directory_sync_runs() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.abandon_directory_sync_runs() TO charter_app;

CREATE INDEX directory_sync_runs_running_idx ON directory_sync_runs (tenant_id, connection_id)
    WHERE status = 'running';
