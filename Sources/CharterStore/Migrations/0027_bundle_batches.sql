-- Bundles made a batch at a time (issue 17; docs/architecture.md, "Real time", step 6), and baseline edits that
-- count devices instead of reading them.
--
-- 1. The copy of each bundle's version and feed position to its device row (migration 0022, for the MSP
--    overview) ran once per row: a push of 250 bundles ran 250 trigger calls and 250 single-row UPDATEs. It is
--    now one UPDATE per statement, from the statement's transition table; rows whose copy already matches are
--    left alone.
DROP TRIGGER device_bundles_copy_position ON device_bundles;
DROP FUNCTION charter_private.copy_bundle_position_to_device();

-- Runs as the role writing the bundles (the service role, in the devices' tenant): the device rows are its own.
CREATE FUNCTION charter_private.copy_bundle_positions_to_devices()
    RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        UPDATE public.devices d SET bundle_version = w.version, bundle_feed_seq = w.feed_seq
        FROM written w
        WHERE d.tenant_id = w.tenant_id AND d.id = w.device_id
          AND (d.bundle_version IS DISTINCT FROM w.version OR d.bundle_feed_seq IS DISTINCT FROM w.feed_seq);
        RETURN NULL;
    END
    $$;

-- An INSERT … ON CONFLICT DO UPDATE fires both: the inserted rows reach the first, the updated ones the second.
CREATE TRIGGER device_bundles_copy_positions_inserted
    AFTER INSERT ON device_bundles
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT
    EXECUTE FUNCTION charter_private.copy_bundle_positions_to_devices();
CREATE TRIGGER device_bundles_copy_positions_updated
    AFTER UPDATE ON device_bundles
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT
    EXECUTE FUNCTION charter_private.copy_bundle_positions_to_devices();

-- A compact JWE is ciphertext in base64url: compressing it gains nothing and costs a pglz attempt per row.
ALTER TABLE device_bundles ALTER COLUMN compact SET STORAGE EXTERNAL;

-- 2. A baseline edit decides a change of the global settings without reading any device when the change reaches
-- every policy a device can have, or none (docs/architecture.md, "Real time", step 1): it then needs only each
-- tenant's number of devices that are not revoked (DeviceRepository.managedCount, for many tenants), counted as
-- the other batch functions of migration 0025 read: each tenant selected in turn, so row-level security
-- confines the count to it.
CREATE FUNCTION charter_private.batch_managed_device_counts(tenants uuid[])
    RETURNS TABLE (tenant_id uuid, devices bigint)
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
                SELECT t, count(*) FROM public.devices d WHERE d.tenant_id = t AND d.revoked_at IS NULL;
        END LOOP;
        PERFORM set_config('charter.tenant_id', '', true);
    END
    $$;

REVOKE ALL ON FUNCTION charter_private.batch_managed_device_counts(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_private.batch_managed_device_counts(uuid[]) TO charter_app;
