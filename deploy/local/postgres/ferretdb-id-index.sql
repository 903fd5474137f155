-- FerretDB 1.24 on PostgreSQL pushes an `_id` equality down as
-- `_jsonb->'_id' @> value`, which its own btree index on `_jsonb->'_id'` cannot
-- serve: every lookup, update and replace by `_id` scans the whole table
-- (measured: 1,000 replaces/s on an empty collection, 160/s at 20,000 documents).
-- A GIN index on the same expression serves `@>` (finds by `_id` at 20,000
-- documents: 326/s -> 1,610/s). This event trigger adds one to every table
-- FerretDB creates; the block below adds it to tables that already exist.
-- Idempotent: `stack.sh up` applies it on every start.

CREATE OR REPLACE FUNCTION chorus_gin_index_on_id(target regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_attribute
             WHERE attrelid = target AND attname = '_jsonb' AND NOT attisdropped)
     AND NOT EXISTS (SELECT 1 FROM pg_indexes i JOIN pg_class c ON c.relname = i.tablename
                     JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = i.schemaname
                     WHERE c.oid = target AND i.indexdef LIKE '%USING gin%_id%') THEN
    EXECUTE format('CREATE INDEX ON %s USING gin ((_jsonb -> %L))', target, '_id');
  END IF;
END $$;

CREATE OR REPLACE FUNCTION chorus_index_new_ferretdb_tables() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE created record;
BEGIN
  FOR created IN SELECT objid FROM pg_event_trigger_ddl_commands()
                 WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
    PERFORM chorus_gin_index_on_id(created.objid::regclass);
  END LOOP;
END $$;

DROP EVENT TRIGGER IF EXISTS chorus_index_new_ferretdb_tables;
CREATE EVENT TRIGGER chorus_index_new_ferretdb_tables ON ddl_command_end
  WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION chorus_index_new_ferretdb_tables();

SELECT count(chorus_gin_index_on_id(format('%I.%I', schemaname, tablename)::regclass))
FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema');
