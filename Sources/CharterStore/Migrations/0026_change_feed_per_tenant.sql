-- Change-feed appends of different tenants no longer wait on each other (issue 17; docs/architecture.md,
-- "Real time").
--
-- Until now every append took one transaction-scoped advisory lock for the whole feed, so `seq` became visible
-- in order and a replica could follow the feed with one number. Every policy write, sync and decision of every
-- tenant queued on that lock from its append until its commit. Now each tenant has a lock of its own
-- (`charter.change_feed:<tenant id>`): within a tenant, rows still become visible in `seq` order (the next
-- append waits for the previous one's commit), which is all an agent's `Last-Event-ID` needs, since a device
-- only ever sees its own tenant's rows. Across tenants a smaller `seq` may now become visible after a larger
-- one, so a replica follows the feed with its read's snapshot: the newest `seq` it showed, and the transactions
-- still running then (`pg_snapshot_xip`), whose rows are the only ones that can still appear below it. Each row
-- records the transaction that wrote it (`xid`) so that those rows can be found.

-- Existing rows take the migration's own transaction id.
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
        -- The transaction id before the rows' `seq`: a transaction that had none when a replica read the feed
        -- gets a larger id than any then running, and so a `seq` above every one the read showed.
        PERFORM pg_current_xact_id();
    END
    $$;

-- What a replica has not read yet of every tenant's rows: those after `after_seq`, and those of the transactions
-- `pending` (still running at its previous read), oldest first; before them, one row without a tenant whose
-- `seq` is the newest `seq` this read shows and whose `data` lists the transactions still running now
-- (comma-separated `xid8`s): the next read's `after_seq` and `pending`. Every replica reads the feed of all
-- tenants to find its connected devices. A STABLE function reads everything in the one snapshot of its call.
-- The rows' statement is planned with its values as literals: a generic plan cannot tell that the condition
-- selects the newest few rows, and walks the whole table.
CREATE FUNCTION charter_private.change_feed_since(after_seq bigint, pending xid8[])
    RETURNS TABLE (seq bigint, tenant_id uuid, event text, device_ids uuid[], data text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        RETURN QUERY
            SELECT (SELECT coalesce(max(c.seq), 0) FROM public.change_feed c), NULL::uuid, NULL::text, NULL::uuid[],
                   (SELECT coalesce(string_agg(x::text, ','), '') FROM pg_snapshot_xip(pg_current_snapshot()) AS x);
        RETURN QUERY EXECUTE format(
            'SELECT c.seq, c.tenant_id, c.event, c.device_ids, c.data FROM public.change_feed c
             WHERE c.seq > %s OR c.xid = ANY (%L::xid8[]) ORDER BY c.seq',
            after_seq, pending);
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
    charter_private.change_feed_since(bigint, xid8[]),
    charter_private.change_feed_tenant_head(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.lock_change_feed(uuid[]),
    charter_private.change_feed_since(bigint, xid8[]),
    charter_private.change_feed_tenant_head(uuid) TO charter_app;

GRANT CREATE ON SCHEMA charter_private TO charter_definer;
ALTER FUNCTION charter_private.change_feed_since(bigint, xid8[]) OWNER TO charter_definer;
ALTER FUNCTION charter_private.change_feed_tenant_head(uuid) OWNER TO charter_definer;
REVOKE CREATE ON SCHEMA charter_private FROM charter_definer;
