-- Reads and appends for many tenants of one MSP in one statement each (issue 19, a baseline change reaching
-- 100 tenants; docs/baselines.md, "Cost", and docs/benchmarks.md, "Baselines").
--
-- Row-level security admits a tenant-owned row only while its tenant is selected (`charter.tenant_id`), so a
-- baseline edit used to select each assigned tenant in turn and pay about ten round trips per tenant. Each
-- function below takes the tenant ids and, on the server, selects each tenant in turn with
-- `set_config('charter.tenant_id', …, true)` and runs that tenant's statement (`RETURN QUERY`, or an insert),
-- then selects no tenant again: the client pays one round trip per table for all the tenants.
--
-- Why this is safe:
-- - Every function is SECURITY INVOKER: it runs as the service role, under the service role's own policies,
--   each evaluated with one tenant selected, exactly as `Database.withTenant` would evaluate them. It reads or
--   writes nothing the caller could not read or write itself by selecting the tenant, and no more.
-- - `charter_private.enter_tenant_batch` first requires an MSP selected and no tenant selected, and every id to
--   be a live tenant of that MSP (read under the MSP, where the `tenants` policy shows exactly the MSP's
--   tenants), before any tenant is selected: a tenant of another MSP, or a deleted one, never becomes the
--   transaction's tenant (raises P0002 and the transaction aborts).
-- - The selection is transaction-local and cleared at the end of each function, so the statements after it run
--   as the MSP again (an error aborts the whole transaction, selection included).

CREATE FUNCTION charter_private.enter_tenant_batch(tenants uuid[])
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF charter_private.current_msp() IS NULL OR charter_private.current_tenant() IS NOT NULL THEN
            RAISE EXCEPTION 'a tenant batch needs an MSP transaction with no tenant selected' USING ERRCODE = 'P0002';
        END IF;
        IF (SELECT count(*) FROM public.tenants t WHERE t.id = ANY (tenants) AND t.deleted_at IS NULL)
           <> (SELECT count(DISTINCT u) FROM unnest(tenants) AS u) THEN
            RAISE EXCEPTION 'a tenant of the batch is not a live tenant of the MSP' USING ERRCODE = 'P0002';
        END IF;
    END
    $$;

-- Each tenant's settings row (none for a tenant that never saved settings).
CREATE FUNCTION charter_private.batch_settings(tenants uuid[])
    RETURNS TABLE (tenant_id uuid, document text, version bigint, updated_at timestamptz, updated_by text,
                   sections text[])
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    #variable_conflict use_column
    DECLARE
        t uuid;
    BEGIN
        PERFORM charter_private.enter_tenant_batch(tenants);
        FOREACH t IN ARRAY tenants LOOP
            PERFORM set_config('charter.tenant_id', t::text, true);
            RETURN QUERY
                SELECT s.tenant_id, s.document, s.version, s.updated_at, s.updated_by, s.sections
                FROM public.tenant_settings s WHERE s.tenant_id = t;
        END LOOP;
        PERFORM set_config('charter.tenant_id', '', true);
    END
    $$;

-- Each tenant's subsettings, in priority order.
CREATE FUNCTION charter_private.batch_subsettings(tenants uuid[])
    RETURNS TABLE (tenant_id uuid, id uuid, "position" integer, name text, description text, enabled boolean,
                   target text, scope_groups uuid[], scope_ous uuid[], overrides text, version bigint,
                   created_at timestamptz, updated_at timestamptz)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    #variable_conflict use_column
    DECLARE
        t uuid;
    BEGIN
        PERFORM charter_private.enter_tenant_batch(tenants);
        FOREACH t IN ARRAY tenants LOOP
            PERFORM set_config('charter.tenant_id', t::text, true);
            RETURN QUERY
                SELECT s.tenant_id, s.id, s.position, s.name, s.description, s.enabled, s.target, s.scope_groups,
                       s.scope_ous, s.overrides, s.version, s.created_at, s.updated_at
                FROM public.subsettings s WHERE s.tenant_id = t ORDER BY s.position;
        END LOOP;
        PERFORM set_config('charter.tenant_id', '', true);
    END
    $$;

-- Each tenant's devices that are not revoked, as policy sees them (DeviceRepository.managed, per tenant).
CREATE FUNCTION charter_private.batch_managed_devices(tenants uuid[], user_retention_seconds double precision)
    RETURNS TABLE (tenant_id uuid, id uuid, computer_guid uuid, users uuid[])
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    #variable_conflict use_column
    DECLARE
        t uuid;
    BEGIN
        PERFORM charter_private.enter_tenant_batch(tenants);
        FOREACH t IN ARRAY tenants LOOP
            PERFORM set_config('charter.tenant_id', t::text, true);
            RETURN QUERY
                SELECT d.tenant_id, d.id, d.computer_guid,
                       coalesce(array_agg(DISTINCT o.guid) FILTER (WHERE o.guid IS NOT NULL), '{}')
                FROM public.devices d
                LEFT JOIN public.device_users u
                       ON u.tenant_id = d.tenant_id AND u.device_id = d.id
                      AND u.last_seen_at >= now() - make_interval(secs => user_retention_seconds)
                LEFT JOIN public.directory_objects o
                       ON o.tenant_id = d.tenant_id AND o.kind = 'user'
                      AND (o.guid = u.guid OR upper(o.sid) = upper(u.sid)
                           OR lower(o.user_principal_name) = lower(u.upn))
                WHERE d.tenant_id = t AND d.revoked_at IS NULL
                GROUP BY d.tenant_id, d.id, d.computer_guid;
        END LOOP;
        PERFORM set_config('charter.tenant_id', '', true);
    END
    $$;

-- The closure rows of the given objects, each pair (object_tenants[i], objects[i]) an object of that tenant
-- (PolicyFactsRepository.facts, per tenant).
CREATE FUNCTION charter_private.batch_memberships(tenants uuid[], object_tenants uuid[], objects uuid[])
    RETURNS TABLE (tenant_id uuid, member_guid uuid, group_guid uuid, depth integer, chain uuid[])
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    #variable_conflict use_column
    DECLARE
        t uuid;
        guids uuid[];
    BEGIN
        PERFORM charter_private.enter_tenant_batch(tenants);
        FOREACH t IN ARRAY tenants LOOP
            PERFORM set_config('charter.tenant_id', t::text, true);
            guids := ARRAY(SELECT p.object FROM unnest(object_tenants, objects) AS p (owner, object) WHERE p.owner = t);
            RETURN QUERY
                SELECT m.tenant_id, m.member_guid, m.group_guid, m.depth, m.chain
                FROM public.directory_memberships m WHERE m.tenant_id = t AND m.member_guid = ANY (guids);
        END LOOP;
        PERFORM set_config('charter.tenant_id', '', true);
    END
    $$;

-- The chains of parents of the given objects up to their roots, pairs as above.
CREATE FUNCTION charter_private.batch_parents(tenants uuid[], object_tenants uuid[], objects uuid[])
    RETURNS TABLE (tenant_id uuid, guid uuid, parent_guid uuid)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    #variable_conflict use_column
    DECLARE
        t uuid;
        guids uuid[];
    BEGIN
        PERFORM charter_private.enter_tenant_batch(tenants);
        FOREACH t IN ARRAY tenants LOOP
            PERFORM set_config('charter.tenant_id', t::text, true);
            guids := ARRAY(SELECT p.object FROM unnest(object_tenants, objects) AS p (owner, object) WHERE p.owner = t);
            -- UNION (not UNION ALL) stops at a repeated row, so a corrupt tree that loops still ends.
            RETURN QUERY
                WITH RECURSIVE up (guid, parent_guid) AS (
                    SELECT o.guid, o.parent_guid FROM public.directory_objects o
                    WHERE o.tenant_id = t AND o.guid = ANY (guids)
                    UNION
                    SELECT o.guid, o.parent_guid FROM public.directory_objects o
                    JOIN up ON o.guid = up.parent_guid
                    WHERE o.tenant_id = t
                )
                SELECT t, up.guid, up.parent_guid FROM up WHERE up.parent_guid IS NOT NULL;
        END LOOP;
        PERFORM set_config('charter.tenant_id', '', true);
    END
    $$;

-- The groups a named scope could find (PolicyFactsRepository.scopeDirectory, per tenant): by lower-cased
-- sAMAccountName or cn in `names`, upper-cased SID in `sids`, or a domain SID ending in a relative id in
-- `relative_ids`.
CREATE FUNCTION charter_private.batch_scope_groups(
    tenants uuid[], names text[], sids text[], relative_ids bigint[]
)
    RETURNS TABLE (tenant_id uuid, guid uuid, sam_account_name text, name text, sid text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    #variable_conflict use_column
    DECLARE
        t uuid;
    BEGIN
        PERFORM charter_private.enter_tenant_batch(tenants);
        FOREACH t IN ARRAY tenants LOOP
            PERFORM set_config('charter.tenant_id', t::text, true);
            RETURN QUERY
                SELECT o.tenant_id, o.guid, o.sam_account_name, o.name, o.sid FROM public.directory_objects o
                WHERE o.tenant_id = t AND o.kind = 'group' AND (
                    lower(o.sam_account_name) = ANY (names)
                    OR lower(o.name) = ANY (names)
                    OR upper(o.sid) = ANY (sids)
                    OR (o.sid ~ '^S-1-5-21-[0-9]+-[0-9]+-[0-9]+-[0-9]{1,10}$'
                        AND substring(o.sid FROM '-([0-9]+)$')::bigint = ANY (relative_ids)));
        END LOOP;
        PERFORM set_config('charter.tenant_id', '', true);
    END
    $$;

-- Every OU and domain root (kind 'ou' or 'domain', with its GUID and DN) and every connection's base DN
-- (kind 'base', no GUID) of each tenant: what a scope's OU paths resolve against.
CREATE FUNCTION charter_private.batch_scope_containers(tenants uuid[])
    RETURNS TABLE (tenant_id uuid, kind text, guid uuid, dn text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    #variable_conflict use_column
    DECLARE
        t uuid;
    BEGIN
        PERFORM charter_private.enter_tenant_batch(tenants);
        FOREACH t IN ARRAY tenants LOOP
            PERFORM set_config('charter.tenant_id', t::text, true);
            RETURN QUERY
                SELECT o.tenant_id, o.kind, o.guid, o.dn FROM public.directory_objects o
                WHERE o.tenant_id = t AND o.kind IN ('ou', 'domain')
                UNION ALL
                SELECT c.tenant_id, 'base', NULL::uuid, c.base_dn FROM public.directory_connections c
                WHERE c.tenant_id = t;
        END LOOP;
        PERFORM set_config('charter.tenant_id', '', true);
    END
    $$;

-- Appends change-feed entries, `entries` a JSON array of {"tenant_id", "event", "device_ids" (array or null),
-- "data"}, in array order within each tenant; the caller holds the feed's append lock and notifies once
-- (ChangeFeedRepository). Returns the last sequence number appended.
CREATE FUNCTION charter_private.batch_append_change_feed(tenants uuid[], entries jsonb)
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

-- Takes each tenant's audit chain lock (the key AuditLog.append takes, `audit:<tenant id>`), in array order,
-- and returns the chain's head (no row for an empty chain). The caller computes the next events' hashes from
-- the heads and appends them with batch_append_audit_events in the same transaction.
CREATE FUNCTION charter_private.batch_lock_audit_heads(tenants uuid[])
    RETURNS TABLE (tenant_id uuid, seq bigint, hash bytea)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    #variable_conflict use_column
    DECLARE
        t uuid;
    BEGIN
        PERFORM charter_private.enter_tenant_batch(tenants);
        FOREACH t IN ARRAY tenants LOOP
            PERFORM pg_advisory_xact_lock(hashtextextended('audit:' || t::text, 0));
            PERFORM set_config('charter.tenant_id', t::text, true);
            RETURN QUERY
                SELECT e.tenant_id, e.seq, e.hash FROM public.audit_events e
                WHERE e.tenant_id = t ORDER BY e.seq DESC LIMIT 1;
        END LOOP;
        PERFORM set_config('charter.tenant_id', '', true);
    END
    $$;

-- Inserts audit events whose sequence numbers and hashes the caller computed under the chain locks of
-- batch_lock_audit_heads: `events` a JSON array of objects with the columns of audit_events (occurred_at as
-- microseconds since 1970 in "occurred_at_us", the hashes in hex), in array order within each tenant.
CREATE FUNCTION charter_private.batch_append_audit_events(tenants uuid[], events jsonb)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        t uuid;
    BEGIN
        PERFORM charter_private.enter_tenant_batch(tenants);
        FOREACH t IN ARRAY tenants LOOP
            PERFORM set_config('charter.tenant_id', t::text, true);
            INSERT INTO public.audit_events (tenant_id, seq, id, occurred_at, actor_id, actor_name, action,
                target_type, target_id, before, after, request_id, client_ip, prev_hash, hash, actor_issuer,
                actor_subject, actor_email)
            SELECT t, (e.value ->> 'seq')::bigint, (e.value ->> 'id')::uuid,
                   'epoch'::timestamptz + (e.value ->> 'occurred_at_us')::bigint * interval '1 microsecond',
                   (e.value ->> 'actor_id')::uuid, e.value ->> 'actor_name', e.value ->> 'action',
                   e.value ->> 'target_type', e.value ->> 'target_id', e.value ->> 'before', e.value ->> 'after',
                   e.value ->> 'request_id', e.value ->> 'client_ip', decode(e.value ->> 'prev_hash', 'hex'),
                   decode(e.value ->> 'hash', 'hex'), e.value ->> 'actor_issuer', e.value ->> 'actor_subject',
                   e.value ->> 'actor_email'
            FROM jsonb_array_elements(events) WITH ORDINALITY AS e (value, n)
            WHERE (e.value ->> 'tenant_id')::uuid = t ORDER BY e.n;
        END LOOP;
        PERFORM set_config('charter.tenant_id', '', true);
    END
    $$;

REVOKE ALL ON FUNCTION charter_private.enter_tenant_batch(uuid[]),
    charter_private.batch_settings(uuid[]),
    charter_private.batch_subsettings(uuid[]),
    charter_private.batch_managed_devices(uuid[], double precision),
    charter_private.batch_memberships(uuid[], uuid[], uuid[]),
    charter_private.batch_parents(uuid[], uuid[], uuid[]),
    charter_private.batch_scope_groups(uuid[], text[], text[], bigint[]),
    charter_private.batch_scope_containers(uuid[]),
    charter_private.batch_append_change_feed(uuid[], jsonb),
    charter_private.batch_lock_audit_heads(uuid[]),
    charter_private.batch_append_audit_events(uuid[], jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.enter_tenant_batch(uuid[]),
    charter_private.batch_settings(uuid[]),
    charter_private.batch_subsettings(uuid[]),
    charter_private.batch_managed_devices(uuid[], double precision),
    charter_private.batch_memberships(uuid[], uuid[], uuid[]),
    charter_private.batch_parents(uuid[], uuid[], uuid[]),
    charter_private.batch_scope_groups(uuid[], text[], text[], bigint[]),
    charter_private.batch_scope_containers(uuid[]),
    charter_private.batch_append_change_feed(uuid[], jsonb),
    charter_private.batch_lock_audit_heads(uuid[]),
    charter_private.batch_append_audit_events(uuid[], jsonb) TO charter_app;
