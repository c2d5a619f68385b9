-- Directory sync: the objects and member edges of a connection lose their row-level foreign keys, as the
-- closure rows did in 0005. See docs/directory-sync.md.
--
-- A full sync of the benchmark directory inserts 12,700 objects and 32,500 member edges, a page at a
-- time while the DC sends the next. Checking each row's foreign key (objects → connection, member edge
-- → its group's object) cost more than the inserts themselves: 32,500 edges took 1.3–3.0 s with the
-- check and 0.4–0.5 s without, the objects 0.5–1.4 s and 0.5–0.6 s (same rows, one statement each,
-- load 18 on 2 shared cores). The sync engine takes the connection row FOR KEY SHARE once per run and
-- inserts a page's objects before their member edges, which is what the per-row checks guaranteed;
-- statement triggers keep ON DELETE CASCADE.

ALTER TABLE directory_members DROP CONSTRAINT directory_members_tenant_id_connection_id_group_guid_fkey;
ALTER TABLE directory_objects DROP CONSTRAINT directory_objects_tenant_id_connection_id_fkey;

-- A deleted object takes its edges as a group (its `member` list) with it.
CREATE FUNCTION charter_private.delete_directory_members_of_objects()
    RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
    BEGIN
        DELETE FROM directory_members m
        USING gone
        WHERE m.tenant_id = gone.tenant_id AND m.connection_id = gone.connection_id AND m.group_guid = gone.guid;
        RETURN NULL;
    END
    $$;

CREATE TRIGGER directory_objects_delete_members
    AFTER DELETE ON directory_objects
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT
    EXECUTE FUNCTION charter_private.delete_directory_members_of_objects();

-- A deleted connection takes its closure rows (0005), member edges and objects with it. The edges go
-- first, so the trigger above finds none left when the objects go.
CREATE OR REPLACE FUNCTION charter_private.delete_directory_memberships_of_connections()
    RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
    BEGIN
        DELETE FROM directory_memberships m
        USING gone
        WHERE m.tenant_id = gone.tenant_id AND m.connection_id = gone.id;
        DELETE FROM directory_members m
        USING gone
        WHERE m.tenant_id = gone.tenant_id AND m.connection_id = gone.id;
        DELETE FROM directory_objects o
        USING gone
        WHERE o.tenant_id = gone.tenant_id AND o.connection_id = gone.id;
        RETURN NULL;
    END
    $$;
