-- Server mode, migration 32: deactivating a user ends the sessions their role has open in
-- this database. Run as the database owner, in one transaction, after the earlier
-- migrations.
--
-- `pool user deactivate` revokes the role's group and CONNECT and makes it NOLOGIN. A
-- session already open kept running: each statement on pool's tables is refused for want
-- of privileges, but what PUBLIC may do stayed possible, and a session pooler (PgBouncer,
-- README "Many short commands") kept the role's server sessions warm for its next client.
-- Three sweeps now end them, each limited to this database (the role may be used by
-- other databases of the cluster, whose sessions are not pool's to end):
-- * deactivate_user, before it locks the user's row: a session of that role holding the
--   row (an open transaction after a claim locks it) is ended, so a rep cannot put off
--   their own deactivation by keeping a transaction open;
-- * a deferred trigger on users (any path that sets active false), at commit;
-- * `pool user deactivate` once more after the commit (end_sessions_of), for a session
--   that logged in while the deactivation was committing: until the commit is visible a
--   new login still sees LOGIN and CONNECT.
--
-- Ending another role's backends needs pg_signal_backend (it never reaches a superuser's
-- backends, and it covers the whole cluster: pool's own functions use it for their
-- users' sessions in this database only). The owner made by `pool init --server` has
-- CREATEROLE, which on PostgreSQL 15 may grant it; where it may not (16 and later), a
-- superuser runs GRANT pg_signal_backend TO <owner>; until then deactivation works as
-- before and `pool doctor` says the sessions are not ended.
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'pg_signal_backend', 'USAGE') THEN
        EXECUTE format('GRANT pg_signal_backend TO %I', current_user);
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pool: % may not be granted pg_signal_backend: deactivating a user will not end their open sessions until a superuser runs GRANT pg_signal_backend TO %', current_user, current_user;
END $$;

-- Ends the sessions of `p_login` in this database (not the caller's own); how many.
CREATE FUNCTION pool_private.terminate_sessions(p_login text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE n integer := 0;
BEGIN
    IF pg_has_role(current_user, 'pg_signal_backend', 'USAGE') THEN
        SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid)) INTO n
          FROM pg_stat_activity a
         WHERE a.usename = p_login AND a.datname = current_database()
           AND a.pid <> pg_backend_pid();
    END IF;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION pool_private.terminate_sessions(text) FROM PUBLIC;

CREATE FUNCTION pool_private.end_sessions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
BEGIN
    PERFORM pool_private.terminate_sessions(NEW.login);
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pool_private.end_sessions() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER zz_end_sessions AFTER UPDATE OF active ON users
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.active AND NOT NEW.active)
    EXECUTE FUNCTION pool_private.end_sessions();

-- The sweep after the commit: an admin ends the sessions of a user who is deactivated.
CREATE FUNCTION pool_private.end_sessions_of(p_login text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.role <> 'admin' THEN
        PERFORM pool_private.forbid('only an admin ends a user''s sessions');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM users WHERE login = p_login AND NOT active) THEN
        RAISE EXCEPTION 'user ''%'' is not a deactivated pool user', p_login USING ERRCODE = 'PT409';
    END IF;
    RETURN pool_private.terminate_sessions(p_login);
END $$;
REVOKE ALL ON FUNCTION pool_private.end_sessions_of(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.end_sessions_of(text) TO pool_admin;

-- deactivate_user (migration 16) runs unchanged as deactivate_user_locked, owner only,
-- once this wrapper holds the user's row.
ALTER FUNCTION pool_private.deactivate_user(text, text) RENAME TO deactivate_user_locked;
REVOKE ALL ON FUNCTION pool_private.deactivate_user_locked(text, text) FROM PUBLIC, pool_admin;

CREATE FUNCTION pool_private.deactivate_user(p_login text, p_heir text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    tries integer := 0;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.role <> 'admin' THEN
        PERFORM pool_private.forbid('only an admin deactivates users');
    END IF;
    -- Take the user's row without waiting; while a session of theirs holds it, end their
    -- sessions and try again (for about a second, then wait as before).
    LOOP
        BEGIN
            PERFORM 1 FROM users WHERE login = p_login FOR UPDATE NOWAIT;
            EXIT;
        EXCEPTION WHEN lock_not_available THEN
            tries := tries + 1;
            EXIT WHEN tries > 50;
            IF p_login <> a.login THEN
                PERFORM pool_private.terminate_sessions(p_login);
            END IF;
            PERFORM pg_sleep(0.02);
        END;
    END LOOP;
    RETURN pool_private.deactivate_user_locked(p_login, p_heir);
END $$;
REVOKE ALL ON FUNCTION pool_private.deactivate_user(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.deactivate_user(text, text) TO pool_admin;

UPDATE settings SET value = '32' WHERE key = 'schema_version';
