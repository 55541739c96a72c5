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
--    up (setting `key_lookups_per_day`, default 100,000: a few big expo files), counted
--    per user and local day in an owner-only table; past it the lookup is refused
--    (PT409, exit 5). Both functions count.

-- One row per lookup call (an insert, never an update: reads run in REPEATABLE READ,
-- where two racing updates of one counter row would fail with 40001).
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

-- Counts p_n lookups for the actor (admins and the owner are not counted) in their
-- local day; refuses past the quota. Racing sessions each see the others' committed
-- calls, so the quota can be passed only by what is in flight at once.
CREATE FUNCTION pool_private.count_key_lookups(p_trusted boolean, p_role text, p_user bigint, p_team bigint, p_n bigint)
RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    quota bigint := coalesce((SELECT value FROM settings WHERE key = 'key_lookups_per_day' AND value ~ '^[0-9]{1,12}$')::bigint, 100000);
    today bigint;
    used bigint;
BEGIN
    IF p_trusted OR p_role = 'admin' OR p_n <= 0 THEN
        RETURN;
    END IF;
    today := pool_private.day_start(p_team, pool_private.clock());
    used := p_n + coalesce((SELECT sum(k.n) FROM pool_private.key_lookups k WHERE k.user_id = p_user AND k.day = today), 0);
    IF used > quota THEN
        RAISE EXCEPTION 'whole phone/e-mail lookups: %/% today (the daily quota, setting key_lookups_per_day; an admin can raise it)', used, quota
            USING ERRCODE = 'PT409';
    END IF;
    INSERT INTO pool_private.key_lookups (user_id, day, n) VALUES (p_user, today, p_n);
    -- Yesterday's rows go, where no racing reader can make that fail.
    IF current_setting('transaction_isolation') = 'read committed' THEN
        DELETE FROM pool_private.key_lookups k WHERE k.user_id = p_user AND k.day < today;
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

UPDATE settings SET value = '20' WHERE key = 'schema_version';
