-- Change-feed appends of different tenants no longer wait on each other (issue 17; docs/architecture.md,
-- "Real time").
--
-- Until now every append took one transaction-scoped advisory lock for the whole feed, so `seq` became visible
-- in order and a replica could follow the feed with one number. Every policy write, sync and decision of every
-- tenant queued on that lock from its append until its commit. Now each tenant has a lock of its own
-- (`charter.change_feed:<tenant id>`): within a tenant, rows still become visible in `seq` order (the next
-- append waits for the previous one's commit), which is all an agent's `Last-Event-ID` needs, since a device
-- only ever sees its own tenant's rows. Across tenants a smaller `seq` may now become visible after a larger
-- one, so a replica no longer follows the feed by `seq` alone: each row records the transaction that wrote it
-- (`xid`), and a replica reads every row whose transaction was still running, or had not started, at its
-- previous read (`xid` at or after that read's `pg_snapshot_xmin`), handing on only the rows past its
-- position in each tenant.

-- Existing rows take the migration's own transaction id: older than any later append's.
ALTER TABLE change_feed ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX change_feed_xid_idx ON change_feed (xid);

-- Takes the append locks of the tenants given, each once, in the order of their ids: a transaction takes its
-- feed locks in one call, last, so two transactions never wait on each other's feed locks in a cycle.
CREATE FUNCTION charter_private.lock_change_feed(tenants uuid[])
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        t uuid;
    BEGIN
        FOR t IN SELECT DISTINCT u FROM unnest(tenants) AS u ORDER BY u LOOP
            PERFORM pg_advisory_xact_lock(hashtextextended('charter.change_feed:' || t::text, 0));
        END LOOP;
    END
    $$;

-- The rows of every tenant written by transactions at or after `horizon` (a previous read's xmin), after
-- `after_seq`, oldest first. Every replica reads the feed of all tenants to find its connected devices. The
-- statement is planned with the horizon as a literal, each call: a generic plan cannot tell that `xid >= $1`
-- selects the newest few rows, and walks the whole table in `seq` order instead of the `xid` index.
CREATE FUNCTION charter_private.change_feed_since(horizon xid8, after_seq bigint, max_rows integer)
    RETURNS TABLE (seq bigint, tenant_id uuid, event text, device_ids uuid[], data text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        RETURN QUERY EXECUTE format(
            'SELECT c.seq, c.tenant_id, c.event, c.device_ids, c.data FROM public.change_feed c
             WHERE c.xid >= %L::xid8 AND c.seq > %s ORDER BY c.seq LIMIT %s',
            horizon, after_seq, max_rows);
    END
    $$;

-- The newest `seq` of one tenant (0 before its first row): a replica's position in a tenant it had not read yet.
CREATE FUNCTION charter_private.change_feed_tenant_head(tenant uuid)
    RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT coalesce(pg_catalog.max(c.seq), 0) FROM public.change_feed c WHERE c.tenant_id = tenant $$;

DROP FUNCTION charter_private.change_feed_after(bigint, integer);
DROP FUNCTION charter_private.change_feed_head();

-- Appends as 0025's did, under the tenants' own locks instead of the feed's one.
CREATE OR REPLACE FUNCTION charter_private.batch_append_change_feed(tenants uuid[], entries jsonb)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        t uuid;
        last_seq bigint;
        appended bigint;
    BEGIN
        PERFORM charter_private.enter_tenant_batch(tenants);
        PERFORM charter_private.lock_change_feed(tenants);
        FOREACH t IN ARRAY tenants LOOP
            PERFORM set_config('charter.tenant_id', t::text, true);
            WITH inserted AS (
                INSERT INTO public.change_feed (tenant_id, event, device_ids, data)
                SELECT t, e.value ->> 'event',
                       CASE WHEN jsonb_typeof(e.value -> 'device_ids') = 'array'
                            THEN ARRAY(SELECT jsonb_array_elements_text(e.value -> 'device_ids')::uuid) END,
                       e.value ->> 'data'
                FROM jsonb_array_elements(entries) WITH ORDINALITY AS e (value, n)
                WHERE (e.value ->> 'tenant_id')::uuid = t ORDER BY e.n
                RETURNING seq
            )
            SELECT max(seq) INTO appended FROM inserted;
            last_seq := greatest(last_seq, appended);
        END LOOP;
        PERFORM set_config('charter.tenant_id', '', true);
        RETURN last_seq;
    END
    $$;

REVOKE ALL ON FUNCTION charter_private.lock_change_feed(uuid[]),
    charter_private.change_feed_since(xid8, bigint, integer),
    charter_private.change_feed_tenant_head(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.lock_change_feed(uuid[]),
    charter_private.change_feed_since(xid8, bigint, integer),
    charter_private.change_feed_tenant_head(uuid) TO charter_app;

GRANT CREATE ON SCHEMA charter_private TO charter_definer;
ALTER FUNCTION charter_private.change_feed_since(xid8, bigint, integer) OWNER TO charter_definer;
ALTER FUNCTION charter_private.change_feed_tenant_head(uuid) OWNER TO charter_definer;
REVOKE CREATE ON SCHEMA charter_private FROM charter_definer;
