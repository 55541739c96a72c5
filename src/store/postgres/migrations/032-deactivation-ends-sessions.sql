-- Server mode, migration 32: deactivating a user ends the sessions their role has open.
-- Run as the database owner, in one transaction, after the earlier migrations.
--
-- `pool user deactivate` revokes the role's group and CONNECT and makes it NOLOGIN. A
-- session already open kept running: each statement is refused for want of privileges,
-- but what PUBLIC may do stayed possible, and a session pooler (PgBouncer, README "Many
-- short commands") kept the role's server sessions warm for its next client. Now the
-- server terminates every backend of that role when the deactivation commits (a deferred
-- trigger on users, any path that sets active = false). A pooler then sees its server
-- sessions closed and must log in again, which the server refuses.
--
-- Terminating another role's backend needs pg_signal_backend (it never reaches a
-- superuser's backends). The owner made by `pool init --server` has CREATEROLE, which on
-- PostgreSQL 15 may grant it that role; where it may not (16 and later), a superuser runs
-- GRANT pg_signal_backend TO <owner>; until then deactivation works as before and
-- `pool doctor` says the sessions are not ended.
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'pg_signal_backend', 'USAGE') THEN
        EXECUTE format('GRANT pg_signal_backend TO %I', current_user);
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pool: % may not be granted pg_signal_backend: deactivating a user will not end their open sessions until a superuser runs GRANT pg_signal_backend TO %', current_user, current_user;
END $$;

CREATE FUNCTION pool_private.end_sessions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_has_role(current_user, 'pg_signal_backend', 'USAGE') THEN
        PERFORM pg_terminate_backend(a.pid)
           FROM pg_stat_activity a
          WHERE a.usename = NEW.login AND a.pid <> pg_backend_pid();
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pool_private.end_sessions() FROM PUBLIC;

-- Deferred to the commit: by then the role is NOLOGIN and without CONNECT, so a client
-- that reconnects at once is refused instead of getting a new session before the change.
CREATE CONSTRAINT TRIGGER zz_end_sessions AFTER UPDATE OF active ON users
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.active AND NOT NEW.active)
    EXECUTE FUNCTION pool_private.end_sessions();

UPDATE settings SET value = '32' WHERE key = 'schema_version';
