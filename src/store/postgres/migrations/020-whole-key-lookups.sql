-- Whole-key lookups: batched for imports, and counted.
--
-- 1. A member's import (and `pool add`'s duplicate warning) read the database through
--    customers_v, where a masked row's phone and e-mail keys are NULL and other teams'
--    customers are absent: a row with the same phone as a pooled customer or another
--    team's was imported as a new lead, where SQLite skips it and names the customer.
--    `whole_key_matches` answers for a batch of keys what `whole_key_match` (migration 11)
--    answers for one: which customers hold exactly these keys (ids, and the keys asked
--    for that matched — nothing the caller did not send).
-- 2. Equality is still an oracle: one statement over generate_series could try every
--    mobile number and unmask the pool. So non-admins get a daily quota of keys looked
--    up (setting `key_lookups_per_day`, default 20,000: a day of expo leads); past it
--    the lookup is refused (PT409, exit 5). Both functions count.
--    The count must survive ROLLBACK (a caller who reads the answer and rolls back must
--    not get the lookup for free), so it lives in sequences, which do not roll back:
--    per user, `key_lookups_N` (today's lookups) and `key_lookups_day_N` (the local day
--    it counts, as a day number). A table row per call (transactional, best effort)
--    keeps the history `pool report access` shows for earlier days.

CREATE TABLE pool_private.key_lookups (
    user_id  bigint NOT NULL,
    day      bigint NOT NULL,
    n        bigint NOT NULL
);
CREATE INDEX key_lookups_user_day ON pool_private.key_lookups (user_id, day);
REVOKE ALL ON pool_private.key_lookups FROM PUBLIC;
ALTER TABLE pool_private.key_lookups ENABLE ROW LEVEL SECURITY;
ALTER TABLE pool_private.key_lookups FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON pool_private.key_lookups USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner());

-- A user's two counters, made with the user (and here for those there are).
CREATE FUNCTION pool_private.key_lookup_counters(p_user bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
BEGIN
    EXECUTE format('CREATE SEQUENCE IF NOT EXISTS pool_private.%I MINVALUE 0 START 0', 'key_lookups_' || p_user);
    EXECUTE format('CREATE SEQUENCE IF NOT EXISTS pool_private.%I MINVALUE 0 START 0', 'key_lookups_day_' || p_user);
END $$;
REVOKE ALL ON FUNCTION pool_private.key_lookup_counters(bigint) FROM PUBLIC;
CREATE FUNCTION pool_private.user_counters() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
BEGIN
    PERFORM pool_private.key_lookup_counters(NEW.id);
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pool_private.user_counters() FROM PUBLIC;
CREATE TRIGGER key_lookup_counters AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION pool_private.user_counters();
SELECT pool_private.key_lookup_counters(id) FROM users;

-- Today's count of a user's lookups (0 when the counter holds another day's).
CREATE FUNCTION pool_private.key_lookups_today(p_user bigint, p_day bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    mark bigint;
    n bigint;
BEGIN
    IF to_regclass(format('pool_private.%I', 'key_lookups_' || p_user)) IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM pool_private.%I', 'key_lookups_day_' || p_user) INTO mark;
    IF mark <> p_day THEN
        RETURN 0;
    END IF;
    EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM pool_private.%I', 'key_lookups_' || p_user) INTO n;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION pool_private.key_lookups_today(bigint, bigint) FROM PUBLIC;

-- Counts p_n lookups for the actor (admins and the owner are not counted) in their
-- local day, before answering; refuses past the quota. Counted lookups stay counted
-- whatever becomes of the transaction; two sessions racing at midnight may lose one
-- call's count in the reset.
CREATE FUNCTION pool_private.count_key_lookups(p_trusted boolean, p_role text, p_user bigint, p_team bigint, p_n bigint)
RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    quota bigint := coalesce((SELECT value FROM settings WHERE key = 'key_lookups_per_day' AND value ~ '^[0-9]{1,12}$')::bigint, 20000);
    today bigint;
    day_no bigint;
    counter text := format('pool_private.%I', 'key_lookups_' || p_user);
    day_counter text := format('pool_private.%I', 'key_lookups_day_' || p_user);
    used bigint;
BEGIN
    IF p_trusted OR p_role = 'admin' OR p_n <= 0 THEN
        RETURN;
    END IF;
    today := pool_private.day_start(p_team, pool_private.clock());
    day_no := floor(today / 86400.0)::bigint;
    IF to_regclass(counter) IS NULL THEN
        RAISE EXCEPTION 'pool: no lookup counter for user %', p_user USING ERRCODE = 'PT409';
    END IF;
    IF pool_private.key_lookups_today(p_user, day_no) = 0 THEN
        -- a new day: the counter starts again (setval does not roll back either)
        PERFORM setval(day_counter::regclass, day_no, true);
        PERFORM setval(counter::regclass, 0, true);
    END IF;
    used := pool_private.key_lookups_today(p_user, day_no) + p_n;
    IF used > quota THEN
        RAISE EXCEPTION 'whole phone/e-mail lookups: %/% today (the daily quota, setting key_lookups_per_day; an admin can raise it)', used, quota
            USING ERRCODE = 'PT409';
    END IF;
    -- one nextval per key: exact under racing sessions
    PERFORM nextval(counter::regclass) FROM generate_series(1, p_n);
    used := pool_private.key_lookups_today(p_user, day_no);
    IF used > quota THEN
        RAISE EXCEPTION 'whole phone/e-mail lookups: %/% today (the daily quota, setting key_lookups_per_day; an admin can raise it)', used, quota
            USING ERRCODE = 'PT409';
    END IF;
    INSERT INTO pool_private.key_lookups (user_id, day, n) VALUES (p_user, today, p_n);
    -- History older than `pool report access` reads goes, where no racing reader can
    -- make that fail.
    IF current_setting('transaction_isolation') = 'read committed' THEN
        DELETE FROM pool_private.key_lookups k WHERE k.user_id = p_user AND k.day < today - 400 * 86400;
    END IF;
END $$;
REVOKE ALL ON FUNCTION pool_private.count_key_lookups(boolean, text, bigint, bigint, bigint) FROM PUBLIC;

CREATE FUNCTION pool_private.whole_key_matches(p_phones text[], p_emails text[])
RETURNS TABLE (id bigint, phone_key text, email_key text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    phones text[] := ARRAY(SELECT DISTINCT x FROM unnest(p_phones) x WHERE x <> '');
    emails text[] := ARRAY(SELECT DISTINCT x FROM unnest(p_emails) x WHERE x <> '');
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    PERFORM pool_private.count_key_lookups(a.trusted, a.role, a.id, a.team_id, cardinality(phones) + cardinality(emails));
    RETURN QUERY
    SELECT c.id,
           CASE WHEN c.phone_key = ANY (phones) THEN c.phone_key END,
           CASE WHEN c.email_key = ANY (emails) THEN c.email_key END
      FROM customers c
     WHERE c.deleted_at IS NULL
       AND (c.phone_key = ANY (phones) OR c.email_key = ANY (emails))
       AND (a.trusted OR a.role = 'admin' OR c.owner_id IS NOT NULL
            OR pool_private.pool_visible(c.pool_id, a.team_id));
END $$;

-- Migration 11's single lookup (`pool list --search` with a whole number), now counted.
CREATE OR REPLACE FUNCTION pool_private.whole_key_match(p_phone_key text, p_email_key text)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    pk text := nullif(p_phone_key, '');
    ek text := nullif(p_email_key, '');
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF pk IS NULL AND ek IS NULL THEN
        RETURN;
    END IF;
    PERFORM pool_private.count_key_lookups(a.trusted, a.role, a.id, a.team_id, 1);
    RETURN QUERY
    SELECT c.id FROM customers c
     WHERE c.deleted_at IS NULL
       AND (c.phone_key = pk OR c.email_key = ek
            OR c.id IN (SELECT k.customer_id FROM contacts k WHERE k.phone_key = pk OR k.email_key = ek))
       AND (a.trusted OR a.role = 'admin' OR c.owner_id IS NOT NULL
            OR pool_private.pool_visible(c.pool_id, a.team_id));
END $$;

REVOKE ALL ON FUNCTION pool_private.whole_key_matches(text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.whole_key_matches(text[], text[])
    TO pool_admin, pool_manager, pool_member, pool_viewer;

-- `pool report access`: each user's lookups in [p_from, p_to) and in the 30 days before
-- p_from (days are local midnights). Admins see everyone, managers their team.
CREATE FUNCTION pool_private.key_lookup_counts(p_from bigint, p_to bigint)
RETURNS TABLE (login text, lookups bigint, before bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF NOT (a.trusted OR a.role IN ('admin', 'manager')) THEN
        RAISE EXCEPTION 'permission denied: the access report is for admins and managers' USING ERRCODE = 'PT403';
    END IF;
    -- Earlier days from the history rows; today from the counter, which also holds
    -- lookups whose transaction was rolled back.
    RETURN QUERY
    SELECT u.login,
           (coalesce(sum(k.n) FILTER (WHERE k.day > p_from - 86400 AND k.day < d.today), 0)
            + pool_private.key_lookups_today(u.id, floor(d.today / 86400.0)::bigint))::bigint,
           coalesce(sum(k.n) FILTER (WHERE k.day <= p_from - 86400), 0)::bigint
      FROM users u
      CROSS JOIN LATERAL (SELECT pool_private.day_start(u.team_id, pool_private.clock()) AS today) d
      LEFT JOIN pool_private.key_lookups k
             ON k.user_id = u.id AND k.day >= p_from - 31 * 86400 AND k.day < p_to
     WHERE (a.trusted OR a.role = 'admin' OR u.team_id = a.team_id)
     GROUP BY u.login, u.id, d.today
    HAVING coalesce(sum(k.n), 0) > 0 OR pool_private.key_lookups_today(u.id, floor(d.today / 86400.0)::bigint) > 0;
END $$;
REVOKE ALL ON FUNCTION pool_private.key_lookup_counts(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.key_lookup_counts(bigint, bigint) TO pool_admin, pool_manager;

UPDATE settings SET value = '20' WHERE key = 'schema_version';
