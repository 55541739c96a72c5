-- Server mode, migration 7: the daily claim cap counts the claimer's local day, and tags
-- are checked once per statement instead of once per row (bulk imports).
-- Run as the database owner, in one transaction, after migration 5 (and 6).

-- ───────────────────────── local days ─────────────────────────

-- The zone a team's days follow (app::settings::zone_for): the team's `timezone:team:<id>`
-- setting, else the database's `timezone`, else UTC. Only IANA-style names: PostgreSQL
-- would also read POSIX strings such as 'UTC+8' (with the opposite sign), which the
-- client does not accept. An unknown name falls back to UTC in day_start.
CREATE FUNCTION pool_private.team_zone(p_team bigint) RETURNS text LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN z ~ '^[A-Za-z][A-Za-z0-9_]*(/[A-Za-z0-9_+-]+)*$' THEN z ELSE 'UTC' END
      FROM (SELECT coalesce(
                (SELECT value FROM public.settings WHERE key = 'timezone:team:' || p_team),
                (SELECT value FROM public.settings WHERE key = 'timezone'),
                'UTC') AS z) s
$$;

-- domain::rules::day_start in the team's zone: the unix time the local day holding
-- p_now began. Computed with the zone named explicitly, so the client-settable session
-- TimeZone never matters.
CREATE FUNCTION pool_private.day_start(p_team bigint, p_now bigint) RETURNS bigint
LANGUAGE plpgsql STABLE
AS $$
DECLARE z text := pool_private.team_zone(p_team);
BEGIN
    BEGIN
        RETURN extract(epoch FROM date_trunc('day', to_timestamp(p_now) AT TIME ZONE z) AT TIME ZONE z)::bigint;
    EXCEPTION WHEN invalid_parameter_value THEN
        -- A name PostgreSQL does not know: UTC days rather than no claims at all.
        RETURN p_now - (p_now % 86400 + 86400) % 86400;
    END;
END $$;
REVOKE ALL ON FUNCTION pool_private.team_zone(bigint), pool_private.day_start(bigint, bigint) FROM PUBLIC;

-- Migration 2's check, with the daily cap counted from the claimer's local midnight.
CREATE OR REPLACE FUNCTION pool_private.check_claim(a_id bigint, a_login text, a_team bigint, a_role text,
    c public.customers, p_now bigint)
RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    r public.pool_rules := pool_private.rules_of(c.pool_id);
    lost bigint;
    n bigint;
BEGIN
    IF a_role <> 'admin' AND NOT pool_private.pool_visible(c.pool_id, a_team) THEN
        RAISE EXCEPTION 'pool ''%'' is not visible to your team', (SELECT name FROM public.pools WHERE id = c.pool_id)
            USING ERRCODE = 'PT414';
    END IF;
    PERFORM pool_private.lock_user(a_id);
    IF r.fresh_hold_hours > 0 AND c.pooled_at IS NOT NULL AND p_now < c.pooled_at + r.fresh_hold_hours * 3600 THEN
        RAISE EXCEPTION 'customer % just entered the pool: only a manager can assign it until %', c.id,
            to_char(to_timestamp(c.pooled_at + r.fresh_hold_hours * 3600) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
            USING ERRCODE = 'PT413';
    END IF;
    IF r.reclaim_cooldown_days > 0 THEN
        SELECT max(at) INTO lost FROM public.ownership_events
         WHERE from_user = a_id AND customer_id = c.id AND event IN ('release', 'recycle');
        IF lost IS NOT NULL AND p_now < lost + r.reclaim_cooldown_days * 86400 THEN
            RAISE EXCEPTION 'customer % is in its re-claim cooldown until %', c.id,
                to_char(to_timestamp(lost + r.reclaim_cooldown_days * 86400) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
                USING ERRCODE = 'PT412';
        END IF;
    END IF;
    PERFORM pool_private.check_max_owned(a_id, a_login, c.pool_id, c.stage);
    IF r.daily_claims > 0 THEN
        -- domain::rules::day_start: local days in the claimer's team zone.
        SELECT count(*) INTO n FROM public.ownership_events
         WHERE to_user = a_id AND event = 'claim' AND at >= pool_private.day_start(a_team, p_now);
        IF n >= r.daily_claims THEN
            RAISE EXCEPTION 'daily claim limit reached: %/% today', n, r.daily_claims USING ERRCODE = 'PT411';
        END IF;
    END IF;
    PERFORM pool_private.check_lost_twin(a_id, c.id, c.pool_id, c.phone_key, c.email_key, p_now);
END $$;

-- ───────────────────────── tags: one check per statement ─────────────────────────

-- tags_guard's INSERT rule for every row a statement added, in one query: trusted
-- actors and pool's own nested writes pass; viewers never; every tagged customer must be
-- live (PT404) and one the actor may work on (PT403). DELETE keeps the row guard.
CREATE FUNCTION pool_private.tags_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    bad record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.trusted OR pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    IF a.role = 'viewer' THEN
        PERFORM pool_private.forbid('a viewer only reads');
    END IF;
    SELECT t.customer_id AS id, (c.id IS NULL OR c.deleted_at IS NOT NULL) AS missing INTO bad
      FROM (SELECT DISTINCT customer_id FROM added) t
      LEFT JOIN public.customers c ON c.id = t.customer_id
      LEFT JOIN public.users o ON o.id = c.owner_id
     WHERE c.id IS NULL OR c.deleted_at IS NOT NULL
        OR NOT pool_private.may_work_on(a.role, a.id, a.team_id, c.owner_id, o.team_id)
     ORDER BY 2 DESC, 1
     LIMIT 1;
    IF FOUND THEN
        IF bad.missing THEN
            RAISE EXCEPTION 'customer % not found', bad.id USING ERRCODE = 'PT404';
        END IF;
        PERFORM pool_private.forbid(format('customer %s is not yours to work on', bad.id));
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pool_private.tags_added() FROM PUBLIC;

DROP TRIGGER b_guard ON customer_tags;
CREATE TRIGGER b_guard BEFORE DELETE ON customer_tags
    FOR EACH ROW WHEN (NOT pool_private.server_op()) EXECUTE FUNCTION pool_private.tags_guard();
CREATE TRIGGER c_added AFTER INSERT ON customer_tags REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT WHEN (NOT pool_private.server_op()) EXECUTE FUNCTION pool_private.tags_added();

UPDATE settings SET value = '7' WHERE key = 'schema_version';
