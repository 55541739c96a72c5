-- pool on PostgreSQL, migration 3: say "pool not visible" instead of "not found".
--
-- Row level security hides a pooled customer in a pool the reader's team does not see,
-- so a client could only report "customer N not found" (exit 3) where SQLite reports
-- "pool 'P' is not visible to team 'T'" (exit 5). This function tells the client which
-- pool hides a live pooled customer (the pool's name only, as SQLite's message does;
-- nothing of the customer), and NULL for everything else. Definer code: the actor is
-- found by session_user (pool_private.actor), as in migration 2.
CREATE FUNCTION pool_private.hidden_pool(p_id bigint) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
    SELECT p.name FROM customers c JOIN pools p ON p.id = c.pool_id, pool_private.actor() a
     WHERE c.id = p_id AND c.deleted_at IS NULL AND c.owner_id IS NULL
       AND NOT a.trusted AND a.role <> 'admin'
       AND NOT pool_private.pool_visible(c.pool_id, a.team_id)
$$;
REVOKE ALL ON FUNCTION pool_private.hidden_pool(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.hidden_pool(bigint) TO pool_admin, pool_manager, pool_member, pool_viewer;

UPDATE settings SET value = '3' WHERE key = 'schema_version';
