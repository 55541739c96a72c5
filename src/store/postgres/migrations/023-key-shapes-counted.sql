-- Whole phone lookups counted per masked shape too (the residual of migrations 20–21).
--
-- A pooled customer's phone shows as 138****8000: 7 of 11 digits. Trying the 10,000
-- numbers that fit is about 5,000 lookups on average, so the daily quota alone
-- (`key_lookups_per_day`, default 20,000) let a member unmask about two customers a
-- day. Legitimate lookups (an import's phones, `pool add`, `--search`) are spread over
-- many shapes; an enumeration piles onto one. So each user also has 64 counters, one per
-- bucket of shapes (a shape is the key without the 4 digits an 11-digit mobile's mask
-- hides: the country code and first 3 digits, and the last 4), and a bucket may take at
-- most quota/64 + 4·sqrt(quota/64) + 10 phone lookups a day (default 384: a day's quota
-- spread evenly stays below it with a wide margin). One shape is then worth at most that
-- many guesses a day: at the default about 13 days per customer instead of half a day.
-- Like the daily count, the bucket counts are sequences (they do not roll back), made
-- with the user; a written phone key counts as its lookup did (migration 21), and a key
-- asked earlier in the same transaction is not counted again.

-- A user's counters: migration 20's two, and the 64 shape buckets.
CREATE OR REPLACE FUNCTION pool_private.key_lookup_counters(p_user bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
BEGIN
    EXECUTE format('CREATE SEQUENCE IF NOT EXISTS pool_private.%I MINVALUE 0 START 0', 'key_lookups_' || p_user);
    EXECUTE format('CREATE SEQUENCE IF NOT EXISTS pool_private.%I MINVALUE 0 START 0', 'key_lookups_day_' || p_user);
    FOR b IN 0..63 LOOP
        EXECUTE format('CREATE SEQUENCE IF NOT EXISTS pool_private.%I MINVALUE 0 START 0', 'key_shapes_' || p_user || '_' || b);
    END LOOP;
END $$;
SELECT pool_private.key_lookup_counters(id) FROM users;

-- The bucket of a phone key's masked shape.
CREATE FUNCTION pool_private.shape_bucket(p_key text) RETURNS int
LANGUAGE sql IMMUTABLE
AS $$ SELECT hashtext(left(p_key, length(p_key) - 8) || '|' || right(p_key, 4)) & 63 $$;
REVOKE ALL ON FUNCTION pool_private.shape_bucket(text) FROM PUBLIC;

-- Counts phone keys per shape bucket for the actor (admins and the owner are not
-- counted); refuses past the bucket's daily limit. A counter holds its local day
-- number × 2^32 + that day's lookups.
CREATE FUNCTION pool_private.count_key_shapes(p_trusted boolean, p_role text, p_user bigint, p_team bigint, p_phone_keys text[])
RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    quota bigint := coalesce((SELECT value FROM settings WHERE key = 'key_lookups_per_day' AND value ~ '^[0-9]{1,12}$')::bigint, 20000);
    per_shape bigint;
    day_no bigint;
    r record;
    seq text;
    v bigint;
BEGIN
    IF p_trusted OR p_role = 'admin' OR coalesce(cardinality(p_phone_keys), 0) = 0 THEN
        RETURN;
    END IF;
    per_shape := ceil(quota / 64.0 + 4 * sqrt(quota / 64.0))::bigint + 10;
    day_no := floor(pool_private.day_start(p_team, pool_private.clock()) / 86400.0)::bigint;
    FOR r IN SELECT pool_private.shape_bucket(k) AS b, count(*) AS n
               FROM unnest(p_phone_keys) k WHERE k IS NOT NULL AND k <> '' GROUP BY 1 LOOP
        seq := format('pool_private.%I', 'key_shapes_' || p_user || '_' || r.b);
        IF to_regclass(seq) IS NULL THEN
            RAISE EXCEPTION 'pool: no lookup counter for user %', p_user USING ERRCODE = 'PT409';
        END IF;
        SELECT max(x) INTO v FROM (SELECT nextval(seq::regclass) AS x FROM generate_series(1, r.n)) s;
        IF (v >> 32) <> day_no THEN
            -- a new day: this bucket starts again (setval does not roll back either)
            v := (day_no << 32) + r.n;
            PERFORM setval(seq::regclass, v, true);
        END IF;
        IF (v & 4294967295) > per_shape THEN
            RAISE EXCEPTION 'whole phone lookups: % today of numbers shaped like one masked number (at most % a day, from key_lookups_per_day): trying the hidden digits of a masked phone is refused', v & 4294967295, per_shape
                USING ERRCODE = 'PT409';
        END IF;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION pool_private.count_key_shapes(boolean, text, bigint, bigint, text[]) FROM PUBLIC;

-- Migration 21's three counting paths, now also counting phone keys per shape.
CREATE OR REPLACE FUNCTION pool_private.ask_keys(a_trusted boolean, a_role text, a_user bigint, a_team bigint, p_keys text[])
RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM pool_private.count_key_lookups(a_trusted, a_role, a_user, a_team, cardinality(p_keys));
    IF a_trusted OR a_role = 'admin' OR cardinality(p_keys) = 0 THEN
        RETURN;
    END IF;
    PERFORM pool_private.count_key_shapes(a_trusted, a_role, a_user, a_team,
        ARRAY(SELECT substr(x, 2) FROM unnest(p_keys) x WHERE x LIKE 'p%'));
    DELETE FROM pool_private.keys_asked q
     WHERE q.ctid = ANY (ARRAY(SELECT o.ctid FROM pool_private.keys_asked o
                                WHERE o.user_id = a_user AND o.tx < txid_snapshot_xmin(txid_current_snapshot())
                                FOR UPDATE SKIP LOCKED));
    INSERT INTO pool_private.keys_asked (tx, k, user_id)
    SELECT txid_current(), x, a_user FROM unnest(p_keys) x
        ON CONFLICT DO NOTHING;
END $$;

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
    -- one lookup (as in migration 20), remembered for both keys it answers for
    PERFORM pool_private.count_key_lookups(a.trusted, a.role, a.id, a.team_id, 1);
    IF NOT (a.trusted OR a.role = 'admin') THEN
        PERFORM pool_private.count_key_shapes(a.trusted, a.role, a.id, a.team_id, ARRAY[pk]);
        INSERT INTO pool_private.keys_asked (tx, k, user_id)
        SELECT txid_current(), x, a.id FROM unnest(ARRAY['p' || pk, 'e' || ek]) x WHERE x IS NOT NULL
            ON CONFLICT DO NOTHING;
    END IF;
    RETURN QUERY
    SELECT c.id FROM customers c
     WHERE c.deleted_at IS NULL
       AND (c.phone_key = pk OR c.email_key = ek
            OR c.id IN (SELECT k.customer_id FROM contacts k WHERE k.phone_key = pk OR k.email_key = ek))
       AND (a.trusted OR a.role = 'admin' OR c.owner_id IS NOT NULL
            OR pool_private.pool_visible(c.pool_id, a.team_id));
END $$;

CREATE OR REPLACE FUNCTION pool_private.count_written_keys(p_keys text[])
RETURNS void LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    a record;
    fresh text[];
BEGIN
    SELECT * INTO a FROM pool_private.actor();
    IF a.trusted OR a.role = 'admin' THEN
        RETURN;
    END IF;
    fresh := ARRAY(SELECT DISTINCT x FROM unnest(p_keys) x
                    WHERE x IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM pool_private.keys_asked q WHERE q.tx = txid_current() AND q.k = x));
    PERFORM pool_private.count_key_lookups(a.trusted, a.role, a.id, a.team_id, cardinality(fresh));
    PERFORM pool_private.count_key_shapes(a.trusted, a.role, a.id, a.team_id,
        ARRAY(SELECT substr(x, 2) FROM unnest(fresh) x WHERE x LIKE 'p%'));
END $$;

UPDATE settings SET value = '23' WHERE key = 'schema_version';
